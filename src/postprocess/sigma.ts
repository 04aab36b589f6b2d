// Smoothing scale from the nucleus size (Mahbod et al. 2019 tie the Gaussian to the nucleus size; future work: estimate it).
import type { LabelImage } from '../imaging/types.ts';
import { labelAreas } from './connected-components.ts';

export interface SizeEstimate {
  /** Objects counted (area >= minArea). */
  readonly count: number;
  readonly meanArea: number;
  /** Mean equivalent radius sqrt(area / pi) in pixels (0 when nothing is counted). */
  readonly meanRadius: number;
}

/**
 * Mean equivalent radius of the objects of a label map (stage-1 connected components, or final
 * instances), ignoring objects below `minArea` pixels (debris that would drag the mean down).
 * The mean of radii rather than the radius of the mean area, so a few large clumps of touching
 * nuclei weigh as objects, not as pixels. O(pixels).
 */
export function estimateNucleusSize(labels: LabelImage, minArea = 20): SizeEstimate {
  return sizeFromAreas(labelAreas(labels), minArea);
}

/** estimateNucleusSize from a table of pixel counts per id (index 0, the background, is ignored). */
export function sizeFromAreas(areas: ArrayLike<number>, minArea = 20): SizeEstimate {
  let count = 0;
  let sumA = 0;
  let sumR = 0;
  for (let l = 1; l < areas.length; l++) {
    const a = areas[l]!;
    if (a === 0 || a < minArea) continue;
    count++;
    sumA += a;
    sumR += Math.sqrt(a / Math.PI);
  }
  return { count, meanArea: count ? sumA / count : 0, meanRadius: count ? sumR / count : 0 };
}

export interface SigmaOptions {
  /** sigma = scale * mean radius. */
  scale?: number;
  /** Clamp of the result in pixels. */
  min?: number;
  max?: number;
  /** Used when no object is counted. */
  fallback?: number;
}

/** Default scale: see sigmaFromRadius. */
export const SIGMA_SCALE = 0.25;

/**
 * Gaussian sigma for the distance map from the mean nucleus radius r: sigma = scale * r,
 * clamped to [min, max] (defaults 0.25, 1, 8; 2 px when nothing is measured).
 *
 * Why proportional to r: the distance map of a nucleus of radius r is a cone of height ~r with
 * ridges from boundary irregularities a few pixels wide; smoothing must erase those (sigma of a
 * few pixels) while keeping the two peaks of touching nuclei, about 2r apart, separate (sigma well
 * below r). A quarter of the radius keeps both for the 5-15 px radii of 40x H&E nuclei; the scale
 * was picked on MoNuSeg training slides with the ideal inputs (GT mask and per-nucleus distance).
 */
export function sigmaFromRadius(r: number, opts: SigmaOptions = {}): number {
  const scale = opts.scale ?? SIGMA_SCALE;
  const lo = opts.min ?? 1;
  const hi = opts.max ?? 8;
  if (!(r > 0)) return opts.fallback ?? 2;
  return Math.min(hi, Math.max(lo, scale * r));
}
