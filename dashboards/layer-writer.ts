/**
 * For writers (the inference activity, `nucleiflow segment`): stores the per-image maps that the
 * dashboard's viewer shows as layers, in the layout it reads (dashboards/server/artifacts.ts).
 * Probabilities and distances are quantised to 16-bit grey PNG (value * 65535, clipped to
 * [0, 1] first; a distance map normalised to [0, 1] by its writer keeps 1/65535 resolution);
 * markers are a label map. Files are written atomically. Register each returned path as an
 * artifact of kind `layer` (`prob`, `distance`, `markers`) to make it appear in the viewer.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeLabelsPng } from '../src/imaging/io.ts';
import type { FloatImage, LabelImage } from '../src/imaging/types.ts';
import { assertBuffer } from '../src/imaging/types.ts';
import { imageArtifactPath, type Layer } from './server/artifacts.ts';

export type MapLayer = Exclude<Layer, 'labels'>;

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

/** Writes one layer file at `path` (a float map is quantised, a label map written as is). */
export async function writeLayerPng(path: string, img: FloatImage | LabelImage): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeLabelsPng(
    path,
    img.data instanceof Float32Array ? quantise(img as FloatImage) : (img as LabelImage),
  );
}

/** Writes one layer and returns its absolute path (under `home`). */
export async function writeImageLayer(
  home: string,
  runId: string,
  image: string,
  layer: MapLayer,
  img: FloatImage | LabelImage,
): Promise<string> {
  const path = join(home, imageArtifactPath(runId, image, layer));
  await writeLayerPng(path, img);
  return path;
}
