// Resampling a region between level-0 pixels and the model's pixel scale.
//
// Conventions: `scale` is model pixels per level-0 pixel (slide mpp / model mpp; 0.5 takes a 40x slide to a 20x
// model). A w x h window becomes round(w * scale) x round(h * scale) model pixels (at least 1 a side); the two
// images cover the same box edge to edge, so pixel centres map as x_model + 0.5 = (x0 + 0.5) * mw / w0 (the
// pixel-centre convention of types.ts). RGB is resampled with sharp's lanczos3 stretched to the exact size
// (fit 'fill', aspect not kept); labels are mapped back nearest-neighbour at pixel centres: level-0 pixel x takes
// model pixel floor((x + 0.5) * mw / w0), computed in integers, so ids are never blended.
import sharp from 'sharp';
import type { LabelImage, RgbImage } from '../imaging/types.ts';
import { assertBuffer } from '../imaging/types.ts';

/** The size of a width x height image resampled by `scale`: each side rounded, at least 1. */
export function scaledSize(width: number, height: number, scale: number): { width: number; height: number } {
  if (!(scale > 0 && Number.isFinite(scale)))
    throw new RangeError(`scaledSize: scale must be > 0, got ${scale}`);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** `rgb` resized to width x height (lanczos3, stretched to fill). Returns a copy even when the size is unchanged. */
export async function resizeRgb(rgb: RgbImage, width: number, height: number): Promise<RgbImage> {
  assertBuffer('resizeRgb', rgb, 3);
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`resizeRgb: invalid size ${width}x${height}`);
  }
  if (width === rgb.width && height === rgb.height) return { width, height, data: Uint8Array.from(rgb.data) };
  const buf = await sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
    .resize(width, height, { kernel: 'lanczos3', fit: 'fill' })
    .raw()
    .toBuffer();
  return { width, height, data: new Uint8Array(buf.buffer, buf.byteOffset, buf.length) };
}

/** Source index of each of n destination pixels: floor((2i + 1) * m / (2 n)), the pixel-centre rule. */
function centreIndex(n: number, m: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(((2 * i + 1) * m) / (2 * n));
  return out;
}

/** `labels` (model pixels) mapped nearest-neighbour onto a w0 x h0 level-0 grid (rule in this file's header). O(w0 * h0). */
export function labelsToLevel0(labels: LabelImage, w0: number, h0: number): LabelImage {
  assertBuffer('labelsToLevel0', labels);
  if (!Number.isSafeInteger(w0) || !Number.isSafeInteger(h0) || w0 <= 0 || h0 <= 0) {
    throw new RangeError(`labelsToLevel0: invalid size ${w0}x${h0}`);
  }
  const { width: mw, height: mh, data } = labels;
  if (mw === w0 && mh === h0) return { width: w0, height: h0, data: Int32Array.from(data) };
  const xs = centreIndex(w0, mw);
  const ys = centreIndex(h0, mh);
  const out = new Int32Array(w0 * h0);
  for (let y = 0, i = 0; y < h0; y++) {
    const row = ys[y]! * mw;
    for (let x = 0; x < w0; x++, i++) out[i] = data[row + xs[x]!]!;
  }
  return { width: w0, height: h0, data: out };
}
