/**
 * Turns stored images into what a browser can show: H&E TIFF -> PNG, instance label maps -> a
 * compact binary the viewer decodes into an Int32Array, and intermediate maps -> colour PNGs.
 * Every file is read by the shared readers (src/imaging/io.ts: readLabels for label maps,
 * readGrey for the maps, 8- or 16-bit, channel 0).
 */
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { InputError } from '../../src/errors.ts';
import type { GreyImage, LabelImage } from '../../src/imaging/types.ts';

/** `[width u32][height u32][ids i32...]`, little-endian, gzip-compressed (mostly zeros). */
export function encodeLabels(l: LabelImage): Buffer {
  const buf = Buffer.alloc(8 + l.data.length * 4);
  buf.writeUInt32LE(l.width, 0);
  buf.writeUInt32LE(l.height, 4);
  Buffer.from(l.data.buffer, l.data.byteOffset, l.data.byteLength).copy(buf, 8);
  return gzipSync(buf, { level: 1 });
}

export async function toPng(path: string): Promise<Buffer> {
  try {
    return await sharp(path).removeAlpha().png({ compressionLevel: 3 }).toBuffer();
  } catch (err) {
    throw new InputError(path, `not a readable image (${(err as Error).message})`, { cause: err });
  }
}

// Viridis and magma anchors (9 stops each), interpolated linearly.
const VIRIDIS = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];
const MAGMA = [
  [0, 0, 4],
  [28, 16, 68],
  [79, 18, 123],
  [129, 37, 129],
  [181, 54, 122],
  [229, 80, 100],
  [251, 135, 97],
  [254, 194, 135],
  [252, 253, 191],
];

function lut(stops: number[][]): Uint8Array {
  const t = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = (i / 255) * (stops.length - 1);
    const k = Math.min(Math.floor(x), stops.length - 2);
    const f = x - k;
    for (let c = 0; c < 3; c++) t[i * 3 + c] = Math.round(stops[k]![c]! * (1 - f) + stops[k + 1]![c]! * f);
  }
  return t;
}
const LUTS = { viridis: lut(VIRIDIS), magma: lut(MAGMA) };

async function rgbaPng(width: number, height: number, rgba: Uint8Array): Promise<Buffer> {
  return sharp(rgba, { raw: { width, height, channels: 4 } })
    .png({ compressionLevel: 3 })
    .toBuffer();
}

/**
 * A continuous map as an opaque colour PNG. Probabilities scale by the bit depth (so 1.0 is the
 * top colour); distance maps, whose units depend on the writer, scale by their own maximum.
 */
export async function colourMap(
  g: GreyImage,
  scale: 'depth' | 'max',
  palette: keyof typeof LUTS,
): Promise<Buffer> {
  let top = g.maxCode;
  if (scale === 'max') {
    top = 0;
    for (let i = 0; i < g.data.length; i++) if (g.data[i]! > top) top = g.data[i]!;
    if (top === 0) top = 1;
  }
  const t = LUTS[palette];
  const out = new Uint8Array(g.data.length * 4);
  for (let i = 0; i < g.data.length; i++) {
    const k = Math.min(255, Math.round((g.data[i]! / top) * 255)) * 3;
    out[i * 4] = t[k]!;
    out[i * 4 + 1] = t[k + 1]!;
    out[i * 4 + 2] = t[k + 2]!;
    out[i * 4 + 3] = 255;
  }
  return rgbaPng(g.width, g.height, out);
}

/** Markers as coloured blobs on a transparent background (a binary mask gets one colour). */
export async function colourLabels(g: GreyImage): Promise<Buffer> {
  const out = new Uint8Array(g.data.length * 4);
  for (let i = 0; i < g.data.length; i++) {
    const v = g.data[i]!;
    if (v === 0) continue;
    // Golden-ratio hue steps keep neighbouring ids apart in colour.
    const h = (v * 0.618033988749895) % 1;
    const [r, gg, b] = hsvToRgb(h, 0.85, 1);
    out[i * 4] = r;
    out[i * 4 + 1] = gg;
    out[i * 4 + 2] = b;
    out[i * 4 + 3] = 255;
  }
  return rgbaPng(g.width, g.height, out);
}

function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const i = Math.floor(h * 6);
  const f = h * 6 - i;
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  const [r, g, b] = [
    [v, t, p],
    [q, v, p],
    [p, v, t],
    [p, q, v],
    [t, p, v],
    [v, p, q],
  ][i % 6]!;
  return [Math.round(r! * 255), Math.round(g! * 255), Math.round(b! * 255)];
}
