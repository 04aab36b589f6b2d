/**
 * The per-image intermediate maps of a segmentation (stage-1 probability, predicted distance,
 * watershed markers) as files: written by the inference activity, shown by the dashboard's
 * viewer as layers. Probabilities and distances are quantised to 16-bit grey PNG (value * 65535,
 * clipped to [0, 1] first; a distance map normalised to [0, 1] by its writer keeps 1/65535
 * resolution). Markers (one pixel per watershed seed, the seed's number as its value) are only
 * shown, coloured by value: numbers up to 65,535 are stored as they are, larger ones folded to
 * ((n - 1) mod 65535) + 1, so that a degenerate run (an untrained distance net seeds more than
 * 65,535 markers) still writes its layer with every seed in place. Instance label maps are not
 * layers: writeLabelsPng refuses an id above 65,535 rather than fold it. Files are written
 * atomically.
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

/** The largest value of a 16-bit sample. */
const MAX_CODE = 65535;

/** A seed map as a 16-bit layer stores it: values above 65,535 folded into 1..65,535, never to 0. */
function foldSeeds(img: LabelImage): LabelImage {
  assertBuffer('foldSeeds', img);
  let max = 0;
  for (let i = 0; i < img.data.length; i++) if (img.data[i]! > max) max = img.data[i]!;
  if (max <= MAX_CODE) return img;
  const out = new Int32Array(img.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = img.data[i]!;
    out[i] = v > MAX_CODE ? ((v - 1) % MAX_CODE) + 1 : v;
  }
  return { width: img.width, height: img.height, data: out };
}

/**
 * Writes one layer file at `path`, making its folder: a float map is quantised, a seed map
 * (markers) stored with its values folded into 16 bits (see the module's comment).
 */
export async function writeLayerPng(path: string, img: FloatImage | LabelImage): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeLabelsPng(
    path,
    img.data instanceof Float32Array ? quantise(img as FloatImage) : foldSeeds(img as LabelImage),
  );
}
