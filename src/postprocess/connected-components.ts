// Connected-component labelling for the post-processing of Mahbod et al. 2019 (one routine shared by all steps).
import type { LabelImage, MaskImage } from '../imaging/types.ts';
import { assertBuffer } from '../imaging/types.ts';

export type Connectivity = 4 | 8;

/**
 * Labels the connected components of the non-zero pixels of a mask (or, with `byValue`, of
 * pixels sharing the same non-zero value in a label map).
 *
 * Conventions: components are numbered 1..n in raster order of their first pixel (the order of
 * scipy.ndimage.label / skimage.measure.label); 8-connectivity by default (4 on request).
 * Two-pass union-find on typed arrays, O(pixels * alpha). Allocates the output and one
 * provisional-parent table.
 */
export function connectedComponents(
  img: MaskImage | LabelImage,
  connectivity: Connectivity = 8,
  byValue = false,
): { labels: LabelImage; count: number } {
  assertBuffer('connectedComponents', img);
  if (connectivity !== 4 && connectivity !== 8) {
    throw new RangeError(`connectedComponents: connectivity must be 4 or 8, got ${connectivity}`);
  }
  const { width: w, height: h } = img;
  const src = img.data;
  const n = w * h;
  const out = new Int32Array(n);
  // Provisional labels: at most one new label per pixel in the worst case (checkerboard).
  let parent = new Int32Array(1024);
  let next = 1;
  const find = (a: number): number => {
    while (parent[a] !== a) {
      parent[a] = parent[parent[a]!]!;
      a = parent[a]!;
    }
    return a;
  };
  const union = (a: number, b: number): number => {
    a = find(a);
    b = find(b);
    if (a === b) return a;
    // Keep the smaller root so the final numbering follows first appearance.
    if (a < b) {
      parent[b] = a;
      return a;
    }
    parent[a] = b;
    return b;
  };
  const eight = connectivity === 8;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const i = row + x;
      const v = src[i]!;
      if (v === 0) continue;
      let lab = 0;
      // Already-visited neighbours: W, NW, N, NE.
      if (x > 0 && out[i - 1] !== 0 && (!byValue || src[i - 1] === v)) lab = out[i - 1]!;
      if (y > 0) {
        const up = i - w;
        if (out[up] !== 0 && (!byValue || src[up] === v)) lab = lab === 0 ? out[up]! : union(lab, out[up]!);
        if (eight) {
          if (x > 0 && out[up - 1] !== 0 && (!byValue || src[up - 1] === v))
            lab = lab === 0 ? out[up - 1]! : union(lab, out[up - 1]!);
          if (x < w - 1 && out[up + 1] !== 0 && (!byValue || src[up + 1] === v))
            lab = lab === 0 ? out[up + 1]! : union(lab, out[up + 1]!);
        }
      }
      if (lab === 0) {
        if (next >= parent.length) {
          const grown = new Int32Array(parent.length * 2);
          grown.set(parent);
          parent = grown;
        }
        parent[next] = next;
        lab = next++;
      }
      out[i] = lab;
    }
  }
  // Resolve roots and renumber in order of first appearance (roots are the smallest member).
  const final = new Int32Array(next);
  let count = 0;
  for (let l = 1; l < next; l++) {
    const r = find(l);
    final[l] = r === l ? ++count : final[r]!;
  }
  for (let i = 0; i < n; i++) if (out[i] !== 0) out[i] = final[out[i]!]!;
  return { labels: { width: w, height: h, data: out }, count };
}

/** Pixel count per id (index = id, 0 = background), length max id + 1. O(pixels). */
export function labelAreas(labels: LabelImage): Int32Array {
  let max = 0;
  const d = labels.data;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (v > max) max = v;
    else if (v < 0) throw new RangeError(`labelAreas: negative label ${v} at pixel ${i}`);
  }
  const areas = new Int32Array(max + 1);
  for (let i = 0; i < d.length; i++) areas[d[i]!]!++;
  return areas;
}
