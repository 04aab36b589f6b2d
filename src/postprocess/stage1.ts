// Instances from the stage-1 map alone: the "U-Net" column of Table 1 of Mahbod et al. 2019 (no distance map, no watershed).

import { instanceBoxes } from '../imaging/instance-boxes.ts';
import type { FloatImage, LabelImage, MaskImage } from '../imaging/types.ts';
import { assertBuffer } from '../imaging/types.ts';
import { connectedComponents } from './connected-components.ts';
import { expandLabels } from './expand-labels.ts';
import { fillHolesPerInstance } from './fill-holes.ts';
import { binarise, POSTPROCESS_DEFAULTS } from './pipeline.ts';
import { relabelByFirstPixel } from './relabel.ts';
import { removeSmallInstances } from './remove-small.ts';

export interface Stage1Options {
  /** foreground = prob > threshold (default 0.5, as postprocess). Ignored for a MaskImage. */
  readonly threshold?: number;
  /** Instances below this many pixels are removed (default 20, as postprocess). */
  readonly minSize?: number;
  /** Grow the instances by this many pixels into the background (default 0), as postprocess. */
  readonly expand?: number;
  /** Fill holes per instance (default true). */
  readonly fillHoles?: boolean;
}

/**
 * The two-stage chain's cleanup applied to the stage-1 map without stage 2: the thresholded map's
 * 8-connected components are the instances; those under minSize px are removed, the rest grown by
 * `expand` px (0 unless asked), their holes filled, ids renumbered 1..N in raster order of first
 * pixel. Touching nuclei stay merged: splitting them is what stage 2 and the watershed are for.
 */
export function stage1Instances(foreground: FloatImage | MaskImage, opts: Stage1Options = {}): LabelImage {
  assertBuffer('stage1Instances foreground', foreground);
  const mask = binarise(foreground, opts.threshold ?? POSTPROCESS_DEFAULTS.threshold);
  const { labels } = connectedComponents(mask, 8);
  const stats = instanceBoxes(labels, 'stage1Instances');
  removeSmallInstances(labels, opts.minSize ?? 20, stats);
  if (opts.expand) expandLabels(labels, opts.expand, { inPlace: true, stats });
  if (opts.fillHoles ?? true) fillHolesPerInstance(labels, true, stats);
  relabelByFirstPixel(labels, stats);
  return labels;
}
