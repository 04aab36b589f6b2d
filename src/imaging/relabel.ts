import type { LabelImage } from './types.ts';
import { assertBuffer } from './types.ts';

export interface Relabelled {
  /** The map with ids 1..N, in the order of the original ids (0 stays background). */
  readonly labels: LabelImage;
  /** ids[k] is the original id of new id k (ids[0] = 0); ascending, length N + 1. */
  readonly ids: Int32Array;
}

/**
 * Renumbers the ids of an instance map to 1..N keeping their order (the smallest id present
 * becomes 1), as skimage.segmentation.relabel_sequential does; 0 stays background. Ids are
 * arbitrary labels, so gaps (objects removed or merged) are ordinary input.
 *
 * Cost does not grow with the largest id: when it is at most the pixel count, one lookup table
 * of max id + 1 entries (no larger than the image); otherwise the distinct ids are collected
 * once per run of equal pixels and sorted. O(pixels + N log N) time, O(pixels) memory either way.
 * Throws RangeError naming the pixel for a negative id, which has no meaning in an instance map.
 */
export function relabelSequential(labels: LabelImage): Relabelled {
  assertBuffer('relabelSequential', labels);
  const src = labels.data;
  const n = src.length;
  let max = 0;
  for (let i = 0; i < n; i++) {
    const v = src[i]!;
    if (v < 0) {
      throw new RangeError(
        `relabelSequential: negative id ${v} at pixel x=${i % labels.width}, y=${Math.floor(i / labels.width)}`,
      );
    }
    if (v > max) max = v;
  }
  const out = new Int32Array(n);
  if (max <= n) {
    const map = new Int32Array(max + 1);
    for (let i = 0; i < n; i++) map[src[i]!] = 1;
    map[0] = 0;
    let next = 0;
    for (let v = 1; v <= max; v++) if (map[v] === 1) map[v] = ++next;
    const ids = new Int32Array(next + 1);
    for (let v = 1; v <= max; v++) if (map[v]! > 0) ids[map[v]!] = v;
    for (let i = 0; i < n; i++) out[i] = map[src[i]!]!;
    return { labels: { width: labels.width, height: labels.height, data: out }, ids };
  }
  const seen = new Set<number>();
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const v = src[i]!;
    if (v !== prev) {
      if (v !== 0) seen.add(v);
      prev = v;
    }
  }
  const ids = Int32Array.from([0, ...seen]).sort();
  const map = new Map<number, number>();
  for (let k = 1; k < ids.length; k++) map.set(ids[k]!, k);
  let runId = 0;
  let runNew = 0;
  for (let i = 0; i < n; i++) {
    const v = src[i]!;
    if (v !== runId) {
      runId = v;
      runNew = v === 0 ? 0 : map.get(v)!;
    }
    out[i] = runNew;
  }
  return { labels: { width: labels.width, height: labels.height, data: out }, ids };
}
