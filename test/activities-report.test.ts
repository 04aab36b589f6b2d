// The report activity replaces its files by rename (src/io/atomic-write.ts), so a reader that
// opened an earlier report keeps a complete file instead of watching it be truncated and rewritten.
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, runDir } from '../activities/index.ts';
import { realCompute } from '../activities/pipeline.ts';
import { loadConfig } from '../src/config.ts';
import { openStorage, type Storage } from '../src/storage/index.ts';
import * as tracking from '../src/tracking/index.ts';

describe('report activity', () => {
  const home = mkdtempSync(join(tmpdir(), 'nf-report-'));
  const config = { ...loadConfig(), home };
  let storage: Storage;
  beforeAll(async () => {
    storage = await openStorage({ home });
  });
  afterAll(async () => {
    await storage?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('replaces report.md, results.csv and run-card.json by rename, never in place', async () => {
    const runId = 'e1-r0';
    await tracking.createExperiment(storage.db, {
      id: 'e1',
      name: 'quick',
      specName: 'quick',
      spec: {},
      workflowId: 'exp-e1',
      runs: [{ id: runId, arm: {}, spec: {}, configHash: 'h', seed: 1, workflowId: 'run-e1-r0' }],
    });
    const dir = runDir(config, runId);
    mkdirSync(dir, { recursive: true });
    const names = ['report.md', 'results.csv', 'run-card.json'];
    // An earlier attempt's files, each also reachable through a second link: an in-place write
    // would show through that link, a rename leaves it on the old inode.
    for (const n of names) {
      writeFileSync(join(dir, n), 'old');
      linkSync(join(dir, n), join(dir, `${n}.old`));
    }
    const activities = createActivities({
      config,
      db: storage.db,
      mlflow: undefined,
      compute: realCompute(config),
    });
    expect(await activities.report({ runId })).toBe(join(dir, 'report.md'));
    for (const n of names) {
      expect(readFileSync(join(dir, `${n}.old`), 'utf8')).toBe('old');
      expect(statSync(join(dir, n)).ino).not.toBe(statSync(join(dir, `${n}.old`)).ino);
    }
    expect(JSON.parse(readFileSync(join(dir, 'run-card.json'), 'utf8')).run).toBe(runId);
    expect(readFileSync(join(dir, 'results.csv'), 'utf8').split('\n')[0]).toMatch(/^image,/);
    expect((await tracking.getRun(storage.db, runId))?.status).toBe('completed');
  });
});
