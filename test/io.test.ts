import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, REPO_ROOT } from '../src/config.ts';
import { readManifest } from '../src/data/manifest.ts';
import { InputError } from '../src/errors.ts';
import {
  readGrey,
  readImageSize,
  readLabels,
  readRgb,
  writeLabelsPng,
  writeRgbPng,
} from '../src/imaging/io.ts';
import { relabelSequential } from '../src/imaging/relabel.ts';
import type { LabelImage } from '../src/imaging/types.ts';
import { writeFileAtomic } from '../src/io/atomic-write.ts';
import { differ } from './helpers/arrays.ts';

const W = 37;
const H = 23;
const dir = mkdtempSync(join(tmpdir(), 'nf-io-'));
const dataDir = loadConfig().dataDir;

/** A 16-bit grey PNG written by hand (filter 0 on every row, node's zlib), independent of sharp. */
function handPng16(width: number, height: number, values: Uint16Array): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const tail = Buffer.alloc(4);
    tail.writeUInt32BE(crc32(body));
    return Buffer.concat([head, body, tail]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 16; // bit depth; colour type 0 (grey), deflate, filter method 0, no interlace
  const row = 1 + 2 * width;
  const scan = Buffer.alloc(height * row);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) scan.writeUInt16BE(values[y * width + x]!, y * row + 1 + 2 * x);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(scan)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A deterministic RGB test card with edges and every channel varying independently. */
function testCard(): Uint8Array {
  const d = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      d[i] = (x * 7 + y * 3) & 255;
      d[i + 1] = (x * y * 5 + 11) & 255;
      d[i + 2] = x < W / 2 ? 40 : 220;
    }
  }
  return d;
}

const rgb = testCard();
const raw = (data: Uint8Array | Uint16Array, channels: 1 | 2 | 3 | 4) =>
  sharp(data, { raw: { width: W, height: H, channels } });

/** The fixtures' 16-bit card: samples around the rounding points of v * 255 / 65535, then a scramble. */
const PROBES = [0, 1, 128, 129, 255, 256, 32767, 32768, 65406, 65407, 65534, 65535];
function testCard16(): Uint16Array {
  const d = new Uint16Array(W * H * 3);
  for (let i = 0; i < d.length; i++) d[i] = i < PROBES.length ? PROBES[i]! : (i * 2654435761) % 65536;
  return d;
}
const gray = Uint8Array.from({ length: W * H }, (_, i) => rgb[3 * i]!);
const grayAsRgb = Uint8Array.from({ length: W * H * 3 }, (_, i) => gray[Math.floor(i / 3)]!);

/** Compression (tag 259) and predictor (tag 317) of a little-endian TIFF's first page. */
function tiffCoding(path: string): { compression: number; predictor: number } {
  const b = readFileSync(path);
  expect(b.toString('latin1', 0, 4)).toBe('II*\0');
  const ifd = b.readUInt32LE(4);
  const tags = new Map<number, number>();
  for (let k = 0; k < b.readUInt16LE(ifd); k++) {
    const e = ifd + 2 + 12 * k;
    tags.set(b.readUInt16LE(e), b.readUInt16LE(e + 8)); // SHORT values sit in the first bytes
  }
  return { compression: tags.get(259) ?? 1, predictor: tags.get(317) ?? 1 };
}

const FIX = join(REPO_ROOT, 'test', 'fixtures', 'io');

describe('readRgb', () => {
  // Fixtures written by tifffile + imagecodecs and Pillow (tools/python/make_fixtures_io.py), not by
  // sharp, which readRgb decodes with: each must give back exactly the card it was made from.
  const lossless: [string, string, number, number][] = [
    ['LZW + horizontal predictor', 'rgb-lzw-predictor.tif', 5, 2],
    ['LZW, no predictor', 'rgb-lzw.tif', 5, 1],
    ['PackBits', 'rgb-packbits.tif', 32773, 1],
    ['Deflate + predictor', 'rgb-deflate-predictor.tif', 8, 2],
    ['uncompressed', 'rgb-none.tif', 1, 1],
  ];
  for (const [name, file, compression, predictor] of lossless) {
    it(`reads an 8-bit RGB TIFF with ${name} exactly`, async () => {
      const p = join(FIX, file);
      expect(tiffCoding(p)).toEqual({ compression, predictor });
      const img = await readRgb(p);
      expect([img.width, img.height]).toEqual([W, H]);
      expect(differ(img.data, rgb)).toBe(0);
    });
  }

  it('reads a PNG exactly, and a JPEG-compressed TIFF and a JPEG as the same picture', async () => {
    expect(differ((await readRgb(join(FIX, 'rgb.png'))).data, rgb)).toBe(0);
    const tj = join(dir, 'rgb-jpeg.tif');
    await raw(rgb, 3).tiff({ compression: 'jpeg', quality: 95 }).toFile(tj);
    const jpg = join(dir, 'rgb.jpg');
    await raw(rgb, 3).jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toFile(jpg);
    for (const p of [tj, jpg]) {
      const img = await readRgb(p);
      expect([img.width, img.height]).toEqual([W, H]);
      let sum = 0;
      for (let i = 0; i < rgb.length; i++) sum += Math.abs(img.data[i]! - rgb[i]!);
      expect(sum / rgb.length).toBeLessThan(6); // lossy, but the same picture
    }
  });

  it('scales 16-bit samples to the nearest 8-bit value (v * 255 / 65535), not by truncation', async () => {
    const p = join(FIX, 'rgb16-lzw-predictor.tif');
    expect(tiffCoding(p)).toEqual({ compression: 5, predictor: 2 });
    const u16 = testCard16();
    const img = await readRgb(p);
    expect(
      differ(
        img.data,
        Uint8Array.from(u16, (v) => Math.round((v * 255) / 65535)),
      ),
    ).toBe(0);
    expect(Array.from(img.data.subarray(0, PROBES.length))).toEqual([
      0, 0, 0, 1, 1, 1, 127, 128, 254, 255, 255, 255,
    ]);
  });

  it('drops alpha from RGBA and replicates grayscale (8- and 16-bit, with and without alpha)', async () => {
    expect(differ((await readRgb(join(FIX, 'rgba-lzw.tif'))).data, rgb)).toBe(0);
    for (const f of ['gray-deflate.tif', 'gray16-none.tif', 'gray-alpha.png']) {
      expect(differ((await readRgb(join(FIX, f))).data, grayAsRgb), f).toBe(0);
    }
  });

  it('reads a MoNuSeg TIFF (LZW + predictor) to the pixels tifffile decodes', async () => {
    const p = join(dataDir, 'images', 'TCGA-21-5784-01Z-00-DX1.tif');
    expect(tiffCoding(p)).toEqual({ compression: 5, predictor: 2 });
    const img = await readRgb(p);
    expect([img.width, img.height]).toEqual([1000, 1000]);
    expect(await readImageSize(p)).toEqual({ width: 1000, height: 1000 });
    // hashlib.sha256(tifffile.imread(p).tobytes()).hexdigest() in the tools venv (uint8, 1000x1000x3).
    expect(createHash('sha256').update(img.data).digest('hex')).toBe(
      '7cea79e20bf1f0a135bd30bffb1425fa21da9b4dcc0c3b8e5539e9aff3a2423b',
    );
  });
});

describe('label maps', () => {
  let slides: Awaited<ReturnType<typeof readManifest>>;
  beforeAll(async () => {
    slides = await readManifest(dataDir);
  });

  it('reads a 16-bit grey PNG built by hand, holding every value, exactly (readLabels and readGrey)', async () => {
    const values = new Uint16Array(256 * 256);
    for (let i = 0; i < values.length; i++) values[i] = (i * 40503) % 65536; // a permutation of 0..65535
    const p = join(dir, 'hand16.png');
    writeFileSync(p, handPng16(256, 256, values));
    expect((await readLabels(p)).data).toEqual(Int32Array.from(values));
    const g = await readGrey(p);
    expect([g.maxCode, g.data instanceof Uint16Array]).toEqual([65535, true]);
    expect(g.data).toEqual(values);
  });

  it('reads the MoNuSeg 16-bit label PNGs (ids 1..N; pixels checked against the XML in annotations.test.ts)', async () => {
    for (const s of slides.slice(0, 3)) {
      const labels = await readLabels(s.labelPath!);
      const ids = new Set(labels.data);
      ids.delete(0);
      expect([ids.size, Math.max(...ids)]).toEqual([s.nLabelInstances, s.nLabelInstances]);
    }
  });

  it('round-trips every 16-bit value through writeLabelsPng / readLabels', async () => {
    const data = new Int32Array(256 * 256);
    for (let i = 0; i < data.length; i++) data[i] = (i * 40503) % 65536;
    const p = join(dir, 'all-values.png');
    await writeLabelsPng(p, { width: 256, height: 256, data });
    const meta = await sharp(p).metadata();
    expect([meta.channels, meta.depth, meta.space]).toEqual([1, 'ushort', 'grey16']);
    expect((await readLabels(p)).data).toEqual(data);
  });

  it('readGrey gives channel 0 unscaled: 8-bit grey, RGB (red), TIFF; bad files name the file', async () => {
    const g8 = new Uint8Array(W * H);
    for (let i = 0; i < g8.length; i++) g8[i] = (i * 13) % 256;
    const p8 = join(dir, 'grey8.png');
    await raw(g8, 1).toColourspace('b-w').png().toFile(p8);
    const a = await readGrey(p8);
    expect([a.width, a.height, a.maxCode, a.data instanceof Uint8Array]).toEqual([W, H, 255, true]);
    expect(a.data).toEqual(g8);
    const pr = join(dir, 'grey-from-rgb.png');
    await raw(rgb, 3).png().toFile(pr);
    const r = await readGrey(pr);
    expect(Array.from(r.data)).toEqual(Array.from({ length: W * H }, (_, i) => rgb[3 * i]!));
    const pt = join(dir, 'grey8.tif');
    await raw(g8, 1).toColourspace('b-w').tiff({ compression: 'lzw' }).toFile(pt);
    expect((await readGrey(pt)).data).toEqual(g8);
    const bad = join(dir, 'not-an-image.png');
    writeFileSync(bad, 'hello');
    await expect(readGrey(bad)).rejects.toThrow(/not-an-image\.png: not a TIFF, PNG or JPEG image/);
  });

  it('reads 8-bit grayscale label PNGs without scaling', async () => {
    // Written by Pillow (mode L): pixel i holds i % 7.
    const l = await readLabels(join(FIX, 'labels8.png'));
    expect([l.width, l.height]).toEqual([W, H]);
    expect(
      differ(
        l.data,
        Int32Array.from({ length: W * H }, (_, i) => i % 7),
      ),
    ).toBe(0);
  });

  it('rejects RGB and gray+alpha label maps with a clear error', async () => {
    const p = join(dir, 'labels-rgb.png');
    await raw(rgb, 3).png().toFile(p);
    await expect(readLabels(p)).rejects.toThrow(InputError);
    await expect(readLabels(p)).rejects.toThrow(
      /labels-rgb\.png: label map must be single-channel.*3-channel RGB/,
    );
    const pa = join(dir, 'labels-ga.png');
    await raw(new Uint8Array(W * H * 2), 2)
      .toColourspace('b-w')
      .png()
      .toFile(pa);
    await expect(readLabels(pa)).rejects.toThrow(/labels-ga\.png: .*2 channels/);
  });

  it('reads a label map with gaps in its ids as it is', async () => {
    const data = new Int32Array(W * H);
    data[0] = 1;
    data[1] = 2;
    data[5] = 5; // 3 and 4 missing: an ordinary map after objects were removed
    const p = join(dir, 'gappy.png');
    await writeLabelsPng(p, { width: W, height: H, data });
    expect((await readLabels(p)).data).toEqual(data);
  });

  it('relabelSequential maps ids to 1..N keeping their order, with or without a table by max id', () => {
    // 8 px: max id 4 uses the lookup table; 70000 and 2^31 - 1 (above the pixel count) do not.
    for (const [hi, top] of [
      [3, 4],
      [70000, 2147483647],
    ] as const) {
      const l: LabelImage = { width: 4, height: 2, data: Int32Array.from([0, top, top, 2, hi, 0, 2, 1]) };
      const r = relabelSequential(l);
      expect(Array.from(r.labels.data)).toEqual([0, 4, 4, 2, 3, 0, 2, 1]);
      expect(Array.from(r.ids)).toEqual([0, 1, 2, hi, top]);
      expect(r.labels.data).not.toBe(l.data);
    }
    expect(Array.from(relabelSequential({ width: 2, height: 1, data: Int32Array.from([0, 0]) }).ids)).toEqual(
      [0],
    );
    expect(() => relabelSequential({ width: 2, height: 1, data: Int32Array.from([0, -1]) })).toThrow(
      /negative id -1 at pixel x=1, y=0/,
    );
  });

  it('refuses ids above 65535 and leaves no file (nor temp file) behind', async () => {
    const sub = mkdtempSync(join(dir, 'big-'));
    const p = join(sub, 'big.png');
    const data = new Int32Array(W * H);
    data[W + 3] = 65536;
    await expect(writeLabelsPng(p, { width: W, height: H, data })).rejects.toThrow(
      /big\.png: cannot store id 65536 \(pixel x=3, y=1\)/,
    );
    expect(readdirSync(sub)).toEqual([]);
  });

  it('writeRgbPng round-trips exactly', async () => {
    const p = join(dir, 'out-rgb.png');
    await writeRgbPng(p, { width: W, height: H, data: rgb });
    expect(Buffer.from((await readRgb(p)).data).equals(Buffer.from(rgb))).toBe(true);
  });
});

describe('writeFileAtomic', () => {
  it('replaces the file in one step and leaves no temp files', async () => {
    const sub = mkdtempSync(join(dir, 'atomic-'));
    const p = join(sub, 'a.txt');
    await writeFileAtomic(p, 'one');
    await writeFileAtomic(p, new TextEncoder().encode('two'));
    expect(readFileSync(p, 'utf8')).toBe('two');
    expect(readdirSync(sub)).toEqual(['a.txt']);
  });

  it('fails clearly when the folder does not exist', async () => {
    await expect(writeFileAtomic(join(dir, 'no-such-dir', 'x.png'), 'x')).rejects.toThrow(
      /x\.png: cannot write: output folder does not exist/,
    );
  });
});
