// Contour overlay for visual checks: instance boundary pixels painted over the image.
import type { LabelImage, RgbImage } from './types.ts';
import { assertBuffer, assertSameShape } from './types.ts';

/**
 * Copy of `rgb` with every boundary pixel of an instance (a labelled pixel whose 4-neighbour has
 * a different label, or lies outside the image) painted `colour`. O(n).
 */
export function contourOverlay(
  rgb: RgbImage,
  labels: LabelImage,
  colour: readonly [number, number, number] = [0, 255, 0],
): RgbImage {
  assertBuffer('contourOverlay image', rgb, 3);
  assertBuffer('contourOverlay labels', labels, 1);
  assertSameShape('contourOverlay', rgb, labels);
  const { width: w, height: h } = labels;
  const d = labels.data;
  const out = Uint8Array.from(rgb.data);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const id = d[i]!;
      if (id === 0) continue;
      const edge =
        x === 0 ||
        y === 0 ||
        x === w - 1 ||
        y === h - 1 ||
        d[i - 1] !== id ||
        d[i + 1] !== id ||
        d[i - w] !== id ||
        d[i + w] !== id;
      if (!edge) continue;
      out[3 * i] = colour[0];
      out[3 * i + 1] = colour[1];
      out[3 * i + 2] = colour[2];
    }
  }
  return { width: w, height: h, data: out };
}
