// A synthetic BatchSource for training-loop tests: target = red channel > 0.5, every value drawn from
// the run's Rng, so a run is a pure function of its seed (no image files, tiny crops).
import type { Rng } from '../../src/augment/rng.ts';
import type { Batch, BatchSource, Stage } from '../../src/model/batch.ts';

export const synthetic: BatchSource = {
  imageCount: 4,
  sample(rng: Rng, _stage: Stage, batch: number, size: number): Batch {
    const x = new Float32Array(batch * size * size * 3);
    const y = new Float32Array(batch * size * size);
    for (let i = 0; i < x.length; i++) x[i] = rng.next();
    for (let i = 0; i < y.length; i++) y[i] = x[3 * i]! > 0.5 ? 1 : 0;
    return { batch, size, x, y };
  },
  validation(_stage: Stage, size: number): Batch[] {
    const x = new Float32Array(size * size * 3).fill(0.25);
    return [{ batch: 1, size, x, y: new Float32Array(size * size) }];
  },
};
