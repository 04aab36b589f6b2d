// Step learning-rate schedules of Mahbod et al., ISBI 2019 (Adam, lr 1e-3, x0.4 at fixed epochs), plus the CPU-budget variants.
//
// Field names follow the experiment spec's `training.seg|dist` (experiments/schema.ts). An "epoch"
// is `stepsPerEpoch` optimiser steps of `batchSize` crops; the paper's epoch is one pass over the
// 16 training images resized to 1024x1024 with batch 2, i.e. 8 steps.

export interface TrainingSchedule {
  readonly epochs: number;
  readonly batchSize: number;
  /** Square crop side in pixels (multiple of 16). */
  readonly inputSize: number;
  /** Optimiser steps per epoch; default: training images / batch size. */
  readonly stepsPerEpoch?: number;
  readonly lr: number;
  /** lr * factor every `every` epochs (drops at epochs every, 2*every, ...; epochs count from 0). */
  readonly lrSchedule: { readonly every: number; readonly factor: number };
  /**
   * Time-budget mode (CPU budgets on a shared machine): train until this many seconds of machine
   * time are used (process CPU time over all threads / cores, so other users' load does not eat
   * the budget), or `budgetWallSeconds` of wall clock pass, whichever comes first (at an epoch
   * boundary; `epochs` is then only an upper bound). The lr drops at equal fractions of that
   * progress instead of at fixed epochs, as many times as the epoch schedule would
   * (floor((epochs - 1) / every)). The lr actually used is recorded per epoch in the history.
   * A resumed budget run is not bit-identical to an uninterrupted one (the drop points depend on
   * timing); epoch mode is.
   */
  readonly budgetSeconds?: number;
  /** Wall-clock cap of a time-budget run. */
  readonly budgetWallSeconds?: number;
  /**
   * Dropout in training (default true, the paper's net). Off trades regularisation for faster
   * fitting, for budgets too short to over-fit; the architecture and parameter count are unchanged.
   */
  readonly dropout?: boolean;
}

/** The paper, segmentation net: 240 epochs, lr x0.4 every 80; whole images at 1024, batch 2. */
export const PAPER_SEG: TrainingSchedule = {
  epochs: 240,
  batchSize: 2,
  inputSize: 1024,
  lr: 1e-3,
  lrSchedule: { every: 80, factor: 0.4 },
};

/** The paper, distance net: 120 epochs, one drop at 60 (factor not published; 0.4 assumed). */
export const PAPER_DIST: TrainingSchedule = {
  ...PAPER_SEG,
  epochs: 120,
  lrSchedule: { every: 60, factor: 0.4 },
};

/**
 * cpu-60min, segmentation: the calibration budget, 40 minutes of wall clock (time-budget
 * mode; also at most 40 minutes of machine time), random 512x512 crops, batch 2, 32 steps (64
 * crops, 4 per training image) per epoch, the paper's three lr levels (1e-3, 4e-4, 1.6e-4) each
 * for a third of the budget. On an idle 2-core machine (~1.3 s a 512^2 step) that is about 55
 * epochs; at most 240 (the paper's count). The wall clock binds on an idle machine (TensorFlow
 * keeps about 1.45 of the 2 cores busy), so the run gets the calibration's 40 minutes, not more.
 */
export const CPU60_SEG: TrainingSchedule = {
  epochs: 240,
  batchSize: 2,
  inputSize: 512,
  stepsPerEpoch: 32,
  lr: 1e-3,
  lrSchedule: { every: 80, factor: 0.4 },
  budgetSeconds: 40 * 60,
  budgetWallSeconds: 40 * 60,
};

/**
 * cpu-60min, distance: 20 minutes of wall clock (and of machine time), one lr drop at half time
 * as the paper's 60 of 120; initialised from the trained segmentation net instead of from scratch.
 */
export const CPU60_DIST: TrainingSchedule = {
  ...CPU60_SEG,
  epochs: 120,
  lrSchedule: { every: 60, factor: 0.4 },
  budgetSeconds: 20 * 60,
  budgetWallSeconds: 20 * 60,
};

/**
 * cpu-60min-c256, segmentation: the recipe of the shipped model (models/cpu-60min-c256-s2-epyc,
 * seed 2): the same hour split 45 + 15 minutes, 256x256 crops with 128 steps per epoch (256
 * crops, the same pixels per epoch as cpu-60min's 32 steps at 512^2), no dropout.
 */
export const CPU60_C256_SEG: TrainingSchedule = {
  ...CPU60_SEG,
  inputSize: 256,
  stepsPerEpoch: 128,
  budgetSeconds: 45 * 60,
  budgetWallSeconds: 45 * 60,
  dropout: false,
};

/** cpu-60min-c256, distance: 15 minutes, crops and dropout as its segmentation stage. */
export const CPU60_C256_DIST: TrainingSchedule = {
  ...CPU60_DIST,
  inputSize: 256,
  stepsPerEpoch: 128,
  budgetSeconds: 15 * 60,
  budgetWallSeconds: 15 * 60,
  dropout: false,
};

export const SCHEDULES: Readonly<Record<string, { seg: TrainingSchedule; dist: TrainingSchedule }>> = {
  paper: { seg: PAPER_SEG, dist: PAPER_DIST },
  'cpu-60min': { seg: CPU60_SEG, dist: CPU60_DIST },
  'cpu-60min-c256': { seg: CPU60_C256_SEG, dist: CPU60_C256_DIST },
};

/** Time-budget mode: lr after `fraction` (0..1) of the budget is spent. */
export function budgetLearningRate(s: TrainingSchedule, fraction: number): number {
  const drops = Math.floor((s.epochs - 1) / s.lrSchedule.every);
  const level = Math.min(drops, Math.floor(Math.max(0, fraction) * (drops + 1)));
  return s.lr * s.lrSchedule.factor ** level;
}

/** Learning rate for a 0-based epoch: lr * factor^floor(epoch / every). */
export function learningRate(s: TrainingSchedule, epoch: number): number {
  if (!Number.isInteger(epoch) || epoch < 0) {
    throw new RangeError(`learningRate: epoch must be a non-negative integer, got ${epoch}`);
  }
  return s.lr * s.lrSchedule.factor ** Math.floor(epoch / s.lrSchedule.every);
}
