import { describe, expect, it } from 'vitest';
import type { LabelImage, RgbImage } from '../src/imaging/types.ts';
import { labelAreas } from '../src/postprocess/connected-components.ts';
import { labelsToLevel0, resizeRgb, scaledSize } from '../src/slide/resample.ts';

/** Disks of radius r_k at (cx_k, cy_k), ids 1..n, on a w x h grid (pixel centres inside the disk). */
function disks(w: number, h: number, list: readonly [number, number, number][]): LabelImage {
  const data = new Int32Array(w * h);
  list.forEach(([cx, cy, r], k) => {
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        if ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 < r * r) data[y * w + x] = k + 1;
  });
  return { width: w, height: h, data };
}

function gradient(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) data.set([(x * 255) / (w - 1), (y * 255) / (h - 1), 128], (y * w + x) * 3);
  return { width: w, height: h, data };
}

describe('scaledSize', () => {
  it('rounds each side and keeps at least one pixel', () => {
    expect(scaledSize(1152, 1152, 1)).toEqual({ width: 1152, height: 1152 });
    expect(scaledSize(1152, 577, 0.5)).toEqual({ width: 576, height: 289 });
    expect(scaledSize(3, 1, 0.25)).toEqual({ width: 1, height: 1 });
    expect(scaledSize(100, 10, 2)).toEqual({ width: 200, height: 20 });
    expect(() => scaledSize(10, 10, 0)).toThrow(RangeError);
  });
});

describe('resizeRgb', () => {
  it('is the identity (a copy) at the same size', async () => {
    const img = gradient(37, 23);
    const out = await resizeRgb(img, 37, 23);
    expect(out.data).toEqual(img.data);
    expect(out.data).not.toBe(img.data);
  });

  it('gives the asked size, stretched, and keeps a smooth image close after a 2x down/up trip', async () => {
    const img = gradient(64, 48);
    const half = await resizeRgb(img, 32, 24);
    expect([half.width, half.height, half.data.length]).toEqual([32, 24, 32 * 24 * 3]);
    const odd = await resizeRgb(img, 50, 13);
    expect(odd.data.length).toBe(50 * 13 * 3);
    const back = await resizeRgb(half, 64, 48);
    let worst = 0;
    // Away from the border (where lanczos ringing and edge extension dominate) a linear ramp survives.
    for (let y = 4; y < 44; y++)
      for (let x = 4; x < 60; x++)
        for (let c = 0; c < 3; c++) {
          const i = (y * 64 + x) * 3 + c;
          worst = Math.max(worst, Math.abs(back.data[i]! - img.data[i]!));
        }
    expect(worst).toBeLessThanOrEqual(3);
  });
});

describe('labelsToLevel0', () => {
  it('is the identity (a copy) at scale 1', () => {
    const l = disks(40, 30, [
      [10, 10, 5],
      [30, 20, 6],
    ]);
    const out = labelsToLevel0(l, 40, 30);
    expect(out.data).toEqual(l.data);
    expect(out.data).not.toBe(l.data);
  });

  it('maps pixel centres: 2x up is exact (areas x4) and 2x down of that gives the original back', () => {
    const model = disks(50, 40, [
      [12, 12, 6],
      [35, 25, 8],
      [5, 35, 3],
    ]);
    const up = labelsToLevel0(model, 100, 80);
    const a = labelAreas(model);
    const b = labelAreas(up);
    for (let id = 1; id <= 3; id++) expect(b[id]).toBe(4 * a[id]!);
    expect(up.data[0]).toBe(model.data[0]);
    expect(up.data[79 * 100 + 99]).toBe(model.data[39 * 50 + 49]);
    expect(labelsToLevel0(up, 50, 40).data).toEqual(model.data);
  });

  it('keeps ids and areas (x1/4, then back) within the boundary error on a 2x down/up trip', () => {
    const l0 = disks(200, 160, [
      [40, 40, 15],
      [120, 90, 22],
      [170, 30, 9],
      [60, 130, 12],
    ]);
    const down = labelsToLevel0(l0, 100, 80);
    const back = labelsToLevel0(down, 200, 160);
    const a0 = labelAreas(l0);
    const ad = labelAreas(down);
    const ab = labelAreas(back);
    expect(ad.length).toBe(a0.length);
    for (let id = 1; id < a0.length; id++) {
      const perimeter = 2 * Math.PI * Math.sqrt(a0[id]! / Math.PI);
      expect(Math.abs(4 * ad[id]! - a0[id]!)).toBeLessThanOrEqual(2 * perimeter);
      expect(ab[id]).toBe(4 * ad[id]!);
    }
  });

  it('stretches non-integer ratios to cover the grid with every id of a big enough instance', () => {
    const model = disks(33, 17, [
      [8, 8, 5],
      [25, 9, 6],
    ]);
    const out = labelsToLevel0(model, 100, 50);
    expect([out.width, out.height]).toEqual([100, 50]);
    expect(new Set(out.data)).toEqual(new Set([0, 1, 2]));
  });
});
