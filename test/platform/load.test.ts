// Four quick experiments launched at once on one worker: all complete, each with its own rows and
// files; and since they share spec and seed, they reproduce each other's scores.
import { describe, expect, it } from 'vitest';
import * as tracking from '../../src/tracking/index.ts';
import { usePlatformCli, waitFor } from '../helpers/platform.ts';

describe('load: 4 experiments on one worker', { timeout: 900_000 }, () => {
  const fx = usePlatformCli({ worker: true });

  it('completes all four, isolated, with identical scores for identical specs and seeds', async () => {
    const { cli } = fx;
    const launched = await Promise.all(
      [0, 1, 2, 3].map(() => cli.run(['run', 'quick', '--set', 'dataset.maxTestImages=2', '--detach'])),
    );
    const runIds = launched.map((r) => {
      expect(r.code, r.stderr).toBe(0);
      return /^run (\S+)$/m.exec(r.stdout)![1]!;
    });
    expect(new Set(runIds).size).toBe(4);
    const { db } = cli.storage;
    await waitFor(
      'all four runs to finish',
      async () => {
        const rs = await Promise.all(runIds.map((id) => tracking.getRun(db, id)));
        return rs.every((x) => x && tracking.TERMINAL.includes(x.status as tracking.RunStatus));
      },
      600_000,
    );
    const results = [];
    for (const id of runIds) {
      const run = (await tracking.getRun(db, id))!;
      expect(run.status, run.error ?? '').toBe('completed');
      const rows = await tracking.getImageResults(db, id);
      expect(rows).toHaveLength(2);
      for (const stage of ['seg', 'dist']) {
        const steps = (await tracking.getMetrics(db, id, stage))
          .filter((m) => m.key === 'loss')
          .map((m) => m.step);
        expect(steps).toEqual([1, 2, 3]);
      }
      // Files of a run live under its own folder only.
      for (const a of await tracking.getArtifacts(db, id)) expect(a.path).toContain(`/runs/${id}/`);
      results.push(rows.map((x) => [x.image, x.dice, x.f1, x.aji, x.ajiPlus, x.pq, x.nPred]));
    }
    const runs = await Promise.all(runIds.map((id) => tracking.getRun(db, id)));
    expect(new Set(runs.map((x) => x!.configHash)).size).toBe(1);
    expect(new Set(runs.map((x) => x!.dataHash)).size).toBe(1);
    // Same spec, seed, code and data: the same scores (training is deterministic on one machine).
    for (const r of results.slice(1)) expect(r).toEqual(results[0]);
  });
});
