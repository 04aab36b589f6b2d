/**
 * Pixel containers shared by every module. All are row-major, top-left origin; pixel (x, y)
 * lives at index y * width + x (times channels for RGB). Typed arrays only: no arrays of arrays.
 */

/** Interleaved 8-bit RGB; data.length === width * height * 3. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Instance label map: 0 is background, 1..N are objects. Int32 so predictions never overflow. */
export interface LabelImage {
  readonly width: number;
  readonly height: number;
  readonly data: Int32Array;
}

/** Binary mask: 0 or 1 per pixel. */
export interface MaskImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Single-channel 8- or 16-bit samples as stored in a file (see readGrey). */
export interface GreyImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint16Array | Uint8Array;
  /** Largest code the file's bit depth can hold (255 or 65535). */
  readonly maxCode: number;
}

/** Single-channel float image (probabilities, distance maps, grayscale in [0, 255] or [0, 1]). */
export interface FloatImage {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
}

export type AnyImage = RgbImage | LabelImage | MaskImage | FloatImage;

/** Throws an Error naming both shapes when two images differ in size. */
export function assertSameShape(
  what: string,
  a: { width: number; height: number },
  b: { width: number; height: number },
): void {
  if (a.width !== b.width || a.height !== b.height) {
    throw new RangeError(`${what}: shapes differ, ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  }
}

/** Throws when data.length does not match width * height * channels. */
export function assertBuffer(
  what: string,
  img: { width: number; height: number; data: ArrayLike<number> },
  channels = 1,
): void {
  const expected = img.width * img.height * channels;
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width <= 0 || img.height <= 0) {
    throw new RangeError(`${what}: invalid size ${img.width}x${img.height}`);
  }
  if (img.data.length !== expected) {
    throw new RangeError(
      `${what}: buffer has ${img.data.length} values, expected ${expected} for ${img.width}x${img.height}x${channels}`,
    );
  }
}
