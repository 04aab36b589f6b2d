// `nucleiflow cancel` stops a run mid-training; `nucleiflow resume` continues it from its checkpoints.
import { describe, expect, it } from 'vitest';
import * as tracking from '../../src/tracking/index.ts';
import { lastSegEpoch, startQuickRun, usePlatformCli, waitFor } from '../helpers/platform.ts';

describe('cancel and resume', { timeout: 900_000 }, () => {
  const fx = usePlatformCli({ worker: true });

  it('cancels a training run, then resumes it to completion from the last checkpoint', async () => {
    const { cli } = fx;
    const epochs = 12;
    const { experimentId: expId, runId } = await startQuickRun(cli, { epochs });
    const { db } = cli.storage;
    await waitFor('two seg epochs', async () => (await lastSegEpoch(cli, runId)) >= 2);
    const c = await cli.run(['cancel', runId.slice(0, -2)]);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toContain(`${runId}: cancelled`);
    const cancelled = (await tracking.getRun(db, runId))!;
    const lastBefore = await lastSegEpoch(cli, runId);
    expect(lastBefore).toBeLessThan(epochs);
    expect(cancelled.status).toBe('cancelled');
    await waitFor(
      'the experiment to close',
      async () => (await tracking.getExperiment(db, expId))?.status === 'cancelled',
    );

    const again = await cli.run(['cancel', runId]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already cancelled/);

    const res = await cli.run(['resume', runId]);
    expect(res.code, res.stderr).toBe(0);
    const run = (await tracking.getRun(db, runId))!;
    expect(run.status).toBe('completed');
    expect((run.timings as Record<string, number>).train_seg_resumed_from).toBeGreaterThanOrEqual(2);
    for (const stage of ['seg', 'dist']) {
      const steps = (await tracking.getMetrics(db, runId, stage))
        .filter((m) => m.key === 'loss')
        .map((m) => m.step);
      expect(steps).toEqual(Array.from({ length: epochs }, (_, i) => i + 1));
    }
    expect((await tracking.getExperiment(db, expId))?.status).toBe('completed');
    const done = await cli.run(['resume', runId]);
    expect(done.code).toBe(1);
    expect(done.stderr).toMatch(/completed; nothing to resume/);
  });
});
