/**
 * The whole pipeline in a few minutes on a 2-core CPU: 4 training images, 128x128 crops, 3 short
 * epochs per U-Net, evaluated on all 14 Kumar test images. The numbers it produces show that the
 * pipeline works, not how good the method is (see `paper` for that).
 */
import type { SpecInput } from './schema.ts';

export default {
  name: 'quick',
  description: 'Smoke run of the full pipeline: tiny crops, few images and epochs',
  seed: 7,
  dataset: { name: 'monuseg', split: 'kumar', maxTrainImages: 4 },
  preprocessing: { stainNormalisation: true, referenceSelection: 'paper' },
  augmentation: { flipRotate: true, hed: 'light' },
  groundTruth: { erosion: true, erosionRadius: 1 },
  training: {
    seg: {
      epochs: 3,
      batchSize: 2,
      inputSize: 128,
      stepsPerEpoch: 4,
      lr: 1e-3,
      lrSchedule: { every: 2, factor: 0.4 },
    },
    dist: {
      epochs: 3,
      batchSize: 2,
      inputSize: 128,
      stepsPerEpoch: 4,
      lr: 1e-3,
      lrSchedule: { every: 2, factor: 0.4 },
    },
  },
  postprocess: {
    sigmaRule: 'paper',
    iterativeSizeReestimation: false,
    // A 4-setting grid (the paper's rule among them): exercises the tuning step in seconds.
    grid: { threshold: [0.5, 0.8], sigmaScale: [0.25], minDistanceScale: [0.25], expand: [0, 2] },
  },
  evaluation: { metrics: ['dice', 'f1', 'aji', 'ajiPlus', 'pq'], saveLabels: true },
  orchestration: { trainQueue: 'train-cpu', heartbeatTimeoutSeconds: 20, trainTimeoutMinutes: 60 },
} satisfies SpecInput;
