import { describe, expect, it } from 'vitest';
import {
  applyDihedral,
  DIHEDRAL,
  flipHorizontal,
  flipVertical,
  type Planar,
  randomDihedral,
  rot90,
} from '../src/augment/geometry.ts';
import {
  applyHedParams,
  drawHedParams,
  HED_PRESETS,
  hedAugment,
  hedToRgb,
  hedToRgbFloat,
  rgbToHed,
} from '../src/augment/hed.ts';
import { createRng, restoreRng } from '../src/augment/rng.ts';
import type { FloatImage, LabelImage, RgbImage } from '../src/imaging/types.ts';
import { fixtureF32, manifest, slideLabels, slideRgb } from './stain-gt-fixtures.ts';

describe('seeded rng', () => {
  it('same seed, same stream; different seeds differ; values in [0, 1)', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(Array.from({ length: 1000 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 1000 }, () => c.next())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
    // Seeds differing only above bit 32 still give different streams.
    expect(createRng(2 ** 32 + 1).next()).not.toBe(createRng(1).next());
  });

  it('state() and restoreRng() resume the exact stream, also through JSON', () => {
    const r = createRng(2024);
    for (let i = 0; i < 37; i++) r.next();
    const saved = JSON.parse(JSON.stringify(r.state())) as number[];
    const expected = Array.from({ length: 100 }, () => r.next());
    const resumed = restoreRng(saved);
    expect(Array.from({ length: 100 }, () => resumed.next())).toEqual(expected);
    expect(resumed.state()).toEqual(r.state());
  });

  it('state() is always four uint32 words that restoreRng accepts, at every step', () => {
    for (const seed of [0, 1, 7, 2024, 123456789]) {
      const r = createRng(seed);
      for (let i = 0; i < 2000; i++) {
        r.next();
        const st = r.state();
        expect(st.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32)).toBe(true);
        if (i % 500 === 0) expect(restoreRng(st).next()).toBe(restoreRng(r.state()).next());
      }
    }
  });

  it('int() is uniform over [0, n) and bad input is rejected', () => {
    const r = createRng(5);
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 8000; i++) counts[r.int(8)]++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(150);
    expect(() => r.int(0)).toThrow(RangeError);
    expect(() => restoreRng([1, 2, 3])).toThrow(/4 uint32 words/);
    expect(() => restoreRng([1, 2, 3, -1])).toThrow(/state\[3\] = -1/);
    expect(() => createRng(1.5)).toThrow(/safe integer/);
  });
});

/** 3 wide, 2 high, values = index: [[0, 1, 2], [3, 4, 5]]. */
const small: LabelImage = { width: 3, height: 2, data: Int32Array.from([0, 1, 2, 3, 4, 5]) };
const rows = (img: Planar): number[][] =>
  Array.from({ length: img.height }, (_, y) =>
    Array.from(img.data.subarray(y * img.width, (y + 1) * img.width)),
  );

describe('dihedral transforms', () => {
  it('match numpy rot90 / fliplr / flipud on a 3x2 array', () => {
    expect(rows(rot90(small, 1))).toEqual([
      [2, 5],
      [1, 4],
      [0, 3],
    ]);
    expect(rows(rot90(small, 2))).toEqual([
      [5, 4, 3],
      [2, 1, 0],
    ]);
    expect(rows(rot90(small, 3))).toEqual([
      [3, 0],
      [4, 1],
      [5, 2],
    ]);
    expect(rows(rot90(small, -1))).toEqual(rows(rot90(small, 3)));
    expect(rows(flipHorizontal(small))).toEqual([
      [2, 1, 0],
      [5, 4, 3],
    ]);
    expect(rows(flipVertical(small))).toEqual([
      [3, 4, 5],
      [0, 1, 2],
    ]);
    expect(rot90(small, 1).width).toBe(2);
    expect(rot90(small, 1).data).toBeInstanceOf(Int32Array);
  });

  it('the 8 transforms are distinct, each invertible, and keep RGB triplets together', async () => {
    const rgb = await slideRgb(manifest.hed.slide, [0, 0, 40, 30]);
    const seen = new Set<string>();
    for (const t of DIHEDRAL) {
      const out = applyDihedral(small, t);
      seen.add(rows(out).join('|'));
      const o = applyDihedral(rgb, t);
      // Inverse: undo the rotation, then the flip.
      const back = applyDihedral(rot90(o, 4 - t.k), { k: 0, flip: t.flip });
      expect(back.data).toEqual(rgb.data);
      expect(back.width).toBe(40);
    }
    expect(seen.size).toBe(8);
  });

  it('randomDihedral applies one transform to image, labels and float targets alike', async () => {
    const w: [number, number, number, number] = [100, 200, 64, 48];
    const rgb = await slideRgb(manifest.groundtruth[0].slide, w);
    const labels = await slideLabels(manifest.groundtruth[0].slide, w);
    const dist: FloatImage = { width: 64, height: 48, data: Float32Array.from(labels.data, (v) => v / 7) };
    const rng = createRng(3);
    const kinds = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const { transform, images } = randomDihedral(rng, [rgb, labels, dist] as const);
      kinds.add(DIHEDRAL.indexOf(transform));
      const [r, l, d] = images;
      expect(r.data).toEqual(applyDihedral(rgb, transform).data);
      expect(l.data).toEqual(applyDihedral(labels, transform).data);
      expect(d.data).toEqual(applyDihedral(dist, transform).data);
      expect(l.data).toBeInstanceOf(Int32Array);
      expect(d.data).toBeInstanceOf(Float32Array);
      for (let p = 0; p < l.data.length; p++) expect(d.data[p]).toBe(Math.fround(l.data[p] / 7));
      expect([r.width, l.width, d.width]).toEqual([l.width, l.width, l.width]);
      expect([r.height, l.height, d.height]).toEqual([l.height, l.height, l.height]);
    }
    expect(kinds.size).toBe(8);
    const other: RgbImage = { width: 10, height: 10, data: new Uint8Array(300) };
    expect(() => randomDihedral(rng, [rgb, other])).toThrow(/shapes differ, 64x48 vs 10x10/);
  });
});

describe('HED colour space and augmentation against skimage', () => {
  const h = manifest.hed;

  it('rgbToHed equals skimage.color.rgb2hed (1e-6) and hedToRgbFloat equals hed2rgb (1e-6)', async () => {
    const rgb = await slideRgb(h.slide, h.window);
    const ours = rgbToHed(rgb);
    const ref = fixtureF32(h.rgb2hed);
    let max = 0;
    for (let i = 0; i < ref.length; i++) max = Math.max(max, Math.abs(ours[i] - ref[i]));
    expect(max).toBeLessThan(1e-6);
    const back = hedToRgbFloat(ours);
    const refBack = fixtureF32(h.roundtrip);
    max = 0;
    for (let i = 0; i < refBack.length; i++) max = Math.max(max, Math.abs(back[i] - refBack[i]));
    expect(max).toBeLessThan(1e-6);
  });

  it('applyHedParams equals hed2rgb(alpha * rgb2hed + beta) rounded to bytes (max 1 level at rounding ties)', async () => {
    const rgb = await slideRgb(h.slide, h.window);
    const out = applyHedParams(rgb, { alpha: h.alpha, beta: h.beta }).data;
    const ref = fixtureF32(h.augmented);
    let off = 0;
    for (let i = 0; i < ref.length; i++) {
      const d = Math.abs(out[i] - Math.round(ref[i] * 255));
      expect(d).toBeLessThanOrEqual(1);
      off += d;
    }
    expect(off / ref.length).toBeLessThan(0.001);
    // Identity parameters reproduce hed2rgb(rgb2hed(x)) as bytes.
    const id = applyHedParams(rgb, { alpha: [1, 1, 1], beta: [0, 0, 0] });
    expect(id.data).toEqual(hedToRgb(rgbToHed(rgb), rgb.width, rgb.height).data);
  });

  it('parameters are drawn from the rng within the preset ranges, reproducibly', async () => {
    const rgb = await slideRgb(h.slide, h.window);
    for (const [name, j] of Object.entries(HED_PRESETS)) {
      const r = createRng(9);
      for (let i = 0; i < 200; i++) {
        const p = drawHedParams(r, name as keyof typeof HED_PRESETS);
        for (const a of p.alpha) expect(Math.abs(a - 1)).toBeLessThanOrEqual(j.scale);
        for (const b of p.beta) expect(Math.abs(b)).toBeLessThanOrEqual(j.bias);
      }
    }
    const a = hedAugment(rgb, createRng(77), 'strong');
    const b = hedAugment(rgb, createRng(77), 'strong');
    expect(a.image.data).toEqual(b.image.data);
    expect(a.params).toEqual(b.params);
    // It changes colours, but keeps them close to the original on the light preset.
    const light = hedAugment(rgb, createRng(1), 'light').image.data;
    let diff = 0;
    for (let i = 0; i < light.length; i++) diff += Math.abs(light[i] - rgb.data[i]);
    expect(diff / light.length).toBeGreaterThan(0.1);
    expect(diff / light.length).toBeLessThan(20);
    expect(() => drawHedParams(createRng(1), { scale: 1.5, bias: 0 })).toThrow(/scale must be in \[0, 1\)/);
  });
});
