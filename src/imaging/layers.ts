/**
 * The per-image intermediate maps of a segmentation (stage-1 probability, predicted distance,
 * watershed markers) as files: written by the inference activity, shown by the dashboard's
 * viewer as layers. Probabilities and distances are quantised to 16-bit grey PNG (value * 65535,
 * clipped to [0, 1] first; a distance map normalised to [0, 1] by its writer keeps 1/65535
 * resolution); markers are a label map. Files are written atomically.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeLabelsPng } from './io.ts';
import type { FloatImage, LabelImage } from './types.ts';
import { assertBuffer } from './types.ts';

/** The intermediate maps, by the name the viewer and the artifact rows use. */
export const MAP_LAYERS = ['prob', 'distance', 'markers'] as const;
export type MapLayer = (typeof MAP_LAYERS)[number];

function quantise(img: FloatImage): LabelImage {
  assertBuffer('quantise', img);
  const out = new Int32Array(img.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = img.data[i]!;
    // NaN becomes 0: a map with holes still displays.
    out[i] = v > 0 ? Math.round(Math.min(v, 1) * 65535) : 0;
  }
  return { width: img.width, height: img.height, data: out };
}

/** Writes one layer file at `path`, making its folder (a float map is quantised, a label map written as is). */
export async function writeLayerPng(path: string, img: FloatImage | LabelImage): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeLabelsPng(
    path,
    img.data instanceof Float32Array ? quantise(img as FloatImage) : (img as LabelImage),
  );
}
