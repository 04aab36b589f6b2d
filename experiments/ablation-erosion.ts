/**
 * Ablation of the paper's ground-truth modification: the published protocol with stage-1 targets
 * eroded (as published) and not eroded. Two runs that differ only in `groundTruth.erosion`.
 */
import paper from './paper.ts';
import type { SpecInput } from './schema.ts';

export default {
  ...paper,
  name: 'ablation-erosion',
  description: 'Paper protocol, stage-1 ground-truth erosion on vs off',
  matrix: { gtErosion: [true, false] },
} satisfies SpecInput;
