// HED colour augmentation after Tellez et al. 2018, "Whole-slide mitosis detection in H&E breast histology using PHH3 as a reference to train distilled stain-invariant convolutional networks", IEEE TMI.
//
// Colour deconvolution with the Ruifrok & Johnston (2001) matrix exactly as skimage.color.rgb2hed /
// hed2rgb (scikit-image 0.26): rgb in [0, 1] clamped below at 1e-6, stains = (ln rgb / ln 1e-6) @
// inv(M) clamped below at 0; back: rgb = exp(-(stains * -ln 1e-6) @ M) clipped to [0, 1]; bytes round
// to nearest. Per image, each of the three channels (H, E, D) gets its own scale alpha ~ U(1 - s, 1 + s)
// and bias beta ~ U(-b, b): hed' = alpha * hed + beta. Random numbers are drawn in the order
// alpha_H, alpha_E, alpha_D, beta_H, beta_E, beta_D (six rng.next() calls per image).
import type { RgbImage } from '../imaging/types.ts';
import { assertBuffer } from '../imaging/types.ts';
import type { Rng } from './rng.ts';

/** skimage rgb_from_hed: rows are the H, E, DAB optical-density vectors (R, G, B). Row-major. */
export const RGB_FROM_HED = new Float64Array([0.65, 0.7, 0.29, 0.07, 0.99, 0.11, 0.27, 0.57, 0.78]);

/** inv(RGB_FROM_HED), computed once. */
export const HED_FROM_RGB = invert3(RGB_FROM_HED);

const LOG_ADJUST = Math.log(1e-6);

function invert3(m: Float64Array): Float64Array {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return new Float64Array([
    A / det,
    -(b * i - c * h) / det,
    (b * f - c * e) / det,
    B / det,
    (a * i - c * g) / det,
    -(a * f - c * d) / det,
    C / det,
    -(a * h - b * g) / det,
    (a * e - b * d) / det,
  ]);
}

/** ln(max(v / 255, 1e-6)) / ln(1e-6) for the 256 byte values. */
const LOG_TABLE = (() => {
  const t = new Float64Array(256);
  for (let v = 0; v < 256; v++) t[v] = Math.log(Math.max(v / 255, 1e-6)) / LOG_ADJUST;
  return t;
})();

/** skimage.color.rgb2hed: interleaved H, E, D floats (float64), same pixel order. O(n). */
export function rgbToHed(img: RgbImage): Float64Array {
  assertBuffer('rgbToHed', img, 3);
  const m = HED_FROM_RGB;
  const src = img.data;
  const out = new Float64Array(src.length);
  for (let j = 0; j < src.length; j += 3) {
    const r = LOG_TABLE[src[j]];
    const g = LOG_TABLE[src[j + 1]];
    const b = LOG_TABLE[src[j + 2]];
    for (let c = 0; c < 3; c++) {
      const s = r * m[c] + g * m[3 + c] + b * m[6 + c];
      out[j + c] = Math.max(s, 0);
    }
  }
  return out;
}

/** skimage.color.hed2rgb as floats in [0, 1] (interleaved RGB). O(n). */
export function hedToRgbFloat(hed: Float64Array): Float64Array {
  if (hed.length % 3 !== 0)
    throw new RangeError(`hedToRgbFloat: ${hed.length} values is not a multiple of 3`);
  const out = new Float64Array(hed.length);
  const m = RGB_FROM_HED;
  const k = LOG_ADJUST; // -(s * -ln 1e-6) = s * ln 1e-6
  for (let j = 0; j < hed.length; j += 3) {
    const h = hed[j] * k;
    const e = hed[j + 1] * k;
    const d = hed[j + 2] * k;
    for (let c = 0; c < 3; c++) {
      const v = Math.exp(h * m[c] + e * m[3 + c] + d * m[6 + c]);
      out[j + c] = Math.min(v, 1);
    }
  }
  return out;
}

/** hed2rgb back to 8-bit RGB, rounding to nearest. */
export function hedToRgb(hed: Float64Array, width: number, height: number): RgbImage {
  if (hed.length !== width * height * 3) {
    throw new RangeError(`hedToRgb: ${hed.length} values do not fit ${width}x${height}x3`);
  }
  const f = hedToRgbFloat(hed);
  const out = new Uint8Array(f.length);
  for (let i = 0; i < f.length; i++) out[i] = Math.round(f[i] * 255);
  return { width, height, data: out };
}

export interface HedJitter {
  /** Scale range: alpha ~ U(1 - scale, 1 + scale). */
  readonly scale: number;
  /** Bias range, in skimage HED units: beta ~ U(-bias, bias). */
  readonly bias: number;
}

/**
 * Presets. Scales follow Tellez et al. (2018/2019): light 0.05, strong 0.2 (medium 0.1 in
 * between). Biases are given in skimage's HED units, where a pixel of typical nuclear
 * haematoxylin measures about 0.035 (median on MoNuSeg nuclei, 95th percentile 0.07) and background about 0; biases of Tellez's 0.05-0.2
 * would shift white background to solid colour in these units, so they are ten times smaller here
 * (light 0.005, medium 0.01, strong 0.02).
 */
export const HED_PRESETS = {
  light: { scale: 0.05, bias: 0.005 },
  medium: { scale: 0.1, bias: 0.01 },
  strong: { scale: 0.2, bias: 0.02 },
} as const satisfies Record<string, HedJitter>;

export type HedPreset = keyof typeof HED_PRESETS;

/** The six random numbers of one augmentation: alpha[H, E, D], beta[H, E, D]. */
export interface HedParams {
  readonly alpha: readonly [number, number, number];
  readonly beta: readonly [number, number, number];
}

/** Draws alpha and beta for one image (six rng.next() calls, in the documented order). */
export function drawHedParams(rng: Rng, jitter: HedJitter | HedPreset): HedParams {
  const j = typeof jitter === 'string' ? HED_PRESETS[jitter] : jitter;
  if (!j) throw new RangeError(`hed: unknown preset '${String(jitter)}' (light, medium, strong)`);
  if (!(j.scale >= 0 && j.scale < 1 && j.bias >= 0 && Number.isFinite(j.bias))) {
    throw new RangeError(`hed: scale must be in [0, 1) and bias >= 0, got scale ${j.scale}, bias ${j.bias}`);
  }
  const a = (): number => rng.uniform(1 - j.scale, 1 + j.scale);
  const b = (): number => rng.uniform(-j.bias, j.bias);
  const alpha: [number, number, number] = [a(), a(), a()];
  const beta: [number, number, number] = [b(), b(), b()];
  return { alpha, beta };
}

/** hed2rgb(alpha * rgb2hed(img) + beta), one pass, bytes rounded to nearest. O(n). */
export function applyHedParams(img: RgbImage, p: HedParams): RgbImage {
  assertBuffer('hedAugment', img, 3);
  const fwd = HED_FROM_RGB;
  const back = RGB_FROM_HED;
  const src = img.data;
  const out = new Uint8Array(src.length);
  const [a0, a1, a2] = p.alpha;
  const [b0, b1, b2] = p.beta;
  for (let j = 0; j < src.length; j += 3) {
    const r = LOG_TABLE[src[j]];
    const g = LOG_TABLE[src[j + 1]];
    const b = LOG_TABLE[src[j + 2]];
    let h = r * fwd[0] + g * fwd[3] + b * fwd[6];
    let e = r * fwd[1] + g * fwd[4] + b * fwd[7];
    let d = r * fwd[2] + g * fwd[5] + b * fwd[8];
    h = (Math.max(h, 0) * a0 + b0) * LOG_ADJUST;
    e = (Math.max(e, 0) * a1 + b1) * LOG_ADJUST;
    d = (Math.max(d, 0) * a2 + b2) * LOG_ADJUST;
    for (let c = 0; c < 3; c++) {
      const v = Math.exp(h * back[c] + e * back[3 + c] + d * back[6 + c]);
      out[j + c] = v >= 1 ? 255 : Math.round(v * 255);
    }
  }
  return { width: img.width, height: img.height, data: out };
}

/** Draws parameters from `rng` and augments `img`; returns both so a caller can log them. */
export function hedAugment(
  img: RgbImage,
  rng: Rng,
  jitter: HedJitter | HedPreset = 'medium',
): { image: RgbImage; params: HedParams } {
  const params = drawHedParams(rng, jitter);
  return { image: applyHedParams(img, params), params };
}
