// Gaussian smoothing of the stage-2 distance map before seeding (Mahbod et al. 2019, two-stage U-Net).
import type { FloatImage, MaskImage } from '../imaging/types.ts';
import { assertBuffer, assertSameShape } from '../imaging/types.ts';
import { separableBlur } from './gaussian-core.ts';

/** Normalised 1-D kernel exp(-x^2 / 2 sigma^2), x in [-r, r], r = floor(truncate * sigma + 0.5) (scipy's rule). */
export function gaussianKernel(sigma: number, truncate = 4): Float64Array {
  const r = Math.floor(truncate * sigma + 0.5);
  const k = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let x = -r; x <= r; x++) {
    const v = Math.exp((-0.5 * x * x) / (sigma * sigma));
    k[x + r] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i]! /= sum;
  return k;
}

/**
 * Separable Gaussian blur, as scipy.ndimage.gaussian_filter(img, sigma, mode='reflect',
 * truncate=4): borders reflect about the pixel edge, the kernel is cut at 4 sigma, the rows axis
 * (vertical) is filtered first, sums run in float64 and the intermediate is stored as float32
 * (scipy's behaviour for a float32 input). sigma <= 0 returns a copy.
 *
 * `within`: only the pixels where this mask is non-zero are computed (the others are 0); the
 * vertical pass then runs only on the columns a masked pixel's horizontal taps reach. The
 * computed values are the same as without the mask. The post-processing reads the smoothed
 * map inside the stage-1 foreground only, which is typically a third of the image.
 *
 * The row loops run in WebAssembly SIMD (gaussian-core.ts, two float64 lanes, same summation
 * order). O(pixels * (r + 1)) with the symmetric taps folded; one copy of the input in the
 * kernel's memory, the float32 intermediate there, and the output are the only large buffers.
 */
export function gaussianBlur(
  img: FloatImage,
  sigma: number,
  opts: { truncate?: number; within?: MaskImage } = {},
): FloatImage {
  assertBuffer('gaussianBlur', img);
  if (!Number.isFinite(sigma) || sigma < 0)
    throw new RangeError(`gaussianBlur: sigma must be >= 0, got ${sigma}`);
  const { width: w, height: h } = img;
  const within = opts.within?.data;
  if (opts.within) assertSameShape('gaussianBlur image vs within', img, opts.within);
  if (sigma === 0) {
    const copy = img.data.slice();
    if (within) for (let i = 0; i < copy.length; i++) if (within[i] === 0) copy[i] = 0;
    return { width: w, height: h, data: copy };
  }
  const k = gaussianKernel(sigma, opts.truncate ?? 4);
  const r = (k.length - 1) / 2;
  const out = new Float32Array(w * h);
  const whole = { runs: Int32Array.of(0, w), count: 2 };
  if (!within) {
    separableBlur(
      img.data,
      w,
      h,
      k,
      out,
      () => whole,
      () => whole,
    );
    return { width: w, height: h, data: out };
  }

  // Horizontal runs: the masked pixels of each row, found in one pass over the mask. Vertical
  // runs: the same runs grown by r on both sides and merged (the columns a masked pixel's taps
  // reach). O(pixels) for the scan, O(runs) per row after it.
  const rows = maskRowRuns(within, w, h);
  const vr = { runs: new Int32Array(w + 2), count: 0 };
  const maskRuns = (y: number) => {
    const from = rows.offsets[y]!;
    const to = rows.offsets[y + 1]!;
    return { runs: rows.runs.subarray(from, to), count: to - from };
  };
  const vRuns = (y: number) => {
    const { runs, count } = maskRuns(y);
    let nv = 0;
    for (let q = 0; q < count; q += 2) {
      const s = Math.max(0, runs[q]! - r);
      const e = Math.min(w, runs[q + 1]! + r);
      if (nv > 0 && s <= vr.runs[nv - 1]!) vr.runs[nv - 1] = e;
      else {
        vr.runs[nv++] = s;
        vr.runs[nv++] = e;
      }
    }
    vr.count = nv;
    return vr;
  };
  separableBlur(img.data, w, h, k, out, vRuns, maskRuns);
  return { width: w, height: h, data: out };
}

/** Runs [start, end) of non-zero pixels per row: row y's pairs are runs[offsets[y] .. offsets[y + 1]). */
function maskRowRuns(mask: Uint8Array, w: number, h: number): { offsets: Int32Array; runs: Int32Array } {
  const offsets = new Int32Array(h + 1);
  let runs = new Int32Array(4096);
  let n = 0;
  for (let y = 0; y < h; y++) {
    const o = y * w;
    if (runs.length - n < w + 2) {
      const grown = new Int32Array(Math.max(2 * runs.length, n + w + 2));
      grown.set(runs.subarray(0, n));
      runs = grown;
    }
    let open = false;
    for (let x = 0; x < w; x++) {
      const m = mask[o + x] !== 0;
      if (m !== open) {
        runs[n++] = x;
        open = m;
      }
    }
    if (open) runs[n++] = w;
    offsets[y + 1] = n;
  }
  return { offsets, runs };
}
