import type { LabelImage } from './types.ts';
import { assertBuffer } from './types.ts';

/**
 * Renumbers the ids of an instance map to 1..N in order of first appearance (row-major scan),
 * keeping 0 as background. O(pixels + max id) time; one lookup table of size max id + 1.
 * Negative ids are rejected because they have no meaning in an instance map.
 */
export function relabelSequential(labels: LabelImage): LabelImage {
  assertBuffer('relabelSequential', labels);
  const src = labels.data;
  let max = 0;
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (v < 0) throw new RangeError(`relabelSequential: negative id ${v} at pixel ${i}`);
    if (v > max) max = v;
  }
  const map = new Int32Array(max + 1);
  const out = new Int32Array(src.length);
  let next = 0;
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (v === 0) continue;
    let m = map[v]!;
    if (m === 0) {
      m = ++next;
      map[v] = m;
    }
    out[i] = m;
  }
  return { width: labels.width, height: labels.height, data: out };
}
