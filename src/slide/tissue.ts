// Tissue detection on a low-resolution level of a slide, so that regions of blank glass are never segmented.
// Threshold from Otsu 1979 (IEEE Trans. SMC 9(1)), on HSV saturation as in CLAM (Lu et al. 2021, Nat. Biomed. Eng.).
//
// Rule: a pixel of the chosen level is tissue iff its saturation S = (max - min) / max of (R, G, B), in 8-bit
// codes round(255 * S) (0 for black), exceeds t = Otsu's threshold of the level's S histogram clamped to
// [`minSaturation`, `maxSaturation`] (default [8, 20]). Glass, white and grey backgrounds (and JPEG's near-white)
// have S under 5, H&E's pink stroma about 40 and its purple 100 or more. The floor keeps an all-white or all-grey
// slide empty (Otsu alone would split its noise). The cap is there because H&E is not one mode: with glass a spike
// at 0 and tissue spread over 5..200, Otsu splits the tissue (47 on the test slide, losing the pale stroma) rather
// than tissue from glass; on a pale slide Otsu falls under the cap and adapts.
// Then tissue objects (8-connected) smaller than `minTissueArea` are dropped and background holes (4-connected, the
// dual of 8) smaller than `maxHoleArea` are filled, like skimage's remove_small_objects / remove_small_holes; both
// areas are in level-0 pixels and converted to mask pixels with the level's downsample.
// Limits: pen marks and coloured debris are saturated too and count as tissue; very pale tissue (S below the floor,
// about 0.08) is background.
// Mask pixel (i, j) covers level-0 [i * d, (i + 1) * d) x [j * d, (j + 1) * d), d = the level's downsample.

import { writeRgbPng } from '../imaging/io.ts';
import {
  assertBuffer,
  assertSameShape,
  type LabelImage,
  type MaskImage,
  type RgbImage,
} from '../imaging/types.ts';
import { connectedComponents } from '../postprocess/connected-components.ts';
import type { Slide, SlideLevel } from './types.ts';

export interface TissueOptions {
  /** Lower clamp of the threshold, in saturation codes (0..255): S <= this is never tissue. Default 8. */
  readonly minSaturation?: number;
  /** Upper clamp of the threshold: S > this is always tissue. Default 20. */
  readonly maxSaturation?: number;
  /** Tissue objects of fewer level-0 pixels are dropped. Default 40 000 (200 x 200 px, 50 x 50 um at 0.25 um/px). */
  readonly minTissueArea?: number;
  /** Background holes of fewer level-0 pixels are filled. Default 160 000 (400 x 400 px, 100 x 100 um at 0.25 um/px). */
  readonly maxHoleArea?: number;
}

export interface DetectTissueOptions extends TissueOptions {
  /** The level to read; default: the smallest level whose longer side has at least `minSize` pixels. */
  readonly level?: number;
  /** Default 512. */
  readonly minSize?: number;
}

export interface TissueMask {
  /** 1 = tissue, at `downsample`: pixel (i, j) covers level-0 [i * d, (i + 1) * d) x [j * d, (j + 1) * d). */
  readonly mask: MaskImage;
  /** The pyramid level the mask was computed on (0 for a mask computed from a given image). */
  readonly level: number;
  /** Level-0 pixels per mask pixel. */
  readonly downsample: number;
  /** Tissue area in level-0 pixels: tissue mask pixels times downsample squared. */
  readonly tissueArea: number;
  /** The saturation code used: tissue iff S > threshold (before the object and hole clean-up). */
  readonly threshold: number;
}

export const TISSUE_DEFAULTS = {
  minSaturation: 8,
  maxSaturation: 20,
  minTissueArea: 40_000,
  maxHoleArea: 160_000,
  minSize: 512,
} as const;

/** Otsu's threshold of a 256-bin histogram: the t maximising the between-class variance of [0, t] vs (t, 255]; the smallest such t. O(256). */
export function otsuThreshold(hist: ArrayLike<number>): number {
  if (hist.length !== 256)
    throw new RangeError(`otsuThreshold: histogram has ${hist.length} bins, expected 256`);
  let total = 0;
  let sum = 0;
  for (let i = 0; i < 256; i++) {
    total += hist[i]!;
    sum += i * hist[i]!;
  }
  let w0 = 0;
  let s0 = 0;
  let best = 0;
  let bestVar = -1;
  for (let t = 0; t < 255; t++) {
    w0 += hist[t]!;
    s0 += t * hist[t]!;
    const w1 = total - w0;
    if (w0 === 0 || w1 === 0) continue;
    const d = s0 / w0 - (sum - s0) / w1;
    const v = w0 * w1 * d * d;
    if (v > bestVar) {
      bestVar = v;
      best = t;
    }
  }
  return best;
}

/**
 * The tissue mask of an RGB image whose pixels each cover `downsample` x `downsample` level-0 pixels
 * (the rule is in this file's header). Pure; O(pixels).
 */
export function tissueMaskFromRgb(rgb: RgbImage, downsample = 1, opts: TissueOptions = {}): TissueMask {
  assertBuffer('tissueMaskFromRgb', rgb, 3);
  if (!(downsample >= 1))
    throw new RangeError(`tissueMaskFromRgb: downsample must be >= 1, got ${downsample}`);
  const minSat = opts.minSaturation ?? TISSUE_DEFAULTS.minSaturation;
  const maxSat = opts.maxSaturation ?? TISSUE_DEFAULTS.maxSaturation;
  if (!(maxSat >= minSat)) {
    throw new RangeError(`tissueMaskFromRgb: maxSaturation ${maxSat} is below minSaturation ${minSat}`);
  }
  const minArea = opts.minTissueArea ?? TISSUE_DEFAULTS.minTissueArea;
  const maxHole = opts.maxHoleArea ?? TISSUE_DEFAULTS.maxHoleArea;
  for (const [k, v] of [
    ['minSaturation', minSat],
    ['minTissueArea', minArea],
    ['maxHoleArea', maxHole],
  ] as const) {
    if (!(v >= 0) || !Number.isFinite(v))
      throw new RangeError(`tissueMaskFromRgb: ${k} must be >= 0, got ${v}`);
  }
  const { width: w, height: h, data: px } = rgb;
  const n = w * h;
  const sat = new Uint8Array(n);
  const hist = new Float64Array(256);
  for (let i = 0; i < n; i++) {
    const r = px[3 * i]!;
    const g = px[3 * i + 1]!;
    const b = px[3 * i + 2]!;
    const mx = Math.max(r, g, b);
    const mn = Math.min(r, g, b);
    const s = mx === 0 ? 0 : Math.round((255 * (mx - mn)) / mx);
    sat[i] = s;
    hist[s]!++;
  }
  const threshold = Math.min(Math.max(otsuThreshold(hist), minSat), maxSat);
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = sat[i]! > threshold ? 1 : 0;
  const perPx = downsample * downsample;
  const minPx = Math.ceil(minArea / perPx);
  const holePx = Math.ceil(maxHole / perPx);
  const img: MaskImage = { width: w, height: h, data: mask };
  // Small objects first, so a speck inside a hole does not keep the hole open.
  const objects = connectedComponents(img, 8);
  for (let i = 0; i < n; i++)
    if (mask[i] === 1 && objects.areas[objects.labels.data[i]!]! < minPx) mask[i] = 0;
  const inverse = new Uint8Array(n);
  for (let i = 0; i < n; i++) inverse[i] = 1 - mask[i]!;
  const holes = connectedComponents({ width: w, height: h, data: inverse }, 4);
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (mask[i] === 0 && holes.areas[holes.labels.data[i]!]! < holePx) mask[i] = 1;
    count += mask[i]!;
  }
  return { mask: img, level: 0, downsample, tissueArea: count * perPx, threshold };
}

/** The level detectTissue reads: `level` when given, else the smallest whose longer side has >= minSize pixels (level 0 if none). */
export function tissueLevel(
  levels: readonly SlideLevel[],
  opts: Pick<DetectTissueOptions, 'level' | 'minSize'> = {},
): number {
  if (opts.level !== undefined) {
    if (!Number.isInteger(opts.level) || opts.level < 0 || opts.level >= levels.length) {
      throw new RangeError(
        `detectTissue: level ${opts.level} does not exist (levels 0..${levels.length - 1})`,
      );
    }
    return opts.level;
  }
  const minSize = opts.minSize ?? TISSUE_DEFAULTS.minSize;
  for (let l = levels.length - 1; l > 0; l--)
    if (Math.max(levels[l]!.width, levels[l]!.height) >= minSize) return l;
  return 0;
}

/** Reads one low-resolution level of `slide` whole and returns its tissue mask (tissueMaskFromRgb). */
export async function detectTissue(
  slide: Pick<Slide, 'levels' | 'readRegion'>,
  opts: DetectTissueOptions = {},
): Promise<TissueMask & { rgb: RgbImage }> {
  const level = tissueLevel(slide.levels, opts);
  const { width, height, downsample } = slide.levels[level]!;
  const data = await slide.readRegion({ x: 0, y: 0, level, width, height });
  const rgb: RgbImage = { width, height, data };
  return { ...tissueMaskFromRgb(rgb, downsample, opts), level, rgb };
}

/** A copy of `rgb` with tissue pixels blended towards `colour` by `alpha` (0..1); the mask must have rgb's size. O(pixels). */
export function tissueOverlay(
  rgb: RgbImage,
  mask: MaskImage | LabelImage,
  colour: readonly [number, number, number] = [0, 200, 0],
  alpha = 0.4,
): RgbImage {
  assertBuffer('tissueOverlay image', rgb, 3);
  assertBuffer('tissueOverlay mask', mask);
  assertSameShape('tissueOverlay image vs mask', rgb, mask);
  if (!(alpha >= 0 && alpha <= 1))
    throw new RangeError(`tissueOverlay: alpha must be in [0, 1], got ${alpha}`);
  const out = Uint8Array.from(rgb.data);
  for (let i = 0; i < mask.data.length; i++) {
    if (mask.data[i] === 0) continue;
    for (let c = 0; c < 3; c++)
      out[3 * i + c] = Math.round((1 - alpha) * out[3 * i + c]! + alpha * colour[c]!);
  }
  return { width: rgb.width, height: rgb.height, data: out };
}

/** Writes the thumbnail overlay of a detectTissue result (its level's pixels, tissue tinted) as a PNG, atomically. */
export async function writeTissueOverlayPng(
  path: string,
  tissue: TissueMask & { rgb: RgbImage },
): Promise<void> {
  await writeRgbPng(path, tissueOverlay(tissue.rgb, tissue.mask));
}
