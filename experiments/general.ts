/**
 * The general model (issue 16): the shipped recipe (`cpu-60min-c256`, step budgets, post-processing
 * chosen on its training images) trained on all 30 MoNuSeg/Kumar images, the MoNuSeg 2018 training
 * set (`dataset.split: all`). It has seen every Kumar test image, so it is not scored on them and its
 * card says so; it is the model for new slides, `default` the one for comparisons on the Kumar split.
 * Registered as the model `general` (a model is named after its spec). On a 2-core AVX512 machine the
 * nets trained in 19.2 + 4.6 wall-minutes (docs/studies/general/report.md).
 */
import base from './cpu-60min-c256.ts';
import type { SpecInput } from './schema.ts';

export default {
  ...base,
  name: 'general',
  description: 'cpu-60min-c256 recipe on all 30 images (MoNuSeg 2018 training set); not scored',
  dataset: { name: 'monuseg', split: 'all' },
} satisfies SpecInput;
