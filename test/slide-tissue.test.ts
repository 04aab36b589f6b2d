import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRgb } from '../src/imaging/io.ts';
import { openSlide } from '../src/slide/index.ts';
import {
  detectTissue,
  otsuThreshold,
  tissueLevel,
  tissueMaskFromRgb,
  writeTissueOverlayPng,
} from '../src/slide/tissue.ts';
import { type TestSlide, testSlide } from '../testing/test-slide.ts';

const dir = mkdtempSync(join(tmpdir(), 'nf-slide-tissue-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let ts: TestSlide;
beforeAll(async () => {
  ts = await testSlide();
}, 180_000);

/** Fraction of level-0 rectangle [x0, x1) x [y0, y1) whose mask pixel (by pixel centre) is tissue. */
function tissueFraction(
  mask: { width: number; data: Uint8Array },
  d: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
) {
  let n = 0;
  let t = 0;
  for (let j = Math.ceil(y0 / d - 0.5); (j + 0.5) * d < y1; j++)
    for (let i = Math.ceil(x0 / d - 0.5); (i + 0.5) * d < x1; i++) {
      n++;
      t += mask.data[j * mask.width + i]!;
    }
  return t / n;
}

describe('tissue detection on the MoNuSeg test slide', () => {
  it('finds every tile as tissue and the blank gaps as background, at the 4x level', async () => {
    const slide = await openSlide(ts.svs40);
    try {
      const t = await detectTissue(slide);
      expect(t.level).toBe(1);
      expect(t.downsample).toBe(4);
      expect([t.mask.width, t.mask.height]).toEqual([960, 656]);
      const d = t.downsample;
      const fractions = ts.tiles.map((tile) =>
        tissueFraction(t.mask, d, tile.x, tile.y, tile.x + tile.width, tile.y + tile.height),
      );
      console.log(
        'tile tissue fractions',
        fractions.map((f) => f.toFixed(4)).join(' '),
        'threshold',
        t.threshold,
      );
      for (const f of fractions) expect(f).toBeGreaterThan(0.9);
      // Gaps: everything outside the tiles, each grown by 8 level-0 px (2 mask px) for JPEG ringing at the edges.
      let gap = 0;
      let gapTissue = 0;
      for (let j = 0; j < t.mask.height; j++)
        for (let i = 0; i < t.mask.width; i++) {
          const x = (i + 0.5) * d;
          const y = (j + 0.5) * d;
          const inTile = ts.tiles.some(
            (s) => x >= s.x - 8 && x < s.x + s.width + 8 && y >= s.y - 8 && y < s.y + s.height + 8,
          );
          if (inTile) continue;
          gap++;
          gapTissue += t.mask.data[j * t.mask.width + i]!;
        }
      console.log('gap tissue fraction', (gapTissue / gap).toFixed(5), 'tissue area', t.tissueArea);
      expect(gapTissue / gap).toBeLessThan(0.02);
      const tileArea = ts.tiles.reduce((s, tile) => s + tile.width * tile.height, 0);
      expect(t.tissueArea).toBeGreaterThan(0.9 * tileArea);
      expect(t.tissueArea).toBeLessThan(1.1 * tileArea);
      const png = join(dir, 'tissue.png');
      await writeTissueOverlayPng(png, t);
      const back = await readRgb(png);
      expect([back.width, back.height]).toEqual([960, 656]);
      // A tissue pixel is tinted (differs from the slide's level), a gap pixel is not.
      const px = (img: { data: Uint8Array }, i: number) => Array.from(img.data.subarray(3 * i, 3 * i + 3));
      const tile = ts.tiles[0]!;
      const ti = Math.floor((tile.y + tile.height / 2) / d) * 960 + Math.floor((tile.x + tile.width / 2) / d);
      expect(t.mask.data[ti]).toBe(1);
      expect(px(back, ti)).not.toEqual(px(t.rgb, ti));
      const gi = 10 * 960 + 10;
      expect(t.mask.data[gi]).toBe(0);
      expect(px(back, gi)).toEqual(px(t.rgb, gi));
    } finally {
      slide.close();
    }
  });

  it('chooses the level from minSize, or the one given, and names a missing level', () => {
    const levels = [
      { width: 3840, height: 2624, downsample: 1 },
      { width: 960, height: 656, downsample: 4 },
      { width: 240, height: 164, downsample: 16 },
    ];
    expect(tissueLevel(levels)).toBe(1);
    expect(tissueLevel(levels, { minSize: 200 })).toBe(2);
    expect(tissueLevel(levels, { minSize: 5000 })).toBe(0);
    expect(tissueLevel(levels, { level: 2 })).toBe(2);
    expect(() => tissueLevel(levels, { level: 3 })).toThrow(/level 3 does not exist \(levels 0\.\.2\)/);
  });

  it('finds nothing on an all-white or an all-grey image, whatever Otsu says', () => {
    for (const v of [255, 240, 128]) {
      const rgb = { width: 64, height: 48, data: new Uint8Array(64 * 48 * 3).fill(v) };
      // JPEG-like noise of one or two codes per channel still has saturation under the floor.
      for (let i = 0; i < rgb.data.length; i += 7) rgb.data[i] = v - 2;
      const t = tissueMaskFromRgb(rgb, 16);
      expect(t.tissueArea).toBe(0);
      expect(t.mask.data.every((m) => m === 0)).toBe(true);
    }
  });

  it('drops small specks and fills small holes, with areas in level-0 pixels', () => {
    const w = 100;
    const rgb = { width: w, height: w, data: new Uint8Array(w * w * 3).fill(255) };
    const paint = (x0: number, y0: number, x1: number, y1: number, c: [number, number, number]) => {
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) rgb.data.set(c, 3 * (y * w + x));
    };
    const pink: [number, number, number] = [220, 120, 180];
    paint(10, 10, 60, 60, pink); // 50 x 50 tissue
    paint(30, 30, 33, 33, [255, 255, 255]); // 3 x 3 hole in it
    paint(80, 80, 82, 82, pink); // 2 x 2 speck
    // At downsample 4: speck = 4 px * 16 = 64 level-0 px, hole = 144; tissue = 2500 * 16.
    const t = tissueMaskFromRgb(rgb, 4, { minTissueArea: 100, maxHoleArea: 200 });
    expect(t.mask.data[81 * w + 81]).toBe(0);
    expect(t.mask.data[31 * w + 31]).toBe(1);
    expect(t.tissueArea).toBe(2500 * 16);
    const kept = tissueMaskFromRgb(rgb, 4, { minTissueArea: 10, maxHoleArea: 100 });
    expect(kept.mask.data[81 * w + 81]).toBe(1);
    expect(kept.mask.data[31 * w + 31]).toBe(0);
    expect(kept.tissueArea).toBe((2500 - 9 + 4) * 16);
  });

  it('computes Otsu on a bimodal histogram between the modes, and names a wrong histogram size', () => {
    const h = new Float64Array(256);
    h[10] = 100;
    h[200] = 50;
    const t = otsuThreshold(h);
    expect(t).toBeGreaterThanOrEqual(10);
    expect(t).toBeLessThan(200);
    expect(() => otsuThreshold(new Float64Array(10))).toThrow(/10 bins, expected 256/);
    expect(() => tissueMaskFromRgb({ width: 4, height: 4, data: new Uint8Array(5) })).toThrow(
      /5 values, expected 48/,
    );
  });
});
