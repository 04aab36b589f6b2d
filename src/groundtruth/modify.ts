// Ground-truth modification for the segmentation U-Net of Mahbod et al. 2019 ("A Two-Stage U-Net Algorithm for Segmentation of Nuclei in H&E-Stained Tissues", ECDP).
//
// Steps: (1) binarise the instance map (id > 0); (2) remove borders between DIFFERENT instances: a
// pixel of id a becomes background when its 8-neighbourhood (the 8 surrounding pixels, clipped at
// the image edge) holds an id b with b != 0 and b != a; the test reads the original labels, so both
// sides of a contact line go (a gap of about 2 px); (3) erode with a disk or square footprint
// (skimage binary_erosion semantics, see erode.ts). `enabled: false` returns the plain binary mask,
// for the ablation. Why: touching nuclei must be separable in the binary target.
import type { LabelImage, MaskImage } from '../imaging/types.ts';
import { assertBuffer } from '../imaging/types.ts';
import { erode, type FootprintShape } from './erode.ts';

export interface GroundTruthModification {
  /** false: only binarise (ablation baseline). Default true. */
  enabled?: boolean;
  /** Remove pixels that touch another instance. Default true. */
  removeTouchingBorders?: boolean;
  /** Erosion after the border removal; null or iterations 0 for none. Default disk of radius 1, once. */
  erosion?: { shape: FootprintShape; radius: number; iterations: number } | null;
}

export const DEFAULT_MODIFICATION: Required<GroundTruthModification> = {
  enabled: true,
  removeTouchingBorders: true,
  erosion: { shape: 'disk', radius: 1, iterations: 1 },
};

/** Binary target (0/1) for the segmentation network. O(n * footprint rows * iterations). */
export function modifyGroundTruth(labels: LabelImage, opts: GroundTruthModification = {}): MaskImage {
  assertBuffer('modifyGroundTruth', labels, 1);
  const o = { ...DEFAULT_MODIFICATION, ...opts };
  const { width, height, data } = labels;
  const n = width * height;
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = data[i] !== 0 ? 1 : 0;
  if (!o.enabled) return { width, height, data: mask };
  if (o.removeTouchingBorders) removeTouchingBorders(data, mask, width, height);
  let out: MaskImage = { width, height, data: mask };
  if (o.erosion && o.erosion.iterations > 0) {
    out = erode(out, o.erosion.shape, o.erosion.radius, o.erosion.iterations);
  }
  return out;
}

/** Clears mask pixels whose 8-neighbourhood in `labels` holds another non-zero id. O(n). */
function removeTouchingBorders(labels: Int32Array, mask: Uint8Array, width: number, height: number): void {
  for (let y = 0; y < height; y++) {
    const yLo = y > 0 ? -1 : 0;
    const yHi = y < height - 1 ? 1 : 0;
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const a = labels[i];
      if (a === 0) continue;
      const xLo = x > 0 ? -1 : 0;
      const xHi = x < width - 1 ? 1 : 0;
      let touches = false;
      for (let dy = yLo; dy <= yHi && !touches; dy++) {
        const row = i + dy * width;
        for (let dx = xLo; dx <= xHi; dx++) {
          const b = labels[row + dx];
          if (b !== 0 && b !== a) {
            touches = true;
            break;
          }
        }
      }
      if (touches) mask[i] = 0;
    }
  }
}
