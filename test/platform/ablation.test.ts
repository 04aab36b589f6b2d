// An ablation with two arms: one experiment, two runs that differ only in ground-truth erosion,
// run one after the other (orchestration.maxParallelRuns=1) and compared image by image.
import { describe, expect, it } from 'vitest';
import * as tracking from '../../src/tracking/index.ts';
import { runErosionAblation, usePlatformCli } from '../helpers/platform.ts';

describe('erosion ablation on quick', { timeout: 900_000 }, () => {
  const fx = usePlatformCli({ worker: true });

  it('runs two arms and compare prints per-image and averaged deltas', async () => {
    const { cli } = fx;
    const { experimentId: expId, runs } = await runErosionAblation(cli, 3, [
      '--set',
      'orchestration.maxParallelRuns=1',
    ]);
    expect(runs.map((x) => x.arm)).toEqual([
      { 'groundTruth.erosion': true },
      { 'groundTruth.erosion': false },
    ]);
    expect(runs.map((x) => x.status)).toEqual(['completed', 'completed']);
    expect(runs[0]!.configHash).not.toBe(runs[1]!.configHash);
    // One run at a time, in matrix order: the second starts after the first has finished.
    expect(runs[1]!.startedAt!.getTime()).toBeGreaterThanOrEqual(runs[0]!.finishedAt!.getTime());

    const c = await cli.run(['compare', '--experiment', expId, '--json']);
    expect(c.code, c.stderr).toBe(0);
    const cmp = JSON.parse(c.stdout);
    expect(cmp.runIds).toEqual(runs.map((r) => r.id));
    expect(cmp.differences[1]).toEqual({ 'groundTruth.erosion': ['true', 'false'] });
    expect(cmp.rows).toHaveLength(3);
    expect(cmp.dropped).toEqual([0, 0]);
    const a = await tracking.getImageResults(cli.storage.db, runs[0]!.id);
    const b = await tracking.getImageResults(cli.storage.db, runs[1]!.id);
    const all = cmp.averages.find((x: { subset: string }) => x.subset === 'all');
    expect(all.deltas[1].aji).toBeCloseTo(
      b.reduce((s, x) => s + x.aji, 0) / 3 - a.reduce((s, x) => s + x.aji, 0) / 3,
      10,
    );

    const text = await cli.run(['compare', runs[0]!.id, runs[1]!.id]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/differs in: groundTruth\.erosion true -> false/);
    for (const x of a) {
      const y = b.find((z) => z.image === x.image)!;
      const d = 100 * (y.aji - x.aji);
      expect(text.stdout).toContain(`${d >= 0 ? '+' : ''}${d.toFixed(2)}`);
    }
    expect(text.stdout).toMatch(/Average, all/);
  });
});
