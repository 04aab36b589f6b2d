// A study carried to another machine: a quick run exported as if cut off mid-training, imported into
// a fresh store with its own home (no checkpoints) and queues, and resumed there to completion.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tracking from '../../src/tracking/index.ts';
import { exportExperiment } from '../../src/tracking/transfer.ts';
import { type Cli, platformCli } from '../helpers/platform.ts';

describe('export, import on another store, resume', { timeout: 900_000 }, () => {
  let a: Cli | undefined;
  let b: Cli | undefined;
  beforeAll(async () => {
    a = await platformCli();
    b = await platformCli();
    await a.startWorker();
    await b.startWorker();
  });
  afterAll(async () => {
    await a?.cleanup();
    await b?.cleanup();
  });

  it('resumes an imported unfinished run from its first step and completes it in the new store', async () => {
    const r = await a!.run(['run', 'quick', '--set', 'dataset.maxTestImages=1']);
    expect(r.code, r.stderr).toBe(0);
    const expId = /^experiment (\S+)$/m.exec(r.stdout)?.[1] ?? '';
    const runId = /^run (\S+)$/m.exec(r.stdout)?.[1] ?? '';
    expect(expId && runId, r.stdout).toBeTruthy();
    const first = (await tracking.getRun(a!.storage.db, runId))!;
    expect(first.mlflowRunId).toBeTruthy();

    // As if the export had been taken mid-training: running, no net trained or timed yet (the
    // columns' defaults, both not null), no epoch metrics, nothing scored.
    const doc = await exportExperiment(a!.storage.db, expId);
    const bundle = doc.runs[0]!;
    const cut = {
      ...doc,
      experiment: { ...doc.experiment, status: 'running' },
      runs: [
        {
          ...bundle,
          run: { ...bundle.run, status: 'running', finishedAt: null, trained: {}, timings: {} },
          metrics: [],
          imageResults: [],
        },
      ],
    };
    const file = join(b!.home, 'study.json');
    writeFileSync(file, JSON.stringify(cut));

    const im = await b!.run(['import', file]);
    expect(im.code, im.stderr).toBe(0);
    expect(im.stdout).toContain(`not completed: ${runId} (nucleiflow resume ${runId})`);
    const imported = (await tracking.getRun(b!.storage.db, runId))!;
    expect(imported.status).toBe('failed');
    expect(imported.mlflowRunId).toBeNull();

    const res = await b!.run(['resume', runId]);
    expect(res.code, res.stderr).toBe(0);
    const done = (await tracking.getRun(b!.storage.db, runId))!;
    expect(done.status).toBe('completed');
    // Delivered to MLflow (here the same server as the first store's, which finds the run by its tag;
    // on another machine a new one) with nothing left pending: the experiment closed.
    expect(done.mlflowRunId).toBeTruthy();
    expect(await tracking.pendingOutbox(b!.storage.db, runId)).toBe(0);
    expect(await tracking.getImageResults(b!.storage.db, runId)).toHaveLength(1);
    expect((await tracking.getExperiment(b!.storage.db, expId))!.status).toBe('completed');
    // The new home had no checkpoints: both nets trained there again, all 12 steps.
    const checkpoints = (await tracking.getArtifacts(b!.storage.db, runId)).filter(
      (x) => x.kind === 'checkpoint',
    );
    expect(checkpoints.filter((x) => x.path.startsWith(b!.home))).toHaveLength(2);
    const timings = done.timings as Record<string, number>;
    for (const stage of ['seg', 'dist'] as const) {
      const trained = tracking.trainedOf(done)[stage];
      expect(trained?.steps, stage).toBe(12);
      // Trained in the new store from step 0, not resumed from a checkpoint epoch ...
      expect(timings[`train_${stage}_resumed_from`], stage).toBe(0);
      // ... and its epoch metrics written there again, one loss per epoch.
      const losses = (await tracking.getMetrics(b!.storage.db, runId, stage)).filter((m) => m.key === 'loss');
      expect(
        losses.map((m) => m.step),
        stage,
      ).toEqual(Array.from({ length: trained!.epochs }, (_, i) => i + 1));
    }
  });
});
