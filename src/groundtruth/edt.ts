// Exact Euclidean distance transform: Felzenszwalb & Huttenlocher, "Distance Transforms of Sampled Functions", Theory of Computing 8, 2012.
//
// Conventions (those of scipy.ndimage.distance_transform_edt): every non-zero pixel gets the
// distance from its centre to the centre of the nearest zero pixel; zero pixels get 0; pixels
// outside the image are NOT zero (the border is not background). When the image has no zero pixel
// at all, every distance is +Infinity. Separable: one 1-D lower-envelope pass per column, then per
// row, O(width * height) time in total.
import type { FloatImage, MaskImage } from '../imaging/types.ts';
import { assertBuffer } from '../imaging/types.ts';

/** Stands for "no feature yet"; finite so the envelope intersections never compute Inf - Inf. */
export const FAR = 1e20;

/** Scratch buffers for a 1-D transform of up to `length` samples; reuse them across calls. */
export interface EdtScratch {
  readonly f: Float64Array;
  readonly d: Float64Array;
  readonly v: Int32Array;
  readonly z: Float64Array;
}

export function createEdtScratch(length: number): EdtScratch {
  return {
    f: new Float64Array(length),
    d: new Float64Array(length),
    v: new Int32Array(length),
    z: new Float64Array(length + 1),
  };
}

/**
 * 1-D squared distance transform of f[0..n) (the lower envelope of parabolas rooted at (q, f[q]))
 * into d[0..n). O(n).
 */
function transform1d(s: EdtScratch, n: number): void {
  const { f, d, v, z } = s;
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < n; q++) {
    const fq = f[q] + q * q;
    let sep = (fq - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    while (sep <= z[k]) {
      k--;
      sep = (fq - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    }
    k++;
    v[k] = q;
    z[k] = sep;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    const dq = q - v[k];
    d[q] = dq * dq + f[v[k]];
  }
}

/**
 * In-place squared EDT of a grid `g` (row-major, `width` x `height`) that holds 0 at feature pixels
 * and FAR elsewhere. Values that stay >= FAR had no feature anywhere. `scratch` must hold
 * max(width, height) samples.
 */
export function squaredEdtInPlace(g: Float64Array, width: number, height: number, scratch: EdtScratch): void {
  if (g.length < width * height) {
    throw new RangeError(`squaredEdtInPlace: grid has ${g.length} values, needs ${width}x${height}`);
  }
  if (scratch.f.length < Math.max(width, height)) {
    throw new RangeError(
      `squaredEdtInPlace: scratch holds ${scratch.f.length}, needs ${Math.max(width, height)}`,
    );
  }
  const { f, d } = scratch;
  for (let x = 0; x < width; x++) {
    for (let y = 0, i = x; y < height; y++, i += width) f[y] = g[i];
    transform1d(scratch, height);
    for (let y = 0, i = x; y < height; y++, i += width) g[i] = d[y];
  }
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) f[x] = g[row + x];
    transform1d(scratch, width);
    for (let x = 0; x < width; x++) g[row + x] = d[x];
  }
}

/**
 * Distance of every non-zero pixel of `mask` (any typed array, 0 = background) to the nearest zero
 * pixel. Float32 output; +Infinity where the image has no zero pixel. O(n).
 */
export function edt(
  mask: MaskImage | { width: number; height: number; data: ArrayLike<number> },
): FloatImage {
  assertBuffer('edt', mask, 1);
  const { width, height, data } = mask;
  const n = width * height;
  const g = new Float64Array(n);
  for (let i = 0; i < n; i++) g[i] = data[i] === 0 ? 0 : FAR;
  squaredEdtInPlace(g, width, height, createEdtScratch(Math.max(width, height)));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = g[i] >= FAR ? Number.POSITIVE_INFINITY : Math.sqrt(g[i]);
  return { width, height, data: out };
}
