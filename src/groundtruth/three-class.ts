// Three-class stage-1 target (background / nucleus interior / nucleus boundary), the "boundary-aware" target of Caicedo et al. 2019 ("Evaluation of Deep Learning Strategies for Nucleus Segmentation in Fluorescence Images", Cytometry A).
//
// Conventions: a nucleus pixel of id a is interior when every pixel of the (2w+1) x (2w+1) square
// centred on it (clipped to the image: the image border is not background, as in erode.ts) has id a;
// every other nucleus pixel is boundary. So with w = 1 the boundary is the ring of pixels 8-adjacent
// to background or to another nucleus, and two touching nuclei are parted by a band of 2w boundary
// pixels. Equivalently: interior = each nucleus eroded on its own by a square of radius w.
// Complexity: a running min and max of the labels along rows, then a column test, O(n w) time, two
// Int32Array(n) scratch.
import type { LabelImage, MaskImage } from '../imaging/types.ts';
import { assertBuffer } from '../imaging/types.ts';

export const BACKGROUND = 0;
export const INTERIOR = 1;
export const BOUNDARY = 2;

/** Class per pixel: 0 background, 1 interior, 2 boundary (boundary width `w` px, 1..8). */
export function threeClassTarget(labels: LabelImage, w: number): MaskImage {
  assertBuffer('threeClassTarget', labels, 1);
  if (!Number.isInteger(w) || w < 1 || w > 8)
    throw new RangeError(`threeClassTarget: boundary width must be an integer 1..8, got ${w}`);
  const { width, height, data } = labels;
  const n = width * height;
  const rowMin = new Int32Array(n);
  const rowMax = new Int32Array(n);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      let lo = data[row + x]!;
      let hi = lo;
      const a = Math.max(0, x - w);
      const b = Math.min(width - 1, x + w);
      for (let k = a; k <= b; k++) {
        const v = data[row + k]!;
        if (v < lo) lo = v;
        else if (v > hi) hi = v;
      }
      rowMin[row + x] = lo;
      rowMax[row + x] = hi;
    }
  }
  const out = new Uint8Array(n);
  for (let y = 0; y < height; y++) {
    const a = Math.max(0, y - w);
    const b = Math.min(height - 1, y + w);
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const id = data[i]!;
      if (id === 0) continue;
      let same = true;
      for (let k = a; k <= b && same; k++) {
        const j = k * width + x;
        if (rowMin[j] !== id || rowMax[j] !== id) same = false;
      }
      out[i] = same ? INTERIOR : BOUNDARY;
    }
  }
  return { width, height, data: out };
}
