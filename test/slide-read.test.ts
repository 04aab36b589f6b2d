import { copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { InputError, UserError } from '../src/errors.ts';
import { readLabels, readRgb, writeRgbPng } from '../src/imaging/io.ts';
import type { RgbImage } from '../src/imaging/types.ts';
import { openSlide, requireMpp } from '../src/slide/index.ts';
import { flattenArgbOntoWhite, openSlideLibraryPath } from '../src/slide/openslide.ts';
import { EDGE_SLIDE, type TestSlide, testSlide } from '../testing/test-slide.ts';

const dir = mkdtempSync(join(tmpdir(), 'nf-slide-read-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let big: TestSlide;
/** Two 512x512 crops side by side with no margin, so tissue touches every edge of the slide. */
let edge: TestSlide;
beforeAll(async () => {
  big = await testSlide();
  edge = await testSlide(EDGE_SLIDE);
}, 180_000);

/** The w x h crop of img at (x, y), pixels outside img white. */
function crop(img: RgbImage, x: number, y: number, w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h * 3).fill(255);
  for (let j = 0; j < h; j++) {
    const sy = y + j;
    if (sy < 0 || sy >= img.height) continue;
    for (let i = 0; i < w; i++) {
      const sx = x + i;
      if (sx < 0 || sx >= img.width) continue;
      for (let c = 0; c < 3; c++) out[(j * w + i) * 3 + c] = img.data[(sy * img.width + sx) * 3 + c]!;
    }
  }
  return out;
}

/** Box (area) mean over f x f blocks, rounded half up: what the slide builder's pyramid holds. */
function boxReduce(img: RgbImage, f: number): RgbImage {
  const w = img.width / f;
  const h = img.height / f;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let j = 0; j < f; j++)
          for (let i = 0; i < f; i++) s += img.data[((y * f + j) * img.width + x * f + i) * 3 + c]!;
        data[(y * w + x) * 3 + c] = Math.floor((s + (f * f) / 2) / (f * f));
      }
  return { width: w, height: h, data };
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

describe('openSlide on an Aperio-style SVS built from MoNuSeg', () => {
  it('reports vendor aperio, the pixel size, the objective and the pyramid of both slides', async () => {
    const s40 = await openSlide(big.svs40);
    const s20 = await openSlide(big.svs20);
    try {
      expect([big.width, big.height]).toEqual([3840, 2624]);
      expect(s40.vendor).toBe('aperio');
      expect(s40.mpp).toEqual({ x: 0.2527, y: 0.2527 });
      expect(requireMpp(s40)).toEqual({ x: 0.2527, y: 0.2527 });
      expect(s40.objectivePower).toBe(40);
      expect(s40.property('aperio.AppMag')).toBe('40');
      expect(s40.levels).toEqual([
        { width: 3840, height: 2624, downsample: 1 },
        { width: 960, height: 656, downsample: 4 },
        { width: 240, height: 164, downsample: 16 },
      ]);
      expect(s20.vendor).toBe('aperio');
      expect(s20.mpp).toEqual({ x: 0.5054, y: 0.5054 });
      expect(s20.objectivePower).toBe(20);
      expect(s20.levels).toEqual([
        { width: 1920, height: 1312, downsample: 1 },
        { width: 480, height: 328, downsample: 4 },
        { width: 120, height: 82, downsample: 16 },
      ]);
    } finally {
      s40.close();
      s20.close();
    }
  });

  it('opens the same pyramid without the Aperio description as generic-tiff with no pixel size', async () => {
    const s = await openSlide(edge.genericTiff);
    try {
      expect(s.vendor).toBe('generic-tiff');
      expect(s.mpp).toBeUndefined();
      expect(s.objectivePower).toBeUndefined();
      expect(s.levels.map((l) => [l.width, l.height, l.downsample])).toEqual([
        [1024, 512, 1],
        [256, 128, 4],
        [64, 32, 16],
      ]);
      expect(() => requireMpp(s)).toThrow(InputError);
      expect(() => requireMpp(s)).toThrow(`${edge.genericTiff}: no pixel size`);
      const got = await s.readRegion({ x: 300, y: 100, level: 0, width: 200, height: 150 });
      expect(meanAbsDiff(got, crop(edge.mosaic(), 300, 100, 200, 150))).toBeLessThan(3);
    } finally {
      s.close();
    }
  });

  it('reads level-0 regions equal to the source mosaic within JPEG error, at the right offset', async () => {
    const mosaic = big.mosaic();
    const s = await openSlide(big.svs40);
    try {
      // Across the corner of four tiles and the blank gaps between them (a 200 px gap at 1200..1400).
      const [x, y, w, h] = [1100, 1100, 512, 400];
      const got = await s.readRegion({ x, y, level: 0, width: w, height: h });
      expect(got.length).toBe(w * h * 3);
      const exact = meanAbsDiff(got, crop(mosaic, x, y, w, h));
      expect(exact).toBeLessThan(3);
      // On tissue alone: off by two pixels, or with red and blue swapped, the read is clearly worse.
      const [tx, ty] = [2700, 1500];
      const tissue = await s.readRegion({ x: tx, y: ty, level: 0, width: w, height: h });
      const there = meanAbsDiff(tissue, crop(mosaic, tx, ty, w, h));
      expect(there).toBeLessThan(3);
      expect(meanAbsDiff(tissue, crop(mosaic, tx + 2, ty, w, h))).toBeGreaterThan(there + 5);
      expect(meanAbsDiff(tissue, crop(mosaic, tx, ty + 2, w, h))).toBeGreaterThan(there + 5);
      const swapped = Uint8Array.from(tissue);
      for (let i = 0; i < swapped.length; i += 3) [swapped[i], swapped[i + 2]] = [tissue[i + 2]!, tissue[i]!];
      expect(meanAbsDiff(swapped, crop(mosaic, tx, ty, w, h))).toBeGreaterThan(there + 5);
      // The gap stays blank white.
      const gap = await s.readRegion({ x: 1250, y: 300, level: 0, width: 100, height: 100 });
      expect(gap.every((v) => v >= 250)).toBe(true);
      // Concurrent reads on one handle give the same pixels as one at a time.
      const again = await Promise.all([
        s.readRegion({ x, y, level: 0, width: w, height: h }),
        s.readRegion({ x: 0, y: 0, level: 1, width: 300, height: 200 }),
      ]);
      expect(Buffer.from(again[0]!).equals(Buffer.from(got))).toBe(true);
    } finally {
      s.close();
    }
  });

  it('reads lower levels (level-0 coordinates) as downsamples of the mosaic, and the 20x slide likewise', async () => {
    const mosaic = big.mosaic();
    const s40 = await openSlide(big.svs40);
    const s20 = await openSlide(big.svs20);
    try {
      const by4 = boxReduce(mosaic, 4);
      const l1 = await s40.readRegion({ x: 1200, y: 800, level: 1, width: 256, height: 200 });
      expect(meanAbsDiff(l1, crop(by4, 300, 200, 256, 200))).toBeLessThan(3);
      // Taking (x, y) as level-1 pixels would land elsewhere.
      expect(meanAbsDiff(l1, crop(by4, 1200, 800, 256, 200))).toBeGreaterThan(10);
      const by16 = boxReduce(by4, 4);
      const l2 = await s40.readRegion({ x: 0, y: 0, level: 2, width: 240, height: 164 });
      expect(meanAbsDiff(l2, by16.data)).toBeLessThan(3);
      const by2 = boxReduce(mosaic, 2);
      const l0at20 = await s20.readRegion({ x: 500, y: 500, level: 0, width: 400, height: 300 });
      expect(meanAbsDiff(l0at20, crop(by2, 500, 500, 400, 300))).toBeLessThan(3);
    } finally {
      s40.close();
      s20.close();
    }
  });

  it('returns white where a region leaves the slide, as OpenSlide flattens its transparent pixels', async () => {
    const mosaic = edge.mosaic();
    expect([edge.width, edge.height]).toEqual([1024, 512]);
    const s = await openSlide(edge.svs40);
    try {
      for (const [x, y] of [
        [1024 - 100, 512 - 60],
        [-70, -30],
      ] as const) {
        const got = await s.readRegion({ x, y, level: 0, width: 200, height: 120 });
        // Outside: exactly white. Inside: the mosaic's tissue within JPEG error.
        const outside: number[] = [];
        const inside: number[][] = [[], []];
        for (let j = 0; j < 120; j++)
          for (let i = 0; i < 200; i++) {
            const sx = x + i;
            const sy = y + j;
            for (let c = 0; c < 3; c++) {
              const v = got[(j * 200 + i) * 3 + c]!;
              if (sx < 0 || sy < 0 || sx >= 1024 || sy >= 512) outside.push(v);
              else {
                inside[0]!.push(v);
                inside[1]!.push(mosaic.data[(sy * 1024 + sx) * 3 + c]!);
              }
            }
          }
        expect(outside.length).toBeGreaterThan(0);
        expect(outside.every((v) => v === 255)).toBe(true);
        expect(meanAbsDiff(Uint8Array.from(inside[0]!), Uint8Array.from(inside[1]!))).toBeLessThan(3);
      }
      const far = await s.readRegion({ x: 5000, y: -5000, level: 1, width: 64, height: 64 });
      expect(far.every((v) => v === 255)).toBe(true);
    } finally {
      s.close();
    }
    await expect(s.readRegion({ x: 0, y: 0, level: 0, width: 1, height: 1 })).rejects.toThrow(/closed/);
  });

  it('flattens premultiplied ARGB onto white: opaque kept, transparent white, partial composited', () => {
    const px = [0xff102030, 0x00000000, 0x80400000, 0x80808080];
    const out = flattenArgbOntoWhite(Uint32Array.from(px).buffer, px.length);
    // 0x80 alpha: 127 of white added to each premultiplied channel.
    expect([...out]).toEqual([0x10, 0x20, 0x30, 255, 255, 255, 0x40 + 127, 127, 127, 255, 255, 255]);
  });

  it('takes 300 concurrent reads (more than koffi queues at once) and returns each its own pixels', async () => {
    const s = await openSlide(edge.svs40);
    try {
      const at = (i: number) => ({ x: (i * 37) % 900, y: (i * 53) % 400, level: 0, width: 32, height: 32 });
      const all = await Promise.all(Array.from({ length: 300 }, (_, i) => s.readRegion(at(i))));
      for (const i of [0, 151, 299]) {
        expect(Buffer.from(all[i]!).equals(Buffer.from(await s.readRegion(at(i))))).toBe(true);
      }
    } finally {
      s.close();
    }
  });

  it('refuses a level the slide does not have and malformed sizes', async () => {
    const s = await openSlide(edge.svs40);
    try {
      await expect(s.readRegion({ x: 0, y: 0, level: 3, width: 8, height: 8 })).rejects.toThrow(
        /level 3 does not exist .*levels 0\.\.2/,
      );
      await expect(s.readRegion({ x: 0.5, y: 0, level: 0, width: 8, height: 8 })).rejects.toThrow(RangeError);
      await expect(s.readRegion({ x: 0, y: 0, level: 0, width: 0, height: 8 })).rejects.toThrow(RangeError);
    } finally {
      s.close();
    }
  });
});

describe('the test slide ground truth', () => {
  it('is the mosaic of the MoNuSeg labels, ids unique across tiles, zero in the gaps', async () => {
    const labels = await big.labels();
    expect([labels.width, labels.height]).toEqual([big.width, big.height]);
    const data = loadConfig().dataDir;
    const seen = new Set<number>();
    let inTiles = 0;
    for (const t of big.tiles) {
      const own = await readLabels(join(data, 'labels', `${t.slide}.png`));
      const ids = new Set<number>();
      for (let y = 0; y < t.height; y++)
        for (let x = 0; x < t.width; x++) {
          const v = own.data[y * own.width + x]!;
          const got = labels.data[(t.y + y) * labels.width + t.x + x]!;
          if (got !== (v === 0 ? 0 : v + t.idOffset))
            throw new Error(`${t.slide} (${x}, ${y}): ${got} vs ${v}`);
          if (got) ids.add(got);
        }
      for (const id of ids) {
        expect(seen.has(id)).toBe(false);
        seen.add(id);
      }
      inTiles += t.width * t.height;
    }
    // Every object pixel lies in a tile: the gaps are background.
    let foreground = 0;
    for (const v of labels.data) if (v) foreground++;
    let foregroundInTiles = 0;
    for (const t of big.tiles)
      for (let y = 0; y < t.height; y++)
        for (let x = 0; x < t.width; x++)
          if (labels.data[(t.y + y) * labels.width + t.x + x]) foregroundInTiles++;
    expect(foreground).toBe(foregroundInTiles);
    expect(inTiles).toBe(6 * 1000 * 1000);
    // All of each image's nuclei: 398 + 357 + 472 + 342 + 363 + 1391 (n_label_instances in manifest.csv).
    expect(seen.size).toBe(3323);
  });
});

describe('openSlide on plain images', () => {
  it('reads a PNG and a stripped MoNuSeg TIFF as one-level slides with no pixel size', async () => {
    const tif = join(loadConfig().dataDir, 'images', 'TCGA-21-5784-01Z-00-DX1.tif');
    const src = await readRgb(tif);
    const png = join(dir, 'plain.png');
    await writeRgbPng(png, src);
    for (const [path, vendor] of [
      [png, 'image/png'],
      [tif, 'image/tiff'],
    ] as const) {
      const s = await openSlide(path);
      try {
        expect(s.vendor).toBe(vendor);
        expect(s.levels).toEqual([{ width: 1000, height: 1000, downsample: 1 }]);
        expect(s.mpp).toBeUndefined();
        expect(s.objectivePower).toBeUndefined();
        expect(() => requireMpp(s)).toThrow(InputError);
        expect(() => requireMpp(s)).toThrow(`${path}: no pixel size`);
        // Exact pixels, white beyond the image.
        const got = await s.readRegion({ x: 900, y: -20, level: 0, width: 150, height: 70 });
        expect(got).toEqual(crop(src, 900, -20, 150, 70));
        expect(got[(0 * 150 + 120) * 3]).toBe(255);
      } finally {
        s.close();
      }
    }
  });
});

describe('bad slide files', () => {
  /** The error of opening `path` and reading all of level 0 (some damage shows only on read). */
  async function failure(path: string): Promise<Error> {
    try {
      const s = await openSlide(path);
      try {
        const l0 = s.levels[0]!;
        await s.readRegion({ x: 0, y: 0, level: 0, width: l0.width, height: l0.height });
      } finally {
        s.close();
      }
    } catch (err) {
      return err as Error;
    }
    throw new Error(`${path} was read without an error`);
  }

  it('gives one-line InputErrors naming the file: corrupt, truncated, unsupported, empty, missing', async () => {
    const svs = readFileSync(edge.svs40);
    const files = {
      // Tile data overwritten: OpenSlide opens it and its JPEG decoder names the damage.
      corrupt: join(dir, 'corrupt.svs'),
      truncated: join(dir, 'truncated.svs'),
      headerOnly: join(dir, 'header-only.svs'),
      unsupported: join(dir, 'notes.svs'),
      empty: join(dir, 'empty.svs'),
      missing: join(dir, 'missing.svs'),
    };
    const damaged = Buffer.from(svs);
    damaged.fill(0x5a, Math.floor(svs.length * 0.2), Math.floor(svs.length * 0.8));
    writeFileSync(files.corrupt, damaged);
    writeFileSync(files.truncated, svs.subarray(0, Math.floor(svs.length * 0.9)));
    writeFileSync(files.headerOnly, Buffer.concat([Buffer.from('II*\0'), Buffer.alloc(996, 7)]));
    writeFileSync(files.unsupported, 'a text file, not a slide\n');
    writeFileSync(files.empty, '');
    const expected: Record<keyof typeof files, RegExp> = {
      corrupt: /OpenSlide cannot read level 0 at \(0, 0\), 1024x512: Not a JPEG file/,
      truncated: /corrupt or truncated slide: an Aperio slide that OpenSlide does not recognise/,
      headerOnly:
        /corrupt or truncated TIFF: its first image directory at byte \d+ lies beyond the end of the file \(1000 bytes\)/,
      unsupported: /unsupported file: not a slide format OpenSlide reads .* nor a TIFF, PNG or JPEG image/,
      empty: /empty file/,
      missing: /file not found/,
    };
    for (const [name, path] of Object.entries(files) as [keyof typeof files, string][]) {
      const err = await failure(path);
      expect(err, name).toBeInstanceOf(InputError);
      expect(err.message.startsWith(`${path}: `), name).toBe(true);
      expect(err.message, name).toMatch(expected[name]);
      expect(err.message, name).not.toContain('\n');
    }
  });

  it('opens slides through NUCLEIFLOW_OPENSLIDE_LIB beside the tools venv library in one process', async () => {
    const own = join(dir, 'libopenslide-copy.so.1');
    copyFileSync(openSlideLibraryPath(loadConfig({})), own);
    const viaVenv = await openSlide(edge.svs40, loadConfig({}));
    const viaEnv = await openSlide(edge.svs40, loadConfig({ NUCLEIFLOW_OPENSLIDE_LIB: own }));
    const r = { x: 100, y: 100, level: 0, width: 64, height: 64 };
    expect(Buffer.from(await viaEnv.readRegion(r)).equals(Buffer.from(await viaVenv.readRegion(r)))).toBe(
      true,
    );
    // Both files are mapped into this process: the copy was loaded, not the venv library reused.
    const mapped = new Set(
      readFileSync('/proc/self/maps', 'utf8')
        .split('\n')
        .map((line) => line.split(/\s+/)[5] ?? '')
        .filter((p) => p.includes('libopenslide')),
    );
    expect([...mapped]).toContain(realpathSync(own));
    expect([...mapped]).toContain(realpathSync(openSlideLibraryPath(loadConfig({}))));
    viaVenv.close();
    viaEnv.close();
  });

  it('says to run the setup script when the OpenSlide library is missing (a PNG still opens)', async () => {
    const config = loadConfig({ NUCLEIFLOW_CACHE: join(dir, 'empty-cache') });
    const err = await openSlide(edge.svs40, config).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(
      /^the OpenSlide library is not installed \(no openslide_bin\/libopenslide\.so\.1 in the tools venv .*empty-cache\/tools-venv-[0-9a-f]{12}\); run `bash scripts\/setup\.sh`/,
    );
    const png = join(dir, 'tiny.png');
    await writeRgbPng(png, { width: 2, height: 1, data: Uint8Array.from([1, 2, 3, 4, 5, 6]) });
    const s = await openSlide(png, config);
    expect(await s.readRegion({ x: 0, y: 0, level: 0, width: 2, height: 1 })).toEqual(
      Uint8Array.from([1, 2, 3, 4, 5, 6]),
    );
    s.close();
  });
});
