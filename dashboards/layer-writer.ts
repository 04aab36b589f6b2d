/**
 * Stores a run's per-image map in the layout the dashboard's viewer reads
 * (dashboards/server/artifacts.ts). Register each returned path as an artifact of kind `layer`
 * (`prob`, `distance`, `markers`) to make it appear in the viewer.
 */
import { join } from 'node:path';
import { type MapLayer, writeLayerPng } from '../src/imaging/layers.ts';
import type { FloatImage, LabelImage } from '../src/imaging/types.ts';
import { imageArtifactPath } from './server/artifacts.ts';

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
