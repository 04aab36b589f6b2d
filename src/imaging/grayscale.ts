// Luma as in ITU-R BT.601 (the weights of MATLAB rgb2gray / OpenCV): Y = 0.299 R + 0.587 G + 0.114 B.
import type { FloatImage, RgbImage } from './types.ts';
import { assertBuffer } from './types.ts';

/** 8-bit grayscale image; data.length === width * height. */
export interface Gray8Image {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Grayscale in [0, 255] as floats (no rounding). O(n). */
export function toGrayscale(img: RgbImage): FloatImage {
  assertBuffer('toGrayscale', img, 3);
  const n = img.width * img.height;
  const src = img.data;
  const out = new Float32Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    out[i] = 0.299 * src[j] + 0.587 * src[j + 1] + 0.114 * src[j + 2];
  }
  return { width: img.width, height: img.height, data: out };
}

/**
 * Grayscale rounded to the nearest integer (half away from zero, as MATLAB rgb2gray), so each
 * pixel falls into one of 256 histogram bins. The weights sum to 1, so the result stays in [0, 255].
 */
export function toGrayscale8(img: RgbImage): Gray8Image {
  assertBuffer('toGrayscale8', img, 3);
  const n = img.width * img.height;
  const src = img.data;
  const out = new Uint8Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    out[i] = Math.round(0.299 * src[j] + 0.587 * src[j + 1] + 0.114 * src[j + 2]);
  }
  return { width: img.width, height: img.height, data: out };
}
