// Binary erosion with a flat, symmetric structuring element given as one horizontal half-width per row offset.
//
// Convention (skimage.morphology.binary_erosion, mode 'ignore'): pixels outside the image count as
// foreground, so the image border alone never erodes an object. A pixel survives when every
// footprint position inside the image is foreground. Each footprint row is checked with a per-row
// prefix count of background pixels, so one iteration costs O(n * rows of the footprint),
// independent of the footprint width.
import type { MaskImage } from '../imaging/types.ts';
import { assertBuffer } from '../imaging/types.ts';

export type FootprintShape = 'disk' | 'square';

/**
 * Half-widths of the footprint rows dy = -r..r. disk: x^2 + y^2 <= r^2 (skimage disk(r));
 * square: the full (2r+1) x (2r+1) square.
 */
export function footprintHalfWidths(shape: FootprintShape, radius: number): Int32Array {
  if (!Number.isInteger(radius) || radius < 0)
    throw new RangeError(`footprint radius must be an integer >= 0, got ${radius}`);
  const w = new Int32Array(2 * radius + 1);
  for (let dy = -radius; dy <= radius; dy++) {
    w[dy + radius] = shape === 'square' ? radius : Math.floor(Math.sqrt(radius * radius - dy * dy));
  }
  return w;
}

/** One erosion of a 0/1 mask by the footprint; returns a new mask. */
export function erodeOnce(mask: MaskImage, halfWidths: Int32Array): MaskImage {
  assertBuffer('erode', mask, 1);
  const { width, height, data } = mask;
  const r = (halfWidths.length - 1) >> 1;
  const stride = width + 1;
  // zeros[y * stride + x] = background pixels in row y at columns < x.
  const zeros = new Int32Array(height * stride);
  for (let y = 0; y < height; y++) {
    let acc = 0;
    const row = y * width;
    const z = y * stride;
    zeros[z] = 0;
    for (let x = 0; x < width; x++) {
      if (data[row + x] === 0) acc++;
      zeros[z + x + 1] = acc;
    }
  }
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[y * width + x] === 0) continue;
      let keep = 1;
      for (let dy = -r; dy <= r && keep; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        const hw = halfWidths[dy + r];
        const a = Math.max(x - hw, 0);
        const b = Math.min(x + hw + 1, width);
        const z = yy * stride;
        if (zeros[z + b] - zeros[z + a] !== 0) keep = 0;
      }
      out[y * width + x] = keep;
    }
  }
  return { width, height, data: out };
}

/** `iterations` erosions by the given footprint. */
export function erode(mask: MaskImage, shape: FootprintShape, radius: number, iterations = 1): MaskImage {
  if (!Number.isInteger(iterations) || iterations < 0)
    throw new RangeError(`erode: iterations must be an integer >= 0, got ${iterations}`);
  const hw = footprintHalfWidths(shape, radius);
  let m: MaskImage = {
    width: mask.width,
    height: mask.height,
    data: Uint8Array.from(mask.data, (v) => (v ? 1 : 0)),
  };
  for (let i = 0; i < iterations; i++) m = erodeOnce(m, hw);
  return m;
}
