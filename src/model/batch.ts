// The contract between the data pipeline and the training loop: batches as flat NHWC float32 arrays.
import type { Rng } from '../augment/rng.ts';

export type Stage = 'seg' | 'dist';

/** Added to the run seed for the distance net, so the two stages draw different random streams. */
export const DIST_SEED_OFFSET = 1_000_003;

/** The seed a stage trains with: the run seed for the segmentation net, offset for the distance net. */
export function stageSeed(runSeed: number, stage: Stage): number {
  return stage === 'dist' ? runSeed + DIST_SEED_OFFSET : runSeed;
}

/** One batch, NHWC: x has batch*size*size*3 values in [0, 1], y has batch*size*size values. */
export interface Batch {
  readonly batch: number;
  readonly size: number;
  readonly x: Float32Array;
  readonly y: Float32Array;
}

export interface BatchSource {
  /** Number of training images crops are drawn from. */
  readonly imageCount: number;
  /**
   * A random training batch for `stage`, every random choice drawn from `rng` in a fixed order, so
   * the same Rng state always yields the same batch.
   */
  sample(rng: Rng, stage: Stage, batch: number, size: number): Batch;
  /** Fixed, un-augmented validation batches (may be empty). */
  validation(stage: Stage, size: number): readonly Batch[];
}
