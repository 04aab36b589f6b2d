// Gaussian smoothing of the stage-2 distance map before seeding (Mahbod et al. 2019, two-stage U-Net).
import type { FloatImage, MaskImage } from '../imaging/types.ts';
import { assertBuffer, assertSameShape } from '../imaging/types.ts';

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

/** scipy.ndimage 'reflect' (half-sample symmetric: d c b a | a b c d | d c b a) index for i in [-n, 2n). */
function reflectIndex(i: number, n: number): number {
  // Period 2n; valid for any offset, including kernels wider than the image.
  const p = 2 * n;
  let m = i % p;
  if (m < 0) m += p;
  return m < n ? m : p - 1 - m;
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
 * O(pixels * (2r + 1)) with the symmetric taps folded; one float32 intermediate and a few
 * lines of scratch are the only allocations besides the output.
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
  const src = img.data;
  const tmp = new Float32Array(w * h);
  const out = new Float32Array(w * h);

  // Vertical pass, row by row (sequential memory access), only on the runs of columns that a
  // masked pixel's horizontal taps reach (every column without a mask).
  const rowIdx = new Int32Array(h + 2 * r);
  for (let i = 0; i < rowIdx.length; i++) rowIdx[i] = reflectIndex(i - r, h) * w;
  const acc = new Float64Array(w);
  const k0 = k[r]!;
  const runs = new Int32Array(w + 2); // [start, end) pairs
  const nextMasked = new Int32Array(w);
  const rowHasMask = new Uint8Array(h);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    let nr = 0;
    if (!within) {
      runs[0] = 0;
      runs[1] = w;
      nr = 2;
    } else {
      let next = Number.MAX_SAFE_INTEGER;
      for (let x = w - 1; x >= 0; x--) {
        if (within[o + x] !== 0) next = x;
        nextMasked[x] = next > w ? w + r + 1 : next;
      }
      let last = -r - 1;
      let open = false;
      for (let x = 0; x < w; x++) {
        if (within[o + x] !== 0) last = x;
        const needed = x - last <= r || nextMasked[x]! - x <= r;
        if (needed && !open) {
          runs[nr++] = x;
          open = true;
        } else if (!needed && open) {
          runs[nr++] = x;
          open = false;
        }
      }
      if (open) runs[nr++] = w;
      if (nr === 0) continue;
    }
    rowHasMask[y] = 1;
    const c = rowIdx[y + r]!;
    for (let q = 0; q < nr; q += 2) for (let x = runs[q]!; x < runs[q + 1]!; x++) acc[x] = k0 * src[c + x]!;
    // Four taps per sweep (a quarter of the accumulator traffic); the additions stay in the
    // same order as one tap per sweep, so the result is bit-identical.
    let d = 1;
    for (; d + 3 <= r; d += 4) {
      const k1 = k[r + d]!;
      const k2 = k[r + d + 1]!;
      const k3 = k[r + d + 2]!;
      const k4 = k[r + d + 3]!;
      const a1 = rowIdx[y + r - d]!;
      const b1 = rowIdx[y + r + d]!;
      const a2 = rowIdx[y + r - d - 1]!;
      const b2 = rowIdx[y + r + d + 1]!;
      const a3 = rowIdx[y + r - d - 2]!;
      const b3 = rowIdx[y + r + d + 2]!;
      const a4 = rowIdx[y + r - d - 3]!;
      const b4 = rowIdx[y + r + d + 3]!;
      for (let q = 0; q < nr; q += 2) {
        const end = runs[q + 1]!;
        for (let x = runs[q]!; x < end; x++) {
          let v = acc[x]!;
          v += k1 * (src[a1 + x]! + src[b1 + x]!);
          v += k2 * (src[a2 + x]! + src[b2 + x]!);
          v += k3 * (src[a3 + x]! + src[b3 + x]!);
          v += k4 * (src[a4 + x]! + src[b4 + x]!);
          acc[x] = v;
        }
      }
    }
    for (; d <= r; d++) {
      const kd = k[r + d]!;
      const a = rowIdx[y + r - d]!;
      const b = rowIdx[y + r + d]!;
      for (let q = 0; q < nr; q += 2) {
        const end = runs[q + 1]!;
        for (let x = runs[q]!; x < end; x++) acc[x]! += kd * (src[a + x]! + src[b + x]!);
      }
    }
    for (let q = 0; q < nr; q += 2) for (let x = runs[q]!; x < runs[q + 1]!; x++) tmp[o + x] = acc[x]!;
  }

  // Horizontal pass on a reflected copy of each row.
  const line = new Float64Array(w + 2 * r);
  const colIdx = new Int32Array(w + 2 * r);
  for (let i = 0; i < colIdx.length; i++) colIdx[i] = reflectIndex(i - r, w);
  for (let y = 0; y < h; y++) {
    if (rowHasMask[y] === 0) continue;
    const o = y * w;
    for (let i = 0; i < line.length; i++) line[i] = tmp[o + colIdx[i]!]!;
    for (let x = 0; x < w; x++) {
      if (within && within[o + x] === 0) continue;
      const c = x + r;
      let s = k0 * line[c]!;
      for (let d = 1; d <= r; d++) s += k[r + d]! * (line[c - d]! + line[c + d]!);
      out[o + x] = s;
    }
  }
  return { width: w, height: h, data: out };
}
