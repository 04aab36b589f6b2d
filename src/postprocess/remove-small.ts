// Removal of tiny instances after the watershed (Mahbod et al. 2019 post-processing).

import { type InstanceBoxes, instanceBoxes } from '../imaging/instance-boxes.ts';
import type { LabelImage, MaskImage } from '../imaging/types.ts';
import { assertBuffer } from '../imaging/types.ts';
import { connectedComponents } from './connected-components.ts';

/**
 * Sets to 0 every object with fewer than `minSize` pixels (default 20), like
 * skimage.morphology.remove_small_objects(ar, max_size=minSize - 1): on a label map an object is
 * an id (its pixels counted wherever they are, as skimage does for integer input); on a mask
 * (`isMask`) objects are 8-connected components and the result is a label map of the survivors
 * with their component ids. Ids are not renumbered. `inPlace` (label maps only) edits the input
 * instead of a copy. O(pixels).
 */
export function removeSmallObjects(
  img: LabelImage | MaskImage,
  minSize = 20,
  isMask = false,
  inPlace = false,
): LabelImage {
  assertBuffer('removeSmallObjects', img);
  if (!Number.isInteger(minSize) || minSize < 0) {
    throw new RangeError(`removeSmallObjects: minSize must be an integer >= 0, got ${minSize}`);
  }
  if (isMask) {
    const cc = connectedComponents(img, 8);
    const d = cc.labels.data;
    for (let i = 0; i < d.length; i++) if (cc.areas[d[i]!]! < minSize) d[i] = 0;
    return cc.labels;
  }
  const labels: LabelImage =
    inPlace && img.data instanceof Int32Array
      ? (img as LabelImage)
      : { width: img.width, height: img.height, data: Int32Array.from(img.data) };
  removeSmallInstances(labels, minSize, instanceBoxes(labels, 'removeSmallObjects'));
  return labels;
}

/**
 * In place: clears the ids of `labels` with 0 < area < minSize, visiting only their bounding
 * boxes, and marks them absent in `stats` (area 0, empty box). O(sum of the small boxes + max id).
 */
export function removeSmallInstances(labels: LabelImage, minSize: number, stats: InstanceBoxes): void {
  const { width: w } = labels;
  const d = labels.data;
  const { area, x0, y0, x1, y1, first } = stats;
  for (let l = 1; l <= stats.maxId; l++) {
    if (area[l] === 0 || area[l]! >= minSize) continue;
    for (let y = y0[l]!; y <= y1[l]!; y++) {
      for (let i = y * w + x0[l]!, e = y * w + x1[l]!; i <= e; i++) if (d[i] === l) d[i] = 0;
    }
    area[l] = 0;
    x1[l] = -1;
    y1[l] = -1;
    first[l] = -1;
  }
}
