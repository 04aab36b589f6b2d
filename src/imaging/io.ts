/**
 * Image file I/O: RGB images and grey maps (TIFF, PNG, JPEG) in, instance label maps (16-bit PNG)
 * in and out. Every failure a user can cause becomes an InputError naming the file.
 *
 * Image files are read into pixel arrays here only, by sharp (libvips), 16-bit PNGs included: it is
 * exact (test/io.test.ts reads a hand-built 16-bit PNG holding every value) and was about 7x
 * faster than pngjs, which the dashboard used to have, on a 1000x1000 MoNuSeg label map (48 vs
 * 343 ms). sharp converts to sRGB unless told otherwise, so every pipeline here names its colour
 * space explicitly (grey16, b-w, rgb16, srgb) and ignores embedded ICC profiles: ids are not colours.
 */
import { readFile } from 'node:fs/promises';
import type { Metadata, OutputInfo, Sharp } from 'sharp';
import sharp from 'sharp';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic-write.ts';
import type { GreyImage, LabelImage, RgbImage } from './types.ts';
import { assertBuffer } from './types.ts';

type Container = 'TIFF' | 'PNG' | 'JPEG';

/** Identifies the container from its first bytes (extensions lie more often than signatures). */
function sniff(buf: Uint8Array): Container | undefined {
  if (buf.length >= 4) {
    if (buf[0] === 0x49 && buf[1] === 0x49 && (buf[2] === 0x2a || buf[2] === 0x2b) && buf[3] === 0)
      return 'TIFF';
    if (buf[0] === 0x4d && buf[1] === 0x4d && buf[2] === 0 && (buf[3] === 0x2a || buf[3] === 0x2b))
      return 'TIFF';
    if (buf[0] === 0x89 && buf[1] === 0x50 && buf[2] === 0x4e && buf[3] === 0x47) return 'PNG';
  }
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'JPEG';
  return undefined;
}

async function readInput(path: string): Promise<Buffer> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(path, 'file not found', { cause: err });
    if (code === 'EISDIR')
      throw new InputError(path, 'is a directory, expected an image file', { cause: err });
    if (code === 'EACCES') throw new InputError(path, 'permission denied', { cause: err });
    throw new InputError(path, `cannot read: ${(err as Error).message}`, { cause: err });
  }
  if (buf.length === 0) throw new InputError(path, 'empty file');
  return buf;
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n').find((l) => l.trim() !== '') ?? msg;
}

function corrupt(path: string, kind: Container, err: unknown): InputError {
  let why = firstLine(err);
  // libvips says this when the header or image directory is unreadable, e.g. cut off by truncation.
  if (/unsupported image format/i.test(why)) why = 'cannot read its header or image directory';
  return new InputError(path, `corrupt or truncated ${kind}: ${why}`, { cause: err });
}

function open(buf: Buffer): Sharp {
  // failOn 'warning': a truncated strip is an error here, never a silently grey image.
  return sharp(buf, { failOn: 'warning', ignoreIcc: true, limitInputPixels: false });
}

async function decode(
  path: string,
  kind: Container,
  pipeline: Sharp,
  depth: 'uchar' | 'ushort',
): Promise<{ data: Buffer; info: OutputInfo }> {
  try {
    return await pipeline.raw({ depth }).toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw corrupt(path, kind, err);
  }
}

/** Rounds a 16-bit sample to the nearest 8-bit one: v * 255 / 65535 (not v >> 8, not a cast). */
function to8(v: number): number {
  return Math.floor((v * 255 + 32767) / 65535);
}

interface Samples {
  width: number;
  height: number;
  channels: number;
  /** Interleaved samples, 8- or 16-bit as stored. */
  data: Uint8Array | Uint16Array;
  wide: boolean;
}

/** Decodes any TIFF, PNG or JPEG to its interleaved samples at its own bit depth, in grey or RGB. */
async function readSamples(path: string): Promise<Samples> {
  const buf = await readInput(path);
  const kind = sniff(buf);
  if (kind === undefined)
    throw new InputError(path, 'not a TIFF, PNG or JPEG image (unrecognised file signature)');
  let meta: Metadata;
  try {
    meta = await open(buf).metadata();
  } catch (err) {
    throw corrupt(path, kind, err);
  }
  if (meta.depth !== 'uchar' && meta.depth !== 'ushort') {
    throw new InputError(
      path,
      `unsupported sample format '${meta.depth}' (need 8- or 16-bit integer samples)`,
    );
  }
  const gray = meta.space === 'b-w' || meta.space === 'grey16';
  const wide = meta.depth === 'ushort';
  const space = gray ? (wide ? 'grey16' : 'b-w') : wide ? 'rgb16' : 'srgb';
  const { data, info } = await decode(path, kind, open(buf).toColourspace(space), meta.depth);
  const { width, height, channels } = info;
  const n = width * height * channels;
  return {
    width,
    height,
    channels,
    data: wide
      ? new Uint16Array(data.buffer, data.byteOffset, n)
      : new Uint8Array(data.buffer, data.byteOffset, n),
    wide,
  };
}

/**
 * Reads an RGB image: TIFF (LZW with or without predictor, PackBits, Deflate, JPEG, none), PNG
 * or JPEG; 8 or 16 bits per sample (16-bit rounded to the nearest 8-bit value); RGB, RGBA
 * (alpha dropped, not composited), grayscale or grayscale+alpha (gray replicated to R, G, B).
 * Multi-page TIFFs give their first page. Throws InputError for a missing, unreadable, corrupt
 * or truncated file, or an unsupported sample format.
 */
export async function readRgb(path: string): Promise<RgbImage> {
  const { width, height, channels, data: src, wide } = await readSamples(path);
  const n = width * height;
  const out = new Uint8Array(n * 3);
  if (channels === 3 && !wide) {
    out.set(src.subarray(0, n * 3));
  } else if (channels === 1 || channels === 2) {
    for (let i = 0; i < n; i++) {
      const g = wide ? to8(src[i * channels]!) : src[i * channels]!;
      out[3 * i] = g;
      out[3 * i + 1] = g;
      out[3 * i + 2] = g;
    }
  } else if (channels === 3 || channels === 4) {
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) {
        const v = src[i * channels + c]!;
        out[3 * i + c] = wide ? to8(v) : v;
      }
    }
  } else {
    throw new InputError(path, `unsupported ${channels}-channel image (need gray, gray+alpha, RGB or RGBA)`);
  }
  return { width, height, data: out };
}

/**
 * Reads the first channel of any TIFF, PNG or JPEG unscaled, at its own bit depth: a grey map
 * (probability, distance, markers) as its writer stored it; for colour files, the red channel.
 */
export async function readGrey(path: string): Promise<GreyImage> {
  const { width, height, channels, data: src, wide } = await readSamples(path);
  const n = width * height;
  const out = wide ? new Uint16Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = src[i * channels]!;
  return { width, height, data: out, maxCode: wide ? 65535 : 255 };
}

/** Width and height of an image file, from its header only (no pixel decoding). */
export async function readImageSize(path: string): Promise<{ width: number; height: number }> {
  const buf = await readInput(path);
  const kind = sniff(buf);
  if (kind === undefined)
    throw new InputError(path, 'not a TIFF, PNG or JPEG image (unrecognised file signature)');
  try {
    const meta = await open(buf).metadata();
    if (!meta.width || !meta.height) throw new Error('no image size in header');
    return { width: meta.width, height: meta.height };
  } catch (err) {
    throw corrupt(path, kind, err);
  }
}

/**
 * Reads an instance label map stored as a single-channel 8- or 16-bit grayscale image (PNG, or
 * TIFF): 0 = background, each other value one object. Sample values are the ids, unscaled; they
 * are arbitrary labels, so gaps (objects removed or merged) are accepted as they are. RGB,
 * palette and multi-channel maps are rejected rather than guessed at.
 */
export async function readLabels(path: string): Promise<LabelImage> {
  const buf = await readInput(path);
  const kind = sniff(buf);
  if (kind !== 'PNG' && kind !== 'TIFF') {
    throw new InputError(
      path,
      `label map must be a grayscale PNG or TIFF, got ${kind ?? 'an unrecognised file'}`,
    );
  }
  let meta: Metadata;
  try {
    meta = await open(buf).metadata();
  } catch (err) {
    throw corrupt(path, kind, err);
  }
  if (meta.isPalette || (meta.channels ?? 0) >= 3) {
    throw new InputError(
      path,
      `label map must be single-channel grayscale with the id as the value, got a ${meta.channels}-channel ` +
        `${meta.isPalette ? 'palette' : 'RGB'} image (colour-coded label maps are not supported)`,
    );
  }
  if (meta.channels !== 1) {
    throw new InputError(
      path,
      `label map must be single-channel grayscale, got ${meta.channels} channels (gray+alpha)`,
    );
  }
  if (meta.depth !== 'uchar' && meta.depth !== 'ushort') {
    throw new InputError(path, `label map must have 8- or 16-bit integer samples, got '${meta.depth}'`);
  }
  const wide = meta.depth === 'ushort';
  const { data, info } = await decode(
    path,
    kind,
    open(buf).toColourspace(wide ? 'grey16' : 'b-w'),
    meta.depth,
  );
  if (info.channels !== 1)
    throw new InputError(path, `decoder returned ${info.channels} channels, expected 1`);
  const n = info.width * info.height;
  const src = wide ? new Uint16Array(data.buffer, data.byteOffset, n) : data;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = src[i]!;
  return { width: info.width, height: info.height, data: out };
}

/** Throws InputError naming both files when a predicted label map and its ground truth differ in size. */
export function assertSameLabelSize(
  predPath: string,
  pred: { width: number; height: number },
  gtPath: string,
  gt: { width: number; height: number },
): void {
  if (pred.width !== gt.width || pred.height !== gt.height) {
    throw new InputError(
      predPath,
      `prediction is ${pred.width}x${pred.height} but its ground truth ${gtPath} is ${gt.width}x${gt.height}`,
    );
  }
}

/**
 * Writes an instance map as a 16-bit grayscale PNG, atomically (no partial file on error).
 * Throws InputError naming `path` when an id is negative or above 65535.
 */
export async function writeLabelsPng(path: string, labels: LabelImage): Promise<void> {
  assertBuffer('writeLabelsPng', labels);
  const n = labels.width * labels.height;
  const u16 = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const v = labels.data[i]!;
    if (v < 0 || v > 65535) {
      throw new InputError(
        path,
        `cannot store id ${v} (pixel x=${i % labels.width}, y=${Math.floor(i / labels.width)}) in a 16-bit PNG (ids must be 0..65535)`,
      );
    }
    u16[i] = v;
  }
  const png = await sharp(u16, { raw: { width: labels.width, height: labels.height, channels: 1 } })
    .toColourspace('grey16')
    .png({ compressionLevel: 6 })
    .toBuffer();
  await writeFileAtomic(path, png);
}

/** Writes an RGB image as an 8-bit PNG, atomically (no partial file on error). */
export async function writeRgbPng(path: string, img: RgbImage): Promise<void> {
  assertBuffer('writeRgbPng', img, 3);
  const png = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .toColourspace('srgb')
    .png({ compressionLevel: 6 })
    .toBuffer();
  await writeFileAtomic(path, png);
}
