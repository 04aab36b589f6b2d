// Per-instance hole filling after the watershed (Mahbod et al. 2019 post-processing).

import { type InstanceBoxes, instanceBoxes } from '../imaging/instance-boxes.ts';
import type { LabelImage } from '../imaging/types.ts';
import { assertBuffer } from '../imaging/types.ts';

/**
 * Fills the holes of every instance, like scipy.ndimage.binary_fill_holes(labels == id) per id:
 * a hole of an instance is a 4-connected region of pixels outside it that cannot reach the image
 * border without crossing it. Only background pixels are filled (another nucleus inside a hole is
 * kept); ids are processed in increasing order on the input map, so a background pixel enclosed
 * by nested instances goes to the lowest id.
 *
 * Each instance is flooded from the border of its bounding box grown by one pixel (that ring is
 * outside the instance and connected to the image border, so the result is exact):
 * O(pixels + sum of bounding-box areas). Returns a new map, or edits `labels` with `inPlace`
 * (same result: a pixel filled for a lower id is no longer background for the later ones, and
 * counts as outside them either way). `stats`: the boxes of `labels` when the caller has them
 * (instance-boxes.ts), which saves the scan; filling does not change them.
 */
export function fillHolesPerInstance(labels: LabelImage, inPlace = false, stats?: InstanceBoxes): LabelImage {
  assertBuffer('fillHolesPerInstance', labels);
  const { width: w, height: h } = labels;
  const src = labels.data;
  const out = inPlace ? src : Int32Array.from(src);
  const { maxId, x0, y0, x1, y1 } = stats ?? instanceBoxes(labels, 'fillHolesPerInstance');
  if (maxId === 0) return { width: w, height: h, data: out };
  // Scratch sized for the largest padded box, reused by every instance.
  let maxBox = 0;
  for (let l = 1; l <= maxId; l++) {
    if (x1[l]! < 0) continue;
    const a = (x1[l]! - x0[l]! + 3) * (y1[l]! - y0[l]! + 3);
    if (a > maxBox) maxBox = a;
  }
  const seen = new Uint8Array(maxBox);
  const stack = new Int32Array(maxBox);
  for (let l = 1; l <= maxId; l++) {
    if (x1[l]! < 0) continue;
    // Padded box: bx in [x0 - 1, x1 + 1]; pixels off the image count as outside the instance.
    const bx = x0[l]! - 1;
    const by = y0[l]! - 1;
    const bw = x1[l]! - x0[l]! + 3;
    const bh = y1[l]! - y0[l]! + 3;
    const inside = (bi: number): boolean => {
      const yy = by + ((bi / bw) | 0);
      const xx = bx + (bi % bw);
      return xx >= 0 && yy >= 0 && xx < w && yy < h && src[yy * w + xx] === l;
    };
    seen.fill(0, 0, bw * bh);
    // Quick exit: an instance whose box interior has no non-instance pixel has no hole.
    let anyOther = false;
    for (let yy = y0[l]!; yy <= y1[l]! && !anyOther; yy++)
      for (let xx = x0[l]!; xx <= x1[l]!; xx++)
        if (src[yy * w + xx] !== l) {
          anyOther = true;
          break;
        }
    if (!anyOther) continue;
    let sp = 0;
    for (let bxI = 0; bxI < bw; bxI++) {
      stack[sp++] = bxI;
      stack[sp++] = (bh - 1) * bw + bxI;
    }
    for (let byI = 1; byI < bh - 1; byI++) {
      stack[sp++] = byI * bw;
      stack[sp++] = byI * bw + bw - 1;
    }
    for (let k = 0; k < sp; k++) seen[stack[k]!] = 1;
    while (sp > 0) {
      const bi = stack[--sp]!;
      const cy = (bi / bw) | 0;
      const cx = bi - cy * bw;
      if (cx > 0 && seen[bi - 1] === 0 && !inside(bi - 1)) {
        seen[bi - 1] = 1;
        stack[sp++] = bi - 1;
      }
      if (cx < bw - 1 && seen[bi + 1] === 0 && !inside(bi + 1)) {
        seen[bi + 1] = 1;
        stack[sp++] = bi + 1;
      }
      if (cy > 0 && seen[bi - bw] === 0 && !inside(bi - bw)) {
        seen[bi - bw] = 1;
        stack[sp++] = bi - bw;
      }
      if (cy < bh - 1 && seen[bi + bw] === 0 && !inside(bi + bw)) {
        seen[bi + bw] = 1;
        stack[sp++] = bi + bw;
      }
    }
    for (let yy = y0[l]!; yy <= y1[l]!; yy++) {
      for (let xx = x0[l]!; xx <= x1[l]!; xx++) {
        const i = yy * w + xx;
        if (out[i] === 0 && src[i] === 0 && seen[(yy - by) * bw + (xx - bx)] === 0) out[i] = l;
      }
    }
  }
  return { width: w, height: h, data: out };
}
