// Segmenting one planned region of a slide: read its window at level 0, bring it to the model's pixel scale,
// segment, map the labels back to level 0 and keep the instances the region owns (stitch.ts).
//
// Steps and conventions: the window is read at level 0 (readRegion); when scale (slide mpp / model mpp) is not 1 it
// is resized to scaledSize(w, h, scale) model pixels (resample.ts); a model image smaller than MIN_INPUT_SIZE on a
// side (a narrow region at the slide's edge) is padded with white on the right and bottom, and the labels are
// cropped back to the unpadded model image, so no instance lies outside the window; the labels are mapped
// nearest-neighbour at pixel centres to the window's level-0 size; ownedInstances picks the owned ones.
//
// Memory per region, for a W x H window and m = round(W s) x round(H s) model pixels (P >= m once padded): the
// window's RGB, 3 W H bytes, lives until the luma means are taken; the resized and padded copies (3 m and 3 P
// bytes) and the callback's labels (4 P, then 4 m cropped) are dropped once the level-0 labels (4 W H) exist, and
// those once the ownership is built. The callback's own working memory comes on top (segment: the nets' tiles
// plus tens of bytes per model pixel: float32 probability and distance, the normalised copy, post-processing). For
// the default 1152 x 1152 window at scale 1 that is 4 MB of RGB and 5.3 MB of labels here. Only the owned
// instances' runs and one float per instance are returned.
import type { LabelImage, RgbImage } from '../imaging/types.ts';
import { MIN_INPUT_SIZE } from '../model/infer.ts';
import { requireMpp } from './index.ts';
import type { Region } from './regions.ts';
import { labelsToLevel0, resizeRgb, scaledSize } from './resample.ts';
import { type Ownership, ownedInstances } from './stitch.ts';
import type { Slide } from './types.ts';

/**
 * Microns per pixel of the model's training images. The model card does not record one, so this is MoNuSeg's:
 * its 40x TCGA crops are 0.2527 um/px (the test slides' 40x level 0 is the same).
 */
export const MODEL_MPP = 0.2527;

/** Segments an RGB image at the model's scale; the labels must have the image's size. */
export type SegmentFn = (rgb: RgbImage) => Promise<LabelImage>;

export interface RegionSegmentation {
  readonly ownership: Ownership;
  /**
   * Mean luma (0.299 R + 0.587 G + 0.114 B, 0..255) of each owned instance's level-0 window pixels, in the order
   * of ownership.owned.
   */
  readonly meanLuma: Float64Array;
  /** The model-scale image size the callback segmented, before any padding. */
  readonly modelSize: { readonly width: number; readonly height: number };
  /** True when the model image was padded to MIN_INPUT_SIZE. */
  readonly padded: boolean;
}

/** The scale a slide's regions are resampled by: slide mpp (the mean of x and y) / model mpp. Throws without an mpp. */
export function slideScale(slide: Pick<Slide, 'path' | 'mpp'>, modelMpp: number = MODEL_MPP): number {
  if (!(modelMpp > 0)) throw new RangeError(`slideScale: modelMpp must be > 0, got ${modelMpp}`);
  const mpp = requireMpp(slide);
  return (mpp.x + mpp.y) / 2 / modelMpp;
}

/** `rgb` with white added right and below up to width x height (each >= rgb's), or `rgb` itself when no larger. */
function padWhite(rgb: RgbImage, width: number, height: number): RgbImage {
  if (width === rgb.width && height === rgb.height) return rgb;
  const data = new Uint8Array(width * height * 3).fill(255);
  for (let y = 0; y < rgb.height; y++)
    data.set(rgb.data.subarray(y * rgb.width * 3, (y + 1) * rgb.width * 3), y * width * 3);
  return { width, height, data };
}

/** The top-left width x height of `labels`, or `labels` itself when that is all of it. */
function cropTopLeft(labels: LabelImage, width: number, height: number): LabelImage {
  if (width === labels.width && height === labels.height) return labels;
  const data = new Int32Array(width * height);
  for (let y = 0; y < height; y++)
    data.set(labels.data.subarray(y * labels.width, y * labels.width + width), y * width);
  return { width, height, data };
}

/** Mean luma of each instance's pixels in the window's RGB (runs are level-0; the window starts at (ox, oy)). */
function meanLumas(ownership: Ownership, rgb: RgbImage, ox: number, oy: number): Float64Array {
  const out = new Float64Array(ownership.owned.length);
  ownership.owned.forEach((inst, k) => {
    const r = inst.runs;
    let sum = 0;
    for (let j = 0; j < r.length; j += 3) {
      const row = (r[j]! - oy) * rgb.width - ox;
      for (let i = (row + r[j + 1]!) * 3; i < (row + r[j + 2]!) * 3; i += 3) {
        sum += 0.299 * rgb.data[i]! + 0.587 * rgb.data[i + 1]! + 0.114 * rgb.data[i + 2]!;
      }
    }
    out[k] = sum / inst.area;
  });
  return out;
}

/**
 * Segments `region` of `slide` with `segment` at `opts.scale` model pixels per level-0 pixel (steps and memory in
 * this file's header) and returns the instances the region owns, in level-0 coordinates, with their mean luma.
 * Throws a RangeError when the callback's labels do not have its input's size.
 */
export async function segmentRegion(
  slide: Pick<Slide, 'readRegion'>,
  region: Pick<Region, 'id' | 'core' | 'window' | 'slideEdge'>,
  segment: SegmentFn,
  opts: { readonly scale: number },
): Promise<RegionSegmentation> {
  const win = region.window;
  const data = await slide.readRegion({ x: win.x, y: win.y, level: 0, width: win.width, height: win.height });
  const rgb: RgbImage = { width: win.width, height: win.height, data };
  const modelSize = scaledSize(win.width, win.height, opts.scale);
  const level0 = await labelsAtLevel0(rgb, modelSize, segment, region.id);
  const ownership = ownedInstances(region, level0.labels);
  return { ownership, meanLuma: meanLumas(ownership, rgb, win.x, win.y), modelSize, padded: level0.padded };
}

/** Resize, pad, segment, crop, map back: the window's labels at level 0. A function so the copies die on return. */
async function labelsAtLevel0(
  rgb: RgbImage,
  modelSize: { width: number; height: number },
  segment: SegmentFn,
  id: string,
): Promise<{ labels: LabelImage; padded: boolean }> {
  const { width: mw, height: mh } = modelSize;
  const model = mw === rgb.width && mh === rgb.height ? rgb : await resizeRgb(rgb, mw, mh);
  const input = padWhite(model, Math.max(mw, MIN_INPUT_SIZE), Math.max(mh, MIN_INPUT_SIZE));
  const labels = await segment(input);
  if (
    labels.width !== input.width ||
    labels.height !== input.height ||
    labels.data.length !== input.width * input.height
  ) {
    throw new RangeError(
      `segmentRegion: region ${id}: the segmenter returned ${labels.width}x${labels.height} labels for a ${input.width}x${input.height} image`,
    );
  }
  const cropped = cropTopLeft(labels, mw, mh);
  const level0 =
    mw === rgb.width && mh === rgb.height ? cropped : labelsToLevel0(cropped, rgb.width, rgb.height);
  return { labels: level0, padded: input !== model };
}
