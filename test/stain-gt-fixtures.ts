// Loads the cross-check fixtures written by tools/python/make_fixtures_stain_gt.py (reference outputs only; inputs come from the MoNuSeg folder).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { loadConfig, REPO_ROOT } from '../src/config.ts';
import { crop } from '../src/imaging/crop.ts';
import { readLabels, readRgb } from '../src/imaging/io.ts';
import type { LabelImage, MaskImage, RgbImage } from '../src/imaging/types.ts';

export const FIXTURE_DIR = join(REPO_ROOT, 'test', 'fixtures', 'stain-gt');
export type Window = [number, number, number, number];

export interface StainGtManifest {
  macenko: {
    params: { io: number; alpha: number; beta: number };
    fits: { slide: string; stainMatrix: number[]; maxConc: number[] }[];
    normalize: {
      targetSlide: string;
      crops: { slide: string; window: Window; stainMatrix: number[]; maxConc: number[]; output: string }[];
    };
  };
  hed: {
    slide: string;
    window: Window;
    rgb2hed: string;
    roundtrip: string;
    alpha: [number, number, number];
    beta: [number, number, number];
    augmented: string;
  };
  groundtruth: {
    slide: string;
    window: Window;
    touchingPixels: number;
    edt: string;
    erosionDisk2: string;
    modifiedDefault: string;
    modifiedSquare1x2: string;
    bordersOnly: string;
    distance: string;
  }[];
  reference: { slide: string; jensenShannon: number }[];
}

export const manifest: StainGtManifest = JSON.parse(readFileSync(join(FIXTURE_DIR, 'manifest.json'), 'utf8'));

function raw(name: string): Uint8Array {
  return new Uint8Array(gunzipSync(readFileSync(join(FIXTURE_DIR, name))));
}

export function fixtureU8(name: string): Uint8Array {
  return raw(name);
}

export function fixtureF32(name: string): Float32Array {
  const b = raw(name);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

/** np.packbits (big-endian bit order) back to one 0/1 byte per pixel. */
export function fixtureMask(name: string, width: number, height: number): MaskImage {
  const bits = raw(name);
  const out = new Uint8Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = (bits[i >> 3] >> (7 - (i & 7))) & 1;
  return { width, height, data: out };
}

const dataDir = (): string => loadConfig().dataDir;

export async function slideRgb(slide: string, w?: Window): Promise<RgbImage> {
  const img = await readRgb(join(dataDir(), 'images', `${slide}.tif`));
  return w ? crop(img, ...w) : img;
}

export async function slideLabels(slide: string, w?: Window): Promise<LabelImage> {
  const lab = await readLabels(join(dataDir(), 'labels', `${slide}.png`));
  return w ? crop(lab, ...w) : lab;
}
