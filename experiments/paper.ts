/**
 * The published protocol of Mahbod et al. 2019 on the Kumar split: stain-normalised 1024x1024 inputs,
 * batch 2, Adam; stage 1 (segmentation, eroded ground truth) 240 epochs with lr 1e-3 x0.4 every 80;
 * stage 2 (distance map) 120 epochs with one drop at epoch 60. The stage-2 drop factor is not given
 * in the paper; 0.4 (as stage 1) is assumed. About 4.5 h of compute on the 2-core reference CPU.
 */
import type { SpecInput } from './schema.ts';

export default {
  name: 'paper',
  description: 'Mahbod et al. 2019 two-stage U-Net, exact published schedule on the Kumar split',
  seed: 1,
  dataset: { name: 'monuseg', split: 'kumar' },
  preprocessing: { stainNormalisation: true, referenceSelection: 'paper' },
  augmentation: { flipRotate: true, hed: 'light' },
  groundTruth: { erosion: true, erosionRadius: 1 },
  training: {
    seg: { epochs: 240, batchSize: 2, inputSize: 1024, lr: 1e-3, lrSchedule: { every: 80, factor: 0.4 } },
    dist: { epochs: 120, batchSize: 2, inputSize: 1024, lr: 1e-3, lrSchedule: { every: 60, factor: 0.4 } },
  },
  postprocess: { sigmaRule: 'paper', iterativeSizeReestimation: false },
  evaluation: { metrics: ['dice', 'f1', 'aji', 'ajiPlus', 'pq'], saveLabels: true },
  orchestration: { trainQueue: 'train-cpu', heartbeatTimeoutSeconds: 120, trainTimeoutMinutes: 24 * 60 },
} satisfies SpecInput;
