// Inverted dropout (Srivastava et al., JMLR 2014) with masks drawn from an explicit per-step seed.
//
// tfjs's own dropout draws from Math.random (or a fixed seed that repeats the same mask every
// step), which makes exact resume impossible. Here every training step takes one 32-bit seed from
// the run's Rng; masks are generated in JS with xorshift128 (one 32-bit draw gives four 8-bit
// uniforms) and uploaded as bool tensors, so a resumed run replays the same masks bit for bit.
// Keep probability is quantised to 1/256: a unit is kept when its byte >= round(rate * 256), and
// the kept units are scaled by 1 / (exact keep probability) so expectations stay unbiased.
import type { Tf } from './backend.ts';

type Tensor4D = import('@tensorflow/tfjs-node').Tensor4D;

export interface DropoutMasks {
  /** Applies dropout with `rate` to `x`; the layer name only labels errors. */
  apply(layer: string, rate: number, x: Tensor4D): Tensor4D;
}

/** xorshift128 (Marsaglia 2003); state from splitmix32 of the seed so nearby seeds decorrelate. */
function makeXorshift(seed: number): () => number {
  let s = seed >>> 0;
  const mix = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = mix() | 1;
  let b = mix();
  let c = mix();
  let d = mix();
  return () => {
    let t = a ^ (a << 11);
    a = b;
    b = c;
    c = d;
    d = d ^ (d >>> 19) ^ (t ^ (t >>> 8));
    t = d >>> 0;
    return t;
  };
}

/** Masks for one training step, deterministic in `seed`. Layers draw in call order. */
export function seededDropout(tf: Tf, seed: number): DropoutMasks {
  const next = makeXorshift(seed);
  return {
    apply(layer, rate, x) {
      if (!(rate >= 0 && rate < 1))
        throw new RangeError(`dropout ${layer}: rate must be in [0, 1), got ${rate}`);
      const threshold = Math.round(rate * 256);
      if (threshold === 0) return x;
      const n = x.size;
      const keep = new Uint8Array(n);
      // O(n): one xorshift draw per four units.
      let i = 0;
      for (; i + 4 <= n; i += 4) {
        const r = next();
        keep[i] = (r & 0xff) >= threshold ? 1 : 0;
        keep[i + 1] = ((r >>> 8) & 0xff) >= threshold ? 1 : 0;
        keep[i + 2] = ((r >>> 16) & 0xff) >= threshold ? 1 : 0;
        keep[i + 3] = r >>> 24 >= threshold ? 1 : 0;
      }
      if (i < n) {
        let r = next();
        for (; i < n; i++, r >>>= 8) keep[i] = (r & 0xff) >= threshold ? 1 : 0;
      }
      const scale = 256 / (256 - threshold);
      // Called inside the training step's tidy/grad scope, which owns these intermediates.
      const m = tf.tensor(keep, x.shape, 'bool');
      return tf.mul(x, tf.mul(tf.cast(m, 'float32'), scale)) as Tensor4D;
    },
  };
}
