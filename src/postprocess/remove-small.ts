// Removal of tiny instances after the watershed (Mahbod et al. 2019 post-processing).
import type { LabelImage, MaskImage } from '../imaging/types.ts';
import { assertBuffer } from '../imaging/types.ts';
import { connectedComponents, labelAreas } from './connected-components.ts';

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
  const labels: LabelImage = isMask
    ? connectedComponents(img, 8).labels
    : inPlace && img.data instanceof Int32Array
      ? (img as LabelImage)
      : { width: img.width, height: img.height, data: Int32Array.from(img.data) };
  const areas = labelAreas(labels);
  const d = labels.data;
  for (let i = 0; i < d.length; i++) if (areas[d[i]!]! < minSize) d[i] = 0;
  return labels;
}
