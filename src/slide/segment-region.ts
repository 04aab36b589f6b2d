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
// window's RGB, 3 W H bytes, lives until the records are measured; the resized and padded copies (3 m and 3 P
// bytes) and the callback's labels (4 P, then 4 m cropped) are dropped once the level-0 labels (4 W H) exist, and
// those once the ownership is built. The callback's own working memory comes on top (segment: the nets' tiles
// plus tens of bytes per model pixel: float32 probability and distance, the normalised copy, post-processing). For
// a 1600 x 1600 window (the default) at scale 1 that is 7.7 MB of RGB and 10.2 MB of labels here. Only the owned
// instances' runs and records are returned.
import type { LabelImage, RgbImage } from '../imaging/types.ts';
import { MIN_INPUT_SIZE } from '../model/infer.ts';
import { type NucleusRecord, nucleusRecord } from './outputs.ts';
import type { Region } from './regions.ts';
import { labelsToLevel0, resizeRgb, scaledSize } from './resample.ts';
import { type OwnedInstance, type Ownership, ownedInstances } from './stitch.ts';
import type { Slide } from './types.ts';

/** Segments an RGB image at the model's scale; the labels must have the image's size. */
export type SegmentFn = (rgb: RgbImage) => Promise<LabelImage>;

export interface RegionSegmentation {
  readonly ownership: Ownership;
  /** Each owned instance's outline and measures (outputs.ts), in the order of ownership.owned. */
  readonly records: NucleusRecord[];
  /** The model-scale image size the callback segmented, before any padding. */
  readonly modelSize: { readonly width: number; readonly height: number };
  /** True when the model image was padded to MIN_INPUT_SIZE. */
  readonly padded: boolean;
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

/** The RGB of level-0 box `b` cut from the window's RGB (the window starts at (ox, oy)). O(box area). */
function cropBox(rgb: RgbImage, b: OwnedInstance['box'], ox: number, oy: number): Uint8Array {
  const out = new Uint8Array(b.width * b.height * 3);
  for (let y = 0; y < b.height; y++) {
    const src = ((b.y - oy + y) * rgb.width + (b.x - ox)) * 3;
    out.set(rgb.data.subarray(src, src + b.width * 3), y * b.width * 3);
  }
  return out;
}

/**
 * Segments `region` of `slide` with `segment` at `opts.scale` model pixels per level-0 pixel (steps and memory in
 * this file's header) and returns the instances the region owns, in level-0 coordinates, with their records
 * (outline and measures; µm measures when `opts.mpp`, the level-0 pixel size, is given).
 * Throws a RangeError when the callback's labels do not have its input's size.
 */
export async function segmentRegion(
  slide: Pick<Slide, 'readRegion'>,
  region: Pick<Region, 'id' | 'core' | 'window' | 'slideEdge'>,
  segment: SegmentFn,
  opts: { readonly scale: number; readonly mpp?: number },
): Promise<RegionSegmentation> {
  const win = region.window;
  const data = await slide.readRegion({ x: win.x, y: win.y, level: 0, width: win.width, height: win.height });
  const rgb: RgbImage = { width: win.width, height: win.height, data };
  const modelSize = scaledSize(win.width, win.height, opts.scale);
  const level0 = await labelsAtLevel0(rgb, modelSize, segment, region.id);
  const ownership = ownedInstances(region, level0.labels);
  const records = ownership.owned.map((inst) =>
    nucleusRecord(inst, cropBox(rgb, inst.box, win.x, win.y), opts.mpp),
  );
  return { ownership, records, modelSize, padded: level0.padded };
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
