/**
 * Where a run's per-image outputs live, as the dashboard reads them. The `artifacts` table is
 * the source of truth: each row names a file (absolute, or relative to the NucleiFlow home) and a
 * kind. A per-image artifact belongs to the image whose name is its parent folder or the start of
 * its file name, so both layouts below are understood:
 *
 *   <home>/runs/<runId>/images/<image>/<layer>.png      (the layout `imageArtifactPath` builds)
 *   <any folder under home>/<image>.<layer>.png          (e.g. the output of `nucleiflow segment`)
 *
 * Layers: `labels` (16-bit instance map, 0 = background), `prob` (stage-1 foreground
 * probability), `distance` (stage-2 predicted distance map), `markers` (watershed seeds, a label
 * map or a binary mask). Kind names used by other writers are mapped by LAYER_KINDS.
 */
import { basename, dirname, join } from 'node:path';
import { MAP_LAYERS } from '../../src/imaging/layers.ts';
import type { ArtifactRecord } from '../../src/tracking/queries.ts';

export const LAYERS = ['labels', ...MAP_LAYERS] as const;
export type Layer = (typeof LAYERS)[number];

export const LAYER_KINDS: Record<Layer, readonly string[]> = {
  labels: ['labels', 'label_map', 'prediction', 'pred_labels'],
  prob: ['prob', 'probability', 'stage1_prob', 'seg_prob'],
  distance: ['distance', 'dist', 'distance_map'],
  markers: ['markers', 'marker', 'seeds'],
};

export const LAYER_TITLES: Record<Layer, string> = {
  labels: 'predicted instances',
  prob: 'stage-1 probability',
  distance: 'predicted distance map',
  markers: 'watershed markers',
};

/** The path (relative to home) where a writer should put a per-image layer of a run. */
export function imageArtifactPath(runId: string, image: string, layer: Layer): string {
  return join('runs', runId, 'images', image, `${layer}.png`);
}

function layerOfKind(kind: string): Layer | null {
  for (const l of LAYERS) if (LAYER_KINDS[l].includes(kind)) return l;
  return null;
}

function belongsTo(path: string, image: string): boolean {
  const dir = basename(dirname(path));
  if (dir === image) return true;
  const file = basename(path);
  return file.startsWith(`${image}.`) || file.startsWith(`${image}_`);
}

/** The artifact rows of one image of a run, by layer (first row wins if a writer registered two). */
export function imageLayers(
  rows: readonly ArtifactRecord[],
  image: string,
): Partial<Record<Layer, ArtifactRecord>> {
  const out: Partial<Record<Layer, ArtifactRecord>> = {};
  for (const r of rows) {
    const layer = layerOfKind(r.kind);
    if (layer && !out[layer] && belongsTo(r.path, image)) out[layer] = r;
  }
  return out;
}

/** Artifacts a user downloads from the run page (model card, results, reports) come first. */
export function isDownloadable(kind: string): boolean {
  return layerOfKind(kind) === null;
}
