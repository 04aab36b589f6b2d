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
 * Works on horizontal runs: each run is united with the runs of the row above that touch it
 * (overlap, or diagonal contact with 8-connectivity), union-find on run ids, then runs are
 * painted with their root's final number. O(pixels + runs * alpha); the run tables grow by
 * doubling. Also returns the pixel count per component (`areas[0]`: background), from the runs.
 */
export function connectedComponents(
  img: MaskImage | LabelImage,
  connectivity: Connectivity = 8,
  byValue = false,
): { labels: LabelImage; count: number; areas: Int32Array } {
  assertBuffer('connectedComponents', img);
  if (connectivity !== 4 && connectivity !== 8) {
    throw new RangeError(`connectedComponents: connectivity must be 4 or 8, got ${connectivity}`);
  }
  const { width: w, height: h } = img;
  const src = img.data;
  const out = new Int32Array(w * h);
  let cap = 4096;
  let runStart = new Int32Array(cap);
  let runEnd = new Int32Array(cap); // exclusive
  let runRow = new Int32Array(cap);
  let parent = new Int32Array(cap);
  let nRuns = 0;
  const diag = connectivity === 8 ? 1 : 0;
  let prevFirst = 0; // first run of the previous row
  let prevLast = 0; // one past its last run
  for (let y = 0; y < h; y++) {
    const o = y * w;
    const rowFirst = nRuns;
    let p = prevFirst; // scan pointer into the previous row's runs (both rows are sorted)
    let x = 0;
    while (x < w) {
      const v = src[o + x]!;
      if (v === 0) {
        x++;
        continue;
      }
      const s = x;
      if (byValue) while (x < w && src[o + x] === v) x++;
      else while (x < w && src[o + x] !== 0) x++;
      if (nRuns === cap) {
        cap *= 2;
        const grow = (a: Int32Array) => {
          const b = new Int32Array(cap);
          b.set(a);
          return b;
        };
        runStart = grow(runStart);
        runEnd = grow(runEnd);
        runRow = grow(runRow);
        parent = grow(parent);
      }
      const r = nRuns++;
      runStart[r] = s;
      runEnd[r] = x;
      runRow[r] = y;
      parent[r] = r;
      // Runs above touching [s - diag, x + diag): skip those ending before, unite while overlapping.
      while (p < prevLast && runEnd[p]! + diag <= s) p++;
      for (let q = p; q < prevLast && runStart[q]! < x + diag; q++) {
        if (byValue && src[o - w + runStart[q]!] !== v) continue;
        // Union by smaller root keeps each root the component's earliest run.
        let a = q;
        while (parent[a] !== a) {
          parent[a] = parent[parent[a]!]!;
          a = parent[a]!;
        }
        let b = r;
        while (parent[b] !== b) {
          parent[b] = parent[parent[b]!]!;
          b = parent[b]!;
        }
        if (a < b) parent[b] = a;
        else if (b < a) parent[a] = b;
      }
    }
    prevFirst = rowFirst;
    prevLast = nRuns;
  }
  // Final numbers in order of each component's first run (= first pixel in raster order).
  const final = new Int32Array(nRuns);
  let count = 0;
  for (let r = 0; r < nRuns; r++) {
    let a = r;
    while (parent[a] !== a) a = parent[a]!;
    final[r] = a === r ? ++count : final[a]!;
    const o = runRow[r]! * w;
    out.fill(final[r]!, o + runStart[r]!, o + runEnd[r]!);
  }
  const areas = new Int32Array(count + 1);
  for (let r = 0; r < nRuns; r++) areas[final[r]!]! += runEnd[r]! - runStart[r]!;
  areas[0] = w * h;
  for (let c = 1; c <= count; c++) areas[0] -= areas[c]!;
  return { labels: { width: w, height: h, data: out }, count, areas };
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
