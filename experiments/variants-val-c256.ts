/**
 * Issue 16's first variant comparison, on the validation split (`kumar-val`: 12 training images
 * train, the other 4, one per organ, are scored; the Kumar test images take no part): the shipped
 * recipe (`cpu-60min-c256`, step budgets) with the paper's eroded binary stage-1 target against the
 * three-class target (background / interior / boundary of 2 px, erosion off; its post-processing
 * grid also chooses, on the training images, between distance-peak and interior seeds), seeds 1 and
 * 2, one run at a time, seed by seed. On a 2-core AVX512 machine each run's nets trained in 21-24
 * wall-minutes (docs/studies/variants-val-c256/report.md).
 */
import base from './cpu-60min-c256.ts';
import type { SpecInput } from './schema.ts';

export default {
  ...base,
  name: 'variants-val-c256',
  description:
    'cpu-60min-c256 recipe on kumar-val: binary eroded vs three-class stage-1 target, seeds 1 and 2',
  dataset: { name: 'monuseg', split: 'kumar-val' },
  orchestration: { ...base.orchestration, maxParallelRuns: 1 },
  matrix: {
    seed: [1, 2],
    variant: [
      { gtErosion: true },
      {
        'groundTruth.target': 'three-class',
        gtErosion: false,
        'postprocess.grid.markers': ['distance', 'interior'],
      },
    ],
  },
} satisfies SpecInput;
