import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/platform.ts';

const home = mkdtempSync(join(tmpdir(), 'nf-embedded-'));
const env: NodeJS.ProcessEnv = { ...process.env, NUCLEIFLOW_HOME: home, TF_CPP_MIN_LOG_LEVEL: '3' };
delete env.DATABASE_URL;
delete env.TEMPORAL_ADDRESS;
delete env.MLFLOW_TRACKING_URI;
delete env.NUCLEIFLOW_QUEUE_PREFIX;

const cli = (args: string[]) => spawnCli(args, env).exited;

const portOpen = (port: number) =>
  new Promise<boolean>((res) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });

describe('embedded mode', { timeout: 900_000 }, () => {
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('runs quick with its own Temporal dev server, PGlite and no MLflow, and stops the server after', async () => {
    const r = await cli(['run', 'quick', '--set', 'dataset.maxTestImages=2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.match(/MLFLOW_TRACKING_URI is not set/g)).toHaveLength(1);
    const port = Number(/embedded Temporal dev server at 127\.0\.0\.1:(\d+)/.exec(r.stderr)?.[1]);
    expect(port).toBeGreaterThan(0);
    expect(await portOpen(port)).toBe(false);
    const runId = /^run (\S+)$/m.exec(r.stdout)![1]!;

    const list = await cli(['runs', '--json']);
    expect(list.code, list.stderr).toBe(0);
    const runs = JSON.parse(list.stdout);
    expect(runs.map((x: { id: string; status: string }) => [x.id, x.status])).toEqual([[runId, 'completed']]);
    expect(runs[0].means.aji).toBeGreaterThanOrEqual(0);
  });
});
