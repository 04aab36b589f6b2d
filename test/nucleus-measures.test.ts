import { describe, expect, it } from 'vitest';
import { RGB_FROM_HED } from '../src/augment/hed.ts';
import { nucleusMeasures } from '../src/imaging/nucleus-measures.ts';

/** A w x h mask holding the pixels whose centre passes `inside`. */
function maskOf(w: number, h: number, inside: (cx: number, cy: number) => boolean): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (inside(x + 0.5, y + 0.5)) m[y * w + x] = 1;
  return m;
}

/** The byte colour whose OD vector is k times a stain's row of RGB_FROM_HED: I = 256 * 10^(-k v) - 1. */
function stainColour(row: number, k: number): [number, number, number] {
  const c = [0, 1, 2].map((j) => Math.round(256 * 10 ** (-k * RGB_FROM_HED[3 * row + j]!) - 1));
  return [c[0]!, c[1]!, c[2]!];
}

describe('nucleusMeasures', () => {
  it('a filled 10 x 10 square: area 100, centre, perimeter 4 (n - 1) through centres, eccentricity 0, solidity 1', () => {
    const m = nucleusMeasures(
      new Uint8Array(100).fill(1),
      { x: 100, y: 200, width: 10, height: 10 },
      { mpp: 0.5 },
    );
    expect(m.areaPx).toBe(100);
    expect(m.areaUm2).toBe(25);
    expect([m.centroidXPx, m.centroidYPx]).toEqual([105, 205]);
    expect([m.centroidXUm, m.centroidYUm]).toEqual([52.5, 102.5]);
    expect(m.perimeterPx).toBeCloseTo(36, 12);
    expect(m.perimeterUm).toBeCloseTo(18, 12);
    expect(m.eccentricity).toBeCloseTo(0, 12);
    expect(m.solidity).toBe(1);
    expect(m.hematoxylinOd).toBeNull();
  });

  it('µm fields are null without a pixel size', () => {
    const m = nucleusMeasures(new Uint8Array(4).fill(1), { x: 0, y: 0, width: 2, height: 2 });
    expect([m.areaUm2, m.centroidXUm, m.centroidYUm, m.perimeterUm]).toEqual([null, null, null, null]);
  });

  it('a disk of radius 20: area within 1 % of π r², perimeter within 5 % of 2 π r, round and convex', () => {
    const r = 20;
    const s = 2 * r + 2;
    const m = nucleusMeasures(
      maskOf(s, s, (x, y) => (x - s / 2) ** 2 + (y - s / 2) ** 2 <= r * r),
      { x: 0, y: 0, width: s, height: s },
    );
    expect(Math.abs(m.areaPx / (Math.PI * r * r) - 1)).toBeLessThan(0.01);
    // 8-chain through boundary centres: about 2π (r - 0.5) x 1.055 = 129.3 against 125.7.
    expect(Math.abs(m.perimeterPx / (2 * Math.PI * r) - 1)).toBeLessThan(0.05);
    expect([m.centroidXPx, m.centroidYPx]).toEqual([s / 2, s / 2]);
    expect(m.eccentricity).toBeLessThan(0.05);
    // The corner hull runs outside the staircase by about a third of a pixel: (20 / 20.35)² = 0.966.
    expect(m.solidity).toBeGreaterThan(0.95);
    expect(m.solidity).toBeLessThan(1);
  });

  it('an ellipse of semi-axes 30 and 15, rotated 30°, has eccentricity sqrt(1 - b²/a²) within 0.01', () => {
    const a = 30;
    const b = 15;
    const t = Math.PI / 6;
    const s = 2 * a + 4;
    const m = nucleusMeasures(
      maskOf(s, s, (x, y) => {
        const u = (x - s / 2) * Math.cos(t) + (y - s / 2) * Math.sin(t);
        const v = -(x - s / 2) * Math.sin(t) + (y - s / 2) * Math.cos(t);
        return (u / a) ** 2 + (v / b) ** 2 <= 1;
      }),
      { x: 0, y: 0, width: s, height: s },
    );
    expect(Math.abs(m.eccentricity - Math.sqrt(1 - (b * b) / (a * a)))).toBeLessThan(0.01);
  });

  it('a line of pixels has eccentricity 1', () => {
    expect(nucleusMeasures(new Uint8Array(8).fill(1), { x: 0, y: 0, width: 8, height: 1 }).eccentricity).toBe(
      1,
    );
  });

  it('an L of 7 px (1 px arms, 4 x 4 box) has solidity 7 / 11.5 (hull of corners (0,0) (1,0) (4,3) (4,4) (0,4))', () => {
    const m = nucleusMeasures(
      maskOf(4, 4, (x, y) => x < 1 || y > 3),
      { x: 0, y: 0, width: 4, height: 4 },
    );
    expect(m.areaPx).toBe(7);
    expect(m.solidity).toBeCloseTo(7 / 11.5, 12);
  });

  it('a 2 x 2 block missing a corner: solidity 3 / 3.5', () => {
    const m = nucleusMeasures(new Uint8Array([1, 1, 1, 0]), { x: 0, y: 0, width: 2, height: 2 });
    expect(m.solidity).toBeCloseTo(3 / 3.5, 12);
  });

  it('pure haematoxylin colour measures H-OD about 1, pure eosin about 0, background about 0', () => {
    const box = { x: 0, y: 0, width: 2, height: 2 };
    const mask = new Uint8Array([1, 1, 1, 0]);
    const fill = (c: readonly number[]): Uint8Array => {
      const rgb = new Uint8Array(12);
      for (let i = 0; i < 4; i++) rgb.set(c, 3 * i);
      return rgb;
    };
    const h = nucleusMeasures(mask, box, { rgb: fill(stainColour(0, 1)) }).hematoxylinOd!;
    const e = nucleusMeasures(mask, box, { rgb: fill(stainColour(1, 1)) }).hematoxylinOd!;
    const white = nucleusMeasures(mask, box, { rgb: fill([255, 255, 255]) }).hematoxylinOd!;
    expect(Math.abs(h - 1)).toBeLessThan(0.02);
    expect(Math.abs(e)).toBeLessThan(0.05);
    expect(white).toBe(0);
    expect(h).toBeGreaterThan(e + 0.9);
  });

  it('H-OD averages over the nucleus pixels only', () => {
    const rgb = new Uint8Array(6);
    rgb.set(stainColour(0, 1), 0);
    rgb.set([0, 0, 0], 3);
    const m = nucleusMeasures(new Uint8Array([1, 0]), { x: 0, y: 0, width: 2, height: 1 }, { rgb });
    expect(Math.abs(m.hematoxylinOd! - 1)).toBeLessThan(0.02);
  });

  it('rejects an empty mask, a size mismatch and a bad pixel size', () => {
    const box = { x: 0, y: 0, width: 2, height: 2 };
    expect(() => nucleusMeasures(new Uint8Array(4), box)).toThrow(/empty/);
    expect(() => nucleusMeasures(new Uint8Array(3), box)).toThrow(/2x2/);
    expect(() => nucleusMeasures(new Uint8Array(4).fill(1), box, { rgb: new Uint8Array(3) })).toThrow(/rgb/);
    expect(() => nucleusMeasures(new Uint8Array(4).fill(1), box, { mpp: 0 })).toThrow(/pixel size/);
  });
});
