// SIGKILL of the worker in the middle of training: a new worker resumes from the last checkpoint.
import { describe, expect, it } from 'vitest';
import * as tracking from '../../src/tracking/index.ts';
import {
  lastSegEpoch,
  startQuickRun,
  usePlatformCli,
  waitFor,
  waitForTerminal,
} from '../helpers/platform.ts';

describe('worker killed during training', { timeout: 900_000 }, () => {
  const fx = usePlatformCli();

  it('resumes on a new worker from the last checkpoint; epoch metrics have no gaps or duplicates', async () => {
    const { cli } = fx;
    const epochs = 10;
    const first = await cli.startWorker();
    const { runId } = await startQuickRun(cli, { epochs });
    const { db } = cli.storage;
    const killedAfter = await waitFor('two seg epochs', async () => {
      const s = await lastSegEpoch(cli, runId);
      return s >= 2 ? s : undefined;
    });
    first.kill('SIGKILL');
    expect(killedAfter).toBeLessThan(epochs);
    await cli.startWorker();
    const run = await waitForTerminal(cli, runId, 'the run to finish');
    expect(run.status, run.error ?? '').toBe('completed');
    const timings = run.timings as Record<string, number>;
    // At least one net continued from a checkpoint instead of starting over.
    expect(
      Math.max(timings.train_seg_resumed_from ?? 0, timings.train_dist_resumed_from ?? 0),
    ).toBeGreaterThanOrEqual(2);
    for (const stage of ['seg', 'dist']) {
      const steps = (await tracking.getMetrics(db, runId, stage))
        .filter((m) => m.key === 'loss')
        .map((m) => m.step);
      expect(steps).toEqual(Array.from({ length: epochs }, (_, i) => i + 1));
    }
    expect(await tracking.getImageResults(db, runId)).toHaveLength(2);
  });
});
