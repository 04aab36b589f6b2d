// The dihedral group D4 of the pixel grid: rotations by multiples of 90 degrees and mirror flips (lossless augmentation).
//
// Conventions: rot90 with k turns counter-clockwise on screen (y down), as numpy.rot90(a, k) on an
// array indexed [row, col]; flipHorizontal mirrors left-right (numpy.fliplr), flipVertical top-bottom
// (numpy.flipud). A transform {k, flip} means: flip left-right first (when flip), then rot90 by k.
// Works for any channel count (RGB has 3 interleaved channels) and any typed array; the channel
// count is data.length / (width * height). One output allocation, O(n).
import type { Rng } from './rng.ts';

type PixelArray = Uint8Array | Uint16Array | Int32Array | Float32Array | Float64Array;

/** Any row-major image: RgbImage, LabelImage, MaskImage, FloatImage. */
export interface Planar<T extends PixelArray = PixelArray> {
  readonly width: number;
  readonly height: number;
  readonly data: T;
}

export interface Dihedral {
  /** Counter-clockwise quarter turns, 0..3. */
  readonly k: 0 | 1 | 2 | 3;
  /** Mirror left-right before rotating. */
  readonly flip: boolean;
}

/** All 8 transforms; index i is { k: i % 4, flip: i >= 4 }. */
export const DIHEDRAL: readonly Dihedral[] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => ({
  k: (i % 4) as 0 | 1 | 2 | 3,
  flip: i >= 4,
}));

function channelsOf(img: Planar): number {
  const n = img.width * img.height;
  const c = img.data.length / n;
  if (
    !Number.isInteger(c) ||
    c < 1 ||
    !Number.isInteger(img.width) ||
    !Number.isInteger(img.height) ||
    n <= 0
  ) {
    throw new RangeError(
      `dihedral: buffer of ${img.data.length} values does not fit ${img.width}x${img.height}`,
    );
  }
  return c;
}

/** Applies {k, flip} to one image of any pixel type. */
export function applyDihedral<I extends Planar>(img: I, t: Dihedral): I {
  const c = channelsOf(img);
  const { width: w, height: h } = img;
  const k = ((t.k % 4) + 4) % 4;
  const ow = k % 2 === 1 ? h : w;
  const oh = k % 2 === 1 ? w : h;
  const src = img.data;
  const ctor = src.constructor as new (n: number) => PixelArray;
  const out = new ctor(src.length);
  for (let yo = 0; yo < oh; yo++) {
    for (let xo = 0; xo < ow; xo++) {
      // Source pixel (x, y) of the output pixel (xo, yo), before the flip.
      let x: number;
      let y: number;
      if (k === 0) {
        x = xo;
        y = yo;
      } else if (k === 1) {
        x = w - 1 - yo;
        y = xo;
      } else if (k === 2) {
        x = w - 1 - xo;
        y = h - 1 - yo;
      } else {
        x = yo;
        y = h - 1 - xo;
      }
      if (t.flip) x = w - 1 - x;
      const si = (y * w + x) * c;
      const oi = (yo * ow + xo) * c;
      for (let ch = 0; ch < c; ch++) out[oi + ch] = src[si + ch];
    }
  }
  return { ...img, width: ow, height: oh, data: out };
}

/** numpy.rot90(a, k): k counter-clockwise quarter turns (negative k turns clockwise). */
export function rot90<I extends Planar>(img: I, k: number): I {
  if (!Number.isInteger(k)) throw new RangeError(`rot90: k must be an integer, got ${k}`);
  return applyDihedral(img, { k: (((k % 4) + 4) % 4) as 0 | 1 | 2 | 3, flip: false });
}

/** Mirror left-right (numpy.fliplr). */
export function flipHorizontal<I extends Planar>(img: I): I {
  return applyDihedral(img, { k: 0, flip: true });
}

/** Mirror top-bottom (numpy.flipud): equals a left-right flip followed by a half turn. */
export function flipVertical<I extends Planar>(img: I): I {
  return applyDihedral(img, { k: 2, flip: true });
}

/**
 * Draws one of the 8 transforms uniformly (one rng.next()) and applies it to every image, so an
 * image and its targets stay aligned. All images must have the same width and height.
 */
export function randomDihedral<T extends readonly Planar[]>(
  rng: Rng,
  images: T,
): { transform: Dihedral; images: { -readonly [K in keyof T]: T[K] } } {
  for (const img of images) {
    if (img.width !== images[0].width || img.height !== images[0].height) {
      throw new RangeError(
        `randomDihedral: shapes differ, ${images[0].width}x${images[0].height} vs ${img.width}x${img.height}`,
      );
    }
  }
  const transform = DIHEDRAL[rng.int(8)];
  const out = images.map((img) => applyDihedral(img, transform)) as { -readonly [K in keyof T]: T[K] };
  return { transform, images: out };
}
