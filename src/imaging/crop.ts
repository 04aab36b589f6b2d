// Rectangular crop of any row-major image (RGB, labels, masks, floats); channels = data.length / (width * height).
import type { Planar } from '../augment/geometry.ts';

/** Copies the w x h window whose top-left pixel is (x, y); the window must lie inside the image. O(w * h). */
export function crop<I extends Planar>(img: I, x: number, y: number, w: number, h: number): I {
  const c = img.data.length / (img.width * img.height);
  if (!Number.isInteger(c) || c < 1) {
    throw new RangeError(`crop: buffer of ${img.data.length} values does not fit ${img.width}x${img.height}`);
  }
  for (const [name, v] of [
    ['x', x],
    ['y', y],
    ['w', w],
    ['h', h],
  ] as const) {
    if (!Number.isInteger(v)) throw new RangeError(`crop: ${name} must be an integer, got ${v}`);
  }
  if (x < 0 || y < 0 || w <= 0 || h <= 0 || x + w > img.width || y + h > img.height) {
    throw new RangeError(
      `crop: window ${w}x${h} at (${x}, ${y}) is outside the ${img.width}x${img.height} image`,
    );
  }
  const ctor = img.data.constructor as new (n: number) => I['data'];
  const out = new ctor(w * h * c);
  for (let r = 0; r < h; r++) {
    const start = ((y + r) * img.width + x) * c;
    out.set(img.data.subarray(start, start + w * c), r * w * c);
  }
  return { ...img, width: w, height: h, data: out };
}

/**
 * Reflects an index into [0, n) without repeating the edge (numpy's 'reflect' padding):
 * ... 2 1 0 1 2 ... n-2 n-1 n-2 ...; any integer i, including far outside; n = 1 gives 0.
 */
export function mirrorIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const p = 2 * (n - 1);
  const m = ((i % p) + p) % p;
  return m < n ? m : p - m;
}
