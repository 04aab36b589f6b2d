// Local maxima of the smoothed distance map as watershed seeds (Mahbod et al. 2019).
import type { FloatImage, LabelImage, MaskImage } from '../imaging/types.ts';
import { assertBuffer, assertSameShape } from '../imaging/types.ts';

export interface PeakOptions {
  /** Peaks closer than this (Chebyshev distance < minDistance) to a stronger kept peak are dropped. Default 1. */
  minDistance?: number;
  /** Peaks must be strictly above max(thresholdAbs ?? image min, thresholdRel * image max). */
  thresholdAbs?: number;
  thresholdRel?: number;
  /** true (default): no peaks within minDistance of the image edge; a number: that width; false: none. */
  excludeBorder?: boolean | number;
  /** Neighbourhood of the maximum test (odd sides, centred). Default: square of side 2 * minDistance + 1. */
  footprint?: MaskImage;
  /** Search each object separately: a pixel is compared only with pixels of its own label; 0 is ignored. */
  labels?: LabelImage;
  numPeaks?: number;
  numPeaksPerLabel?: number;
  /** 'one' (default): one peak per plateau (its first pixel in raster order); 'all': skimage's behaviour. */
  plateaus?: 'one' | 'all';
}

/**
 * Local maxima, with the semantics of skimage.feature.peak_local_max (p_norm = inf):
 * a pixel is a peak when it equals the maximum of its footprint window (the window clamped to the
 * image, as maximum_filter mode='nearest') and exceeds the threshold; an image (or, with labels,
 * an object) whose pixels are all equal has no peak. Candidates are ranked by value, ties in
 * raster order (numpy's stable argsort), and kept greedily unless within Chebyshev distance
 * < minDistance of a kept one (per object with labels). Deviations from skimage: a plateau of
 * equal maxima yields one peak (its first raster pixel) unless plateaus = 'all'; "all equal" is
 * tested as "constant" (identical for connected objects and footprints).
 *
 * Returns pixel indices (y * width + x): by label then value with labels, by value without.
 * Cost: O(candidates * footprint) with early exit, candidates being pixels above the threshold.
 */
export function peakLocalMax(img: FloatImage, opts: PeakOptions = {}): Int32Array {
  assertBuffer('peakLocalMax', img);
  const { width: w, height: h } = img;
  const n = w * h;
  const v = img.data;
  const md = opts.minDistance ?? 1;
  if (!Number.isInteger(md) || md < 1)
    throw new RangeError(`peakLocalMax: minDistance must be an integer >= 1, got ${md}`);
  const labels = opts.labels?.data;
  if (opts.labels) {
    assertBuffer('peakLocalMax labels', opts.labels);
    assertSameShape('peakLocalMax image vs labels', img, opts.labels);
  }

  // Footprint offsets (dy, dx), centre excluded.
  const offY: number[] = [];
  const offX: number[] = [];
  if (opts.footprint) {
    const f = opts.footprint;
    assertBuffer('peakLocalMax footprint', f);
    if (f.width % 2 === 0 || f.height % 2 === 0) {
      throw new RangeError(`peakLocalMax: footprint must have odd sides, got ${f.width}x${f.height}`);
    }
    const cy = (f.height - 1) / 2;
    const cx = (f.width - 1) / 2;
    for (let y = 0; y < f.height; y++)
      for (let x = 0; x < f.width; x++)
        if (f.data[y * f.width + x] !== 0 && (y !== cy || x !== cx)) {
          offY.push(y - cy);
          offX.push(x - cx);
        }
  } else {
    for (let dy = -md; dy <= md; dy++)
      for (let dx = -md; dx <= md; dx++)
        if (dy !== 0 || dx !== 0) {
          offY.push(dy);
          offX.push(dx);
        }
  }
  // Nearest offsets first: a higher neighbour is usually adjacent, so most pixels exit early.
  const order = offY
    .map((_, k) => k)
    .sort(
      (a, b) =>
        Math.max(Math.abs(offY[a]!), Math.abs(offX[a]!)) - Math.max(Math.abs(offY[b]!), Math.abs(offX[b]!)) ||
        a - b,
    );
  const oy = Int32Array.from(order, (k) => offY[k]!);
  const ox = Int32Array.from(order, (k) => offX[k]!);
  const nOff = oy.length;

  let vmin = Number.POSITIVE_INFINITY;
  let vmax = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const x = v[i]!;
    if (x < vmin) vmin = x;
    if (x > vmax) vmax = x;
  }
  let threshold = opts.thresholdAbs ?? vmin;
  if (opts.thresholdRel !== undefined && opts.thresholdRel !== 0)
    threshold = Math.max(threshold, opts.thresholdRel * vmax);
  const border =
    opts.excludeBorder === undefined || opts.excludeBorder === true
      ? md
      : opts.excludeBorder === false
        ? 0
        : opts.excludeBorder;

  // A constant object (or image) has no peak: find, per label, whether it is constant.
  let maxLabel = 0;
  let constant: Uint8Array | null = null;
  if (labels) {
    for (let i = 0; i < n; i++) if (labels[i]! > maxLabel) maxLabel = labels[i]!;
    const first = new Float64Array(maxLabel + 1).fill(Number.NaN);
    constant = new Uint8Array(maxLabel + 1).fill(1);
    for (let i = 0; i < n; i++) {
      const l = labels[i]!;
      if (l <= 0) continue;
      if (Number.isNaN(first[l]!)) first[l] = v[i]!;
      else if (first[l] !== v[i]) constant[l] = 0;
    }
  } else if (vmin === vmax) {
    return new Int32Array(0);
  }

  // Candidate test.
  const isCand = new Uint8Array(n);
  const cands: number[] = [];
  for (let y = border; y < h - border; y++) {
    for (let x = border; x < w - border; x++) {
      const i = y * w + x;
      const c = v[i]!;
      if (!(c > threshold)) continue;
      let l = 0;
      if (labels) {
        l = labels[i]!;
        if (l <= 0 || constant![l] === 1) continue;
      }
      let peak = true;
      for (let k = 0; k < nOff; k++) {
        let yy = y + oy[k]!;
        let xx = x + ox[k]!;
        yy = yy < 0 ? 0 : yy >= h ? h - 1 : yy;
        xx = xx < 0 ? 0 : xx >= w ? w - 1 : xx;
        const j = yy * w + xx;
        if (labels && labels[j] !== l) continue;
        if (v[j]! > c) {
          peak = false;
          break;
        }
      }
      if (peak) {
        isCand[i] = 1;
        cands.push(i);
      }
    }
  }

  // One peak per plateau: drop every candidate 8-connected (same label) to an earlier one.
  if ((opts.plateaus ?? 'one') === 'one') {
    const stack: number[] = [];
    for (const s of cands) {
      if (isCand[s] !== 1) continue;
      isCand[s] = 2; // representative
      stack.push(s);
      while (stack.length > 0) {
        const i = stack.pop()!;
        const y = (i / w) | 0;
        const x = i - y * w;
        for (let dy = -1; dy <= 1; dy++) {
          const yy = y + dy;
          if (yy < 0 || yy >= h) continue;
          for (let dx = -1; dx <= 1; dx++) {
            const xx = x + dx;
            if (xx < 0 || xx >= w) continue;
            const j = yy * w + xx;
            if (isCand[j] !== 1 || v[j] !== v[i] || (labels && labels[j] !== labels[i])) continue;
            isCand[j] = 3; // same plateau, dropped
            stack.push(j);
          }
        }
      }
    }
  }
  let kept = cands.filter((i) => isCand[i] === 1 || isCand[i] === 2);

  // Rank: by label (when given), then value descending, then raster order.
  kept.sort((a, b) => {
    if (labels && labels[a] !== labels[b]) return labels[a]! - labels[b]!;
    return v[b]! - v[a]! || a - b;
  });

  const perLabel = opts.numPeaksPerLabel ?? Number.POSITIVE_INFINITY;
  const total = opts.numPeaks ?? Number.POSITIVE_INFINITY;
  // Kept peaks are marked TAKEN in the candidate map (no longer needed for anything else); the
  // spacing test looks for a TAKEN pixel of the same label (or any, across labels) in the window.
  const TAKEN = 9;
  const space = (list: number[], limit: number, sameLabelOnly: boolean): number[] => {
    const out: number[] = [];
    const r = md - 1;
    const count = new Map<number, number>();
    for (const i of list) {
      const l = labels && sameLabelOnly ? labels[i]! : 0;
      if ((count.get(l) ?? 0) >= limit) continue;
      let ok = true;
      if (r > 0) {
        const y = (i / w) | 0;
        const x = i - y * w;
        for (let yy = Math.max(0, y - r); ok && yy <= Math.min(h - 1, y + r); yy++)
          for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx++) {
            const j = yy * w + xx;
            if (isCand[j] === TAKEN && (l === 0 || labels![j] === l)) {
              ok = false;
              break;
            }
          }
      }
      if (!ok) continue;
      isCand[i] = TAKEN;
      count.set(l, (count.get(l) ?? 0) + 1);
      out.push(i);
    }
    for (const i of out) isCand[i] = 0;
    return out;
  };
  kept = space(kept, perLabel, true);
  if (kept.length > total) {
    kept.sort((a, b) => v[b]! - v[a]! || a - b);
    kept = space(kept, total, false);
  }
  return Int32Array.from(kept);
}
