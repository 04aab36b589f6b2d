// Per-instance area, bounding box and first pixel of a label image in one pass: shared by the post-processing's
// cleanup steps, the slide stitching and the outline tracers (the segment CSV's measurements are instance-stats.ts).
import type { LabelImage, MaskImage } from './types.ts';

/** Indexed by id (0 = background, unused); an id with area 0 is absent and its box is empty (x1 = -1). */
export interface InstanceBoxes {
  readonly maxId: number;
  readonly area: Int32Array;
  /** Inclusive bounding box. */
  readonly x0: Int32Array;
  readonly y0: Int32Array;
  readonly x1: Int32Array;
  readonly y1: Int32Array;
  /** Raster index of the first pixel (row-major), -1 when absent. */
  readonly first: Int32Array;
}

/** One raster pass after a max-id pass; throws RangeError naming the pixel of a negative id. O(pixels + max id). */
export function instanceBoxes(labels: LabelImage | MaskImage, what = 'instanceBoxes'): InstanceBoxes {
  const { width: w, height: h, data } = labels;
  let maxId = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v > maxId) maxId = v;
    else if (v < 0) throw new RangeError(`${what}: negative label ${v} at x=${i % w}, y=${(i / w) | 0}`);
  }
  const area = new Int32Array(maxId + 1);
  const x0 = new Int32Array(maxId + 1).fill(w);
  const y0 = new Int32Array(maxId + 1).fill(h);
  const x1 = new Int32Array(maxId + 1).fill(-1);
  const y1 = new Int32Array(maxId + 1).fill(-1);
  const first = new Int32Array(maxId + 1).fill(-1);
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++, i++) {
      const l = data[i]!;
      if (l === 0) continue;
      if (area[l]++ === 0) {
        first[l] = i;
        y0[l] = y;
      }
      if (x < x0[l]!) x0[l] = x;
      if (x > x1[l]!) x1[l] = x;
      y1[l] = y;
    }
  }
  return { maxId, area, x0, y0, x1, y1, first };
}
