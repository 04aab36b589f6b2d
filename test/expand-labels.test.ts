import { describe, expect, it } from 'vitest';
import { instanceBoxes } from '../src/imaging/instance-boxes.ts';
import type { FloatImage, LabelImage } from '../src/imaging/types.ts';
import { expandLabels } from '../src/postprocess/expand-labels.ts';
import { postprocess } from '../src/postprocess/pipeline.ts';

const lab = (width: number, height: number, values: number[]): LabelImage => ({
  width,
  height,
  data: Int32Array.from(values),
});

/** Sparse random instances (small blobs) on a w x h map, from a fixed LCG. */
function randomLabels(w: number, h: number, seed: number): LabelImage {
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const d = new Int32Array(w * h);
  for (let id = 1; id <= 12; id++) {
    const cx = Math.floor(rnd() * w);
    const cy = Math.floor(rnd() * h);
    const r = 1 + Math.floor(rnd() * 3);
    for (let y = Math.max(0, cy - r); y <= Math.min(h - 1, cy + r); y++)
      for (let x = Math.max(0, cx - r); x <= Math.min(w - 1, cx + r); x++) d[y * w + x] = id;
  }
  return { width: w, height: h, data: d };
}

describe('expandLabels', () => {
  it('grows a single pixel into the city-block ball of the distance', () => {
    const one = lab(
      7,
      7,
      Array.from({ length: 49 }, (_, i) => (i === 24 ? 5 : 0)),
    );
    expect(Array.from(expandLabels(one, 0).data)).toEqual(Array.from(one.data));
    const a1 = expandLabels(one, 1).data;
    const a2 = expandLabels(one, 2).data;
    for (let y = 0; y < 7; y++)
      for (let x = 0; x < 7; x++) {
        const d = Math.abs(x - 3) + Math.abs(y - 3);
        expect(a1[y * 7 + x]).toBe(d <= 1 ? 5 : 0);
        expect(a2[y * 7 + x]).toBe(d <= 2 ? 5 : 0);
      }
    expect(one.data[23]).toBe(0);
  });

  it('never overwrites another instance and gives a tie to the ring that reaches it first', () => {
    const row = lab(5, 1, [1, 0, 0, 0, 2]);
    expect(Array.from(expandLabels(row, 1).data)).toEqual([1, 1, 0, 2, 2]);
    // Pixel 2 is 2 px from both; instance 1's ring comes first in raster order.
    expect(Array.from(expandLabels(row, 2).data)).toEqual([1, 1, 1, 2, 2]);
    const touching = lab(4, 1, [1, 1, 2, 2]);
    expect(Array.from(expandLabels(touching, 3).data)).toEqual([1, 1, 2, 2]);
  });

  it('gives every pixel within the distance to its nearest instance (brute force, random maps)', () => {
    for (const seed of [1, 2, 3, 4]) {
      const l = randomLabels(23, 17, seed);
      const { width: w, height: h } = l;
      for (const k of [1, 2, 3]) {
        const out = expandLabels(l, k).data;
        for (let i = 0; i < w * h; i++) {
          if (l.data[i] !== 0) {
            expect(out[i]).toBe(l.data[i]);
            continue;
          }
          let best = Number.POSITIVE_INFINITY;
          const nearest = new Set<number>();
          for (let j = 0; j < w * h; j++) {
            if (l.data[j] === 0) continue;
            const d = Math.abs((i % w) - (j % w)) + Math.abs(Math.floor(i / w) - Math.floor(j / w));
            if (d < best) {
              best = d;
              nearest.clear();
            }
            if (d === best) nearest.add(l.data[j]!);
          }
          if (best > k) expect(out[i]).toBe(0);
          else expect(nearest.has(out[i]!)).toBe(true);
        }
      }
    }
  });

  it('keeps the caller statistics equal to a fresh scan of the grown map', () => {
    const l = randomLabels(40, 30, 9);
    const stats = instanceBoxes(l);
    const out = expandLabels(l, 2, { inPlace: true, stats });
    expect(out.data).toBe(l.data);
    const fresh = instanceBoxes(out);
    for (const key of ['area', 'x0', 'y0', 'x1', 'y1', 'first'] as const) {
      expect(Array.from(stats[key])).toEqual(Array.from(fresh[key]));
    }
  });

  it('rejects a bad distance or stats of another map, naming the value', () => {
    const l = lab(3, 1, [0, 1, 0]);
    expect(() => expandLabels(l, 1.5)).toThrow(/distance must be an integer >= 0, got 1.5/);
    expect(() => expandLabels(l, -1)).toThrow(/got -1/);
    expect(() => expandLabels(l, 1, { stats: instanceBoxes(lab(3, 1, [0, 0, 0])) })).toThrow(
      /stats cover ids up to 0/,
    );
    expect(() => expandLabels({ width: 2, height: 2, data: new Int32Array(3) }, 1)).toThrow(/2x2/);
  });
});

describe('pipeline expand option', () => {
  it('grows every instance of the pipeline output and keeps ids 1..N in raster order', () => {
    const w = 48;
    const h = 32;
    const fg = new Float32Array(w * h);
    const dist = new Float32Array(w * h);
    // Two discs of radius 6 that do not touch.
    for (const [cx, cy] of [
      [12, 16],
      [34, 15],
    ] as const) {
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const r = Math.hypot(x - cx, y - cy);
          if (r <= 6) {
            fg[y * w + x] = 0.9;
            dist[y * w + x] = 1 - r / 6;
          }
        }
    }
    const foreground: FloatImage = { width: w, height: h, data: fg };
    const distance: FloatImage = { width: w, height: h, data: dist };
    const base = postprocess({ foreground, distance }).labels;
    const grown = postprocess({ foreground, distance, expand: 1 }).labels;
    const a = instanceBoxes(base);
    const b = instanceBoxes(grown);
    expect(b.maxId).toBe(2);
    expect(a.maxId).toBe(2);
    const expected = expandLabels(base, 1).data;
    expect(Array.from(grown.data)).toEqual(Array.from(expected));
    for (const id of [1, 2]) expect(b.area[id]!).toBeGreaterThan(a.area[id]!);
    expect(b.first[1]!).toBeLessThan(b.first[2]!);
  });
});
