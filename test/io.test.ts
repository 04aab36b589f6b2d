import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import type { TiffOptions } from 'sharp';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
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

function maxAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('readRgb', () => {
  const lossless: [string, TiffOptions][] = [
    ['LZW + horizontal predictor', { compression: 'lzw', predictor: 'horizontal' }],
    ['LZW, no predictor', { compression: 'lzw', predictor: 'none' }],
    ['PackBits', { compression: 'packbits' }],
    ['Deflate + predictor', { compression: 'deflate', predictor: 'horizontal' }],
    ['uncompressed', { compression: 'none' }],
  ];
  for (const [name, opts] of lossless) {
    it(`reads an 8-bit RGB TIFF with ${name} exactly`, async () => {
      const p = join(dir, `rgb-${opts.compression}-${opts.predictor ?? 'x'}.tif`);
      await raw(rgb, 3).tiff(opts).toFile(p);
      const img = await readRgb(p);
      expect([img.width, img.height]).toEqual([W, H]);
      expect(Buffer.from(img.data).equals(Buffer.from(rgb))).toBe(true);
    });
  }

  it('reads a JPEG-compressed TIFF, a JPEG and a PNG', async () => {
    const tj = join(dir, 'rgb-jpeg.tif');
    await raw(rgb, 3).tiff({ compression: 'jpeg', quality: 95 }).toFile(tj);
    const jpg = join(dir, 'rgb.jpg');
    await raw(rgb, 3).jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toFile(jpg);
    const png = join(dir, 'rgb.png');
    await raw(rgb, 3).png().toFile(png);
    for (const p of [tj, jpg]) {
      const img = await readRgb(p);
      expect([img.width, img.height]).toEqual([W, H]);
      let sum = 0;
      for (let i = 0; i < rgb.length; i++) sum += Math.abs(img.data[i]! - rgb[i]!);
      expect(sum / rgb.length).toBeLessThan(6); // lossy, but the same picture
    }
    expect(Buffer.from((await readRgb(png)).data).equals(Buffer.from(rgb))).toBe(true);
  });

  it('scales 16-bit samples to the nearest 8-bit value (v * 255 / 65535), not by truncation', async () => {
    const u16 = new Uint16Array(W * H * 3);
    const probes = [0, 1, 128, 129, 255, 256, 32767, 32768, 65406, 65407, 65534, 65535];
    for (let i = 0; i < u16.length; i++) u16[i] = i < probes.length ? probes[i]! : (i * 2654435761) % 65536;
    const p = join(dir, 'rgb16.tif');
    await raw(u16, 3).toColourspace('rgb16').tiff({ compression: 'lzw', predictor: 'horizontal' }).toFile(p);
    expect((await sharp(p).metadata()).depth).toBe('ushort');
    const img = await readRgb(p);
    for (let i = 0; i < u16.length; i++) {
      if (img.data[i] !== Math.round((u16[i]! * 255) / 65535)) {
        throw new Error(`sample ${i}: 16-bit ${u16[i]} read as ${img.data[i]}`);
      }
    }
    expect(Array.from(img.data.subarray(0, probes.length))).toEqual([
      0, 0, 0, 1, 1, 1, 127, 128, 254, 255, 255, 255,
    ]);
  });

  it('drops alpha from RGBA and replicates grayscale (8- and 16-bit, with and without alpha)', async () => {
    const rgba = new Uint8Array(W * H * 4);
    const gray = new Uint8Array(W * H);
    const gray16 = new Uint16Array(W * H);
    const grayA = new Uint8Array(W * H * 2);
    for (let i = 0; i < W * H; i++) {
      rgba.set([rgb[3 * i]!, rgb[3 * i + 1]!, rgb[3 * i + 2]!, (i * 13) & 255], 4 * i);
      gray[i] = rgb[3 * i]!;
      gray16[i] = gray[i]! * 257;
      grayA.set([gray[i]!, 255 - gray[i]!], 2 * i);
    }
    const pRgba = join(dir, 'rgba.tif');
    await raw(rgba, 4).tiff({ compression: 'lzw' }).toFile(pRgba);
    const a = await readRgb(pRgba);
    expect(Buffer.from(a.data).equals(Buffer.from(rgb))).toBe(true);

    const expectGray = (img: { data: Uint8Array }) => {
      for (let i = 0; i < W * H; i++) {
        expect([img.data[3 * i], img.data[3 * i + 1], img.data[3 * i + 2]]).toEqual([
          gray[i],
          gray[i],
          gray[i],
        ]);
      }
    };
    const pGray = join(dir, 'gray.tif');
    await raw(gray, 1).toColourspace('b-w').tiff({ compression: 'deflate' }).toFile(pGray);
    expect((await sharp(pGray).metadata()).channels).toBe(1);
    expectGray(await readRgb(pGray));
    const pGray16 = join(dir, 'gray16.tif');
    await raw(gray16, 1).toColourspace('grey16').tiff({ compression: 'none' }).toFile(pGray16);
    expect((await sharp(pGray16).metadata()).depth).toBe('ushort');
    expectGray(await readRgb(pGray16));
    const pGrayA = join(dir, 'graya.png');
    await raw(grayA, 2).toColourspace('b-w').png().toFile(pGrayA);
    expect((await sharp(pGrayA).metadata()).channels).toBe(2);
    expectGray(await readRgb(pGrayA));
  });

  it('reads a MoNuSeg TIFF (LZW + predictor) the same as its uncompressed re-encoding', async () => {
    const slide = (await readManifest(dataDir))[0]!;
    const img = await readRgb(slide.imagePath);
    expect([img.width, img.height]).toEqual([1000, 1000]);
    expect(await readImageSize(slide.imagePath)).toEqual({ width: 1000, height: 1000 });
    const p = join(dir, 'monuseg-plain.tif');
    await sharp(img.data, { raw: { width: 1000, height: 1000, channels: 3 } })
      .tiff({ compression: 'none' })
      .toFile(p);
    const { data } = await sharp(slide.imagePath).raw().toBuffer({ resolveWithObject: true });
    expect(maxAbsDiff(img.data, data)).toBe(0);
    expect(maxAbsDiff((await readRgb(p)).data, img.data)).toBe(0);
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
    const g = new Uint8Array(W * H);
    for (let i = 0; i < g.length; i++) g[i] = i % 7;
    const p = join(dir, 'labels8.png');
    await raw(g, 1).toColourspace('b-w').png().toFile(p);
    const l = await readLabels(p);
    expect(Array.from(l.data)).toEqual(Array.from(g));
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
