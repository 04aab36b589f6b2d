// Growing instances into the background by a few pixels, after skimage.segmentation.expand_labels (city-block distance).
//
// Why: stage 1 learns eroded targets (Mahbod et al. 2019 cut touching borders and erode by 1 px),
// so its mask lies about one pixel inside the true outlines; growing the final instances by the
// erosion radius restores their size without merging them (a grown pixel joins one instance only).

import type { InstanceBoxes } from '../imaging/instance-boxes.ts';
import type { LabelImage } from '../imaging/types.ts';
import { assertBuffer } from '../imaging/types.ts';

/**
 * Gives every background pixel within city-block distance `distance` of an instance to its
 * nearest instance (4-connected rings, one per unit of distance). Instances never overwrite each
 * other. Ties (a pixel at the same distance from two instances) go to the instance whose ring
 * reaches it first: ring-0 pixels in raster order, later rings in the order they were claimed.
 * For distance 1 this is skimage's expand_labels(distance=1) (Euclidean <= 1 is the 4-neighbourhood)
 * up to ties; for larger distances the grown shape is a diamond, not a disc.
 *
 * Returns a new map, or edits `labels` with `inPlace`. `stats` (instance-boxes.ts), when given,
 * is updated to describe the grown instances (area, box, first pixel), so the caller's later
 * steps need no rescan. Throws RangeError for a distance that is not an integer >= 0.
 * O(pixels + grown pixels); one queue of `pixels` int32 allocated.
 */
export function expandLabels(
  labels: LabelImage,
  distance: number,
  opts: { inPlace?: boolean; stats?: InstanceBoxes } = {},
): LabelImage {
  assertBuffer('expandLabels', labels);
  if (!Number.isInteger(distance) || distance < 0) {
    throw new RangeError(`expandLabels: distance must be an integer >= 0, got ${distance}`);
  }
  const { width: w, height: h } = labels;
  const out = opts.inPlace ? labels.data : Int32Array.from(labels.data);
  if (opts.stats && opts.stats.area.length <= maxLabel(out)) {
    throw new RangeError(
      `expandLabels: stats cover ids up to ${opts.stats.maxId}, labels hold larger ids (stats from another map?)`,
    );
  }
  if (distance > 0) growRings(out, w, h, distance, opts.stats);
  return { width: w, height: h, data: out };
}

function maxLabel(d: Int32Array): number {
  let m = 0;
  for (let i = 0; i < d.length; i++) if (d[i]! > m) m = d[i]!;
  return m;
}

/** The hot loop: breadth-first rings from every labelled pixel that touches the background. */
function growRings(d: Int32Array, w: number, h: number, rings: number, stats?: InstanceBoxes): void {
  const queue = new Int32Array(w * h);
  let tail = 0;
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++, i++) {
      if (d[i] === 0) continue;
      if (
        (x > 0 && d[i - 1] === 0) ||
        (x < w - 1 && d[i + 1] === 0) ||
        (y > 0 && d[i - w] === 0) ||
        (y < h - 1 && d[i + w] === 0)
      ) {
        queue[tail++] = i;
      }
    }
  }
  const claim = (q: number, l: number) => {
    d[q] = l;
    queue[tail++] = q;
    if (!stats) return;
    const x = q % w;
    const y = (q / w) | 0;
    stats.area[l]!++;
    if (x < stats.x0[l]!) stats.x0[l] = x;
    if (x > stats.x1[l]!) stats.x1[l] = x;
    if (y < stats.y0[l]!) stats.y0[l] = y;
    if (y > stats.y1[l]!) stats.y1[l] = y;
    if (q < stats.first[l]!) stats.first[l] = q;
  };
  let head = 0;
  for (let r = 0; r < rings && head < tail; r++) {
    // Pixels claimed in this ring are queued behind `end` and grow in the next ring.
    const end = tail;
    while (head < end) {
      const p = queue[head++]!;
      const l = d[p]!;
      const x = p % w;
      if (x > 0 && d[p - 1] === 0) claim(p - 1, l);
      if (x < w - 1 && d[p + 1] === 0) claim(p + 1, l);
      if (p >= w && d[p - w] === 0) claim(p - w, l);
      if (p + w < w * h && d[p + w] === 0) claim(p + w, l);
    }
  }
}
