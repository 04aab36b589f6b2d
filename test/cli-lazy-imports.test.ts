import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../src/config.ts';
import { CROSSCHECK_DIR, readCrosscheckManifest } from '../testing/crosscheck-fixtures.ts';
import { BIN } from './helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'nucleiflow-imports-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI with the import recorder preloaded; returns its exit status and the packages it loaded. */
function loaded(name: string, args: readonly string[]): { status: number | null; packages: Set<string> } {
  const log = join(dir, `${name}.log`);
  const r = spawnSync(
    process.execPath,
    ['--import', join(REPO_ROOT, 'test', 'helpers', 'import-log.mjs'), BIN, ...args],
    { encoding: 'utf8', env: { ...process.env, IMPORT_LOG: log }, timeout: 60_000 },
  );
  const packages = new Set<string>();
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(line);
    if (m) packages.add(m[1]!);
  }
  return { status: r.status, packages };
}

const HEAVY = ['@temporalio/client', '@temporalio/worker', '@tensorflow/tfjs-node'];

describe('nucleiflow imports only the named command', () => {
  it('labels and evaluate load neither Temporal nor TensorFlow; a platform command does load Temporal', () => {
    const pair = readCrosscheckManifest().pairs[0]!;
    const runs = {
      labels: loaded('labels', ['labels', '--help']),
      evaluate: loaded('evaluate', [
        'evaluate',
        '--pred',
        join(CROSSCHECK_DIR, pair.pred),
        '--gt',
        join(CROSSCHECK_DIR, pair.gt),
      ]),
      worker: loaded('worker', ['worker', '--help']),
    };
    for (const r of Object.values(runs)) expect(r.status).toBe(0);
    // The recorder sees what the commands do need, so an empty heavy list is not a blind spot.
    expect(runs.evaluate.packages).toContain('commander');
    expect(runs.worker.packages).toContain('@temporalio/client');
    for (const pkg of HEAVY) {
      expect(runs.labels.packages).not.toContain(pkg);
      expect(runs.evaluate.packages).not.toContain(pkg);
    }
  });
});
