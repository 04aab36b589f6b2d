import { describe, expect, it } from 'vitest';
import { createRng } from '../src/augment/rng.ts';
import { distanceTargets } from '../src/groundtruth/distance-targets.ts';
import { edt } from '../src/groundtruth/edt.ts';
import { erode, footprintHalfWidths } from '../src/groundtruth/erode.ts';
import { modifyGroundTruth } from '../src/groundtruth/modify.ts';
import { BOUNDARY, INTERIOR, threeClassTarget } from '../src/groundtruth/three-class.ts';
import type { LabelImage, MaskImage } from '../src/imaging/types.ts';
import { fixtureF32, fixtureMask, manifest, slideLabels } from './stain-gt-fixtures.ts';

const binarise = (l: LabelImage): MaskImage => ({
  width: l.width,
  height: l.height,
  data: Uint8Array.from(l.data, (v) => (v ? 1 : 0)),
});
const count = (m: MaskImage): number => m.data.reduce((s, v) => s + v, 0);
const countDiff = (a: Uint8Array, b: Uint8Array): number =>
  a.reduce((s, v, i) => s + (v !== b[i] ? 1 : 0), 0);

function bruteForceEdt(m: MaskImage): Float64Array {
  const { width: w, height: h, data } = m;
  const out = new Float64Array(w * h);
  for (let i = 0; i < w * h; i++) {
    if (!data[i]) continue;
    let best = Number.POSITIVE_INFINITY;
    for (let j = 0; j < w * h; j++) {
      if (data[j]) continue;
      const dx = (i % w) - (j % w);
      const dy = Math.floor(i / w) - Math.floor(j / w);
      best = Math.min(best, dx * dx + dy * dy);
    }
    out[i] = Math.sqrt(best);
  }
  return out;
}

describe.each(manifest.groundtruth.map((g) => [g.slide, g] as const))(
  'ground truth on a crop of %s',
  (_s, g) => {
    const [, , w, h] = g.window;
    const load = () => slideLabels(g.slide, g.window);

    it('EDT equals scipy.ndimage.distance_transform_edt to 1e-4', async () => {
      const d = edt(binarise(await load())).data;
      const ref = fixtureF32(g.edt);
      let max = 0;
      for (let i = 0; i < ref.length; i++) max = Math.max(max, Math.abs(d[i] - ref[i]));
      expect(max).toBeLessThan(1e-4);
    });

    it('erosion with disk(2) equals skimage binary_erosion pixel for pixel', async () => {
      const ours = erode(binarise(await load()), 'disk', 2, 1);
      expect(countDiff(ours.data, fixtureMask(g.erosionDisk2, w, h).data)).toBe(0);
    });

    it('GT modification equals the NumPy/skimage reference for three settings, and can be switched off', async () => {
      const lab = await load();
      const def = modifyGroundTruth(lab);
      expect(countDiff(def.data, fixtureMask(g.modifiedDefault, w, h).data)).toBe(0);
      const sq = modifyGroundTruth(lab, { erosion: { shape: 'square', radius: 1, iterations: 2 } });
      expect(countDiff(sq.data, fixtureMask(g.modifiedSquare1x2, w, h).data)).toBe(0);
      const borders = modifyGroundTruth(lab, { erosion: null });
      expect(countDiff(borders.data, fixtureMask(g.bordersOnly, w, h).data)).toBe(0);
      // Border removal drops exactly the pixels that touch another instance, and the crop has some.
      expect(g.touchingPixels).toBeGreaterThan(100);
      expect(count(binarise(lab)) - count(borders)).toBe(g.touchingPixels);
      expect(modifyGroundTruth(lab, { enabled: false }).data).toEqual(binarise(lab).data);
    });

    it('per-nucleus distance targets equal scipy EDT per instance / its max (1e-6); each nucleus peaks at 1', async () => {
      const lab = await load();
      const d = distanceTargets(lab).data;
      const ref = fixtureF32(g.distance);
      let max = 0;
      for (let i = 0; i < ref.length; i++) max = Math.max(max, Math.abs(d[i] - ref[i]));
      expect(max).toBeLessThan(1e-6);
      const peak = new Map<number, number>();
      for (let i = 0; i < d.length; i++) {
        const id = lab.data[i];
        if (id === 0) expect(d[i]).toBe(0);
        else {
          expect(d[i]).toBeGreaterThan(0);
          peak.set(id, Math.max(peak.get(id) ?? 0, d[i]));
        }
      }
      for (const p of peak.values()) expect(p).toBe(1);
    });
  },
);

describe('EDT and erosion edge cases', () => {
  it('EDT equals brute force on random masks, including borders', () => {
    const rng = createRng(123);
    for (let t = 0; t < 20; t++) {
      const w = 1 + rng.int(17);
      const h = 1 + rng.int(13);
      const m: MaskImage = {
        width: w,
        height: h,
        data: Uint8Array.from({ length: w * h }, () => (rng.next() < 0.8 ? 1 : 0)),
      };
      if (m.data.every((v) => v === 1)) m.data[rng.int(w * h)] = 0;
      const ours = edt(m).data;
      const want = bruteForceEdt(m);
      for (let i = 0; i < want.length; i++) expect(ours[i]).toBeCloseTo(want[i], 5);
    }
  });

  it('no background pixel: distances are +Infinity (never NaN); all background: zeros', () => {
    const full = edt({ width: 4, height: 3, data: new Uint8Array(12).fill(1) }).data;
    expect(full.every((v) => v === Number.POSITIVE_INFINITY)).toBe(true);
    expect(edt({ width: 4, height: 3, data: new Uint8Array(12) }).data.every((v) => v === 0)).toBe(true);
  });

  it('footprints: disk(1) is a cross, disk(2) has half-widths 0,1,2,1,0... as skimage disk', () => {
    expect(Array.from(footprintHalfWidths('disk', 1))).toEqual([0, 1, 0]);
    expect(Array.from(footprintHalfWidths('disk', 2))).toEqual([0, 1, 2, 1, 0]);
    expect(Array.from(footprintHalfWidths('square', 2))).toEqual([2, 2, 2, 2, 2]);
    expect(() => footprintHalfWidths('disk', 1.5)).toThrow(/integer/);
  });

  it('touching nuclei: both sides of the contact go, so the target separates them', () => {
    // Two 4x4 squares side by side (ids 1 and 2) touching along one column boundary.
    const w = 10;
    const h = 6;
    const data = new Int32Array(w * h);
    for (let y = 1; y < 5; y++) for (let x = 1; x < 9; x++) data[y * w + x] = x < 5 ? 1 : 2;
    const lab: LabelImage = { width: w, height: h, data };
    const m = modifyGroundTruth(lab, { erosion: null }).data;
    for (let y = 1; y < 5; y++) {
      expect([m[y * w + 4], m[y * w + 5]]).toEqual([0, 0]);
      expect([m[y * w + 3], m[y * w + 6]]).toEqual([1, 1]);
    }
    // Diagonal contact counts (8-neighbourhood).
    const diag = new Int32Array(9);
    diag[0] = 1;
    diag[4] = 2;
    expect(
      Array.from(modifyGroundTruth({ width: 3, height: 3, data: diag }, { erosion: null }).data),
    ).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0]);
    // Distance targets keep one peak per nucleus: the contact column is not a maximum.
    const d = distanceTargets(lab).data;
    expect(d[2 * w + 4]).toBeLessThan(1);
    expect(d[2 * w + 4]).toBeCloseTo(0.5, 6);
  });
});

describe('three-class target', () => {
  /** Brute force of the stated rule: interior iff the clipped (2w+1)^2 square holds only the pixel's id. */
  function reference(l: LabelImage, w: number): Uint8Array {
    const out = new Uint8Array(l.width * l.height);
    for (let y = 0; y < l.height; y++)
      for (let x = 0; x < l.width; x++) {
        const id = l.data[y * l.width + x]!;
        if (id === 0) continue;
        let same = true;
        for (let dy = -w; dy <= w; dy++)
          for (let dx = -w; dx <= w; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy < 0 || yy >= l.height || xx < 0 || xx >= l.width) continue;
            if (l.data[yy * l.width + xx] !== id) same = false;
          }
        out[y * l.width + x] = same ? INTERIOR : BOUNDARY;
      }
    return out;
  }

  it('parts two touching squares by a 2w band and keeps the image border out of the boundary', () => {
    // Two 5x5 nuclei side by side in a 12x7 image, the left one touching the left image edge.
    const W = 12;
    const H = 7;
    const d = new Int32Array(W * H);
    for (let y = 1; y < 6; y++) for (let x = 0; x < 10; x++) d[y * W + x] = x < 5 ? 1 : 2;
    const t = threeClassTarget({ width: W, height: H, data: d }, 1);
    const row = (y: number) => Array.from(t.data.subarray(y * W, y * W + W)).join('');
    expect(row(0)).toBe('000000000000');
    expect(row(1)).toBe('222222222200');
    // Columns 4 and 5 are the contact band; column 0 lies on the image edge and stays interior.
    expect(row(3)).toBe('111122111200');
    expect(row(5)).toBe('222222222200');
  });

  it('follows the brute-force rule on random labels for every width, and on real ground truth', async () => {
    const rng = createRng(3);
    for (const w of [1, 2, 3, 8]) {
      const W = 23;
      const H = 17;
      const d = new Int32Array(W * H);
      // Blocky random ids so interiors exist.
      for (let i = 0; i < W * H; i++) d[i] = Math.floor(rng.next() * 4) * ((i % W) % 7 < 5 ? 1 : 0);
      for (let i = W; i < W * H; i++) if (rng.next() < 0.7) d[i] = d[i - W]!;
      const l = { width: W, height: H, data: d };
      expect(countDiff(threeClassTarget(l, w).data, reference(l, w)), `w=${w}`).toBe(0);
    }
    const gt = await slideLabels(manifest.groundtruth[0]!.slide);
    const one = threeClassTarget(gt, 1);
    const two = threeClassTarget(gt, 2);
    // Every nucleus pixel gets a class, background stays background, a wider band takes more.
    for (let i = 0; i < gt.data.length; i++) expect(one.data[i]! > 0).toBe(gt.data[i]! > 0);
    const bnd = (m: MaskImage) => m.data.reduce((s, v) => s + (v === BOUNDARY ? 1 : 0), 0);
    expect(bnd(two)).toBeGreaterThan(bnd(one));
    expect(() => threeClassTarget(gt, 0)).toThrow(/boundary width must be an integer 1\.\.8, got 0/);
  });
});
