/**
 * The paper's ground-truth modification ablation at the shipped model's recipe (`cpu-60min-c256`,
 * step budgets): stage-1 targets eroded (as published) and not eroded, each with seeds 1 and 2.
 * Four runs that differ only in `groundTruth.erosion` and `seed`; about an hour each on 2 cores.
 * They run one at a time, seed by seed, so each finished pair (erosion on and off, one seed) is a
 * paired comparison even if the machine is taken away before the other seed has run.
 */
import base from './cpu-60min-c256.ts';
import type { SpecInput } from './schema.ts';

export default {
  ...base,
  name: 'ablation-erosion-c256',
  description: 'cpu-60min-c256 recipe, stage-1 ground-truth erosion on vs off, seeds 1 and 2',
  orchestration: { ...base.orchestration, maxParallelRuns: 1 },
  matrix: { seed: [1, 2], gtErosion: [true, false] },
} satisfies SpecInput;
