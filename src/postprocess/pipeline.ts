// Post-processing of Mahbod et al. 2019: stage-1 mask + stage-2 distance map -> instances (Gaussian, seeds, watershed, cleanup).

import { instanceBoxes } from '../imaging/instance-boxes.ts';
import type { FloatImage, LabelImage, MaskImage } from '../imaging/types.ts';
import { assertBuffer, assertSameShape } from '../imaging/types.ts';
import { connectedComponents } from './connected-components.ts';
import { expandLabels } from './expand-labels.ts';
import { fillHolesPerInstance } from './fill-holes.ts';
import { gaussianBlur } from './gaussian.ts';
import type { SeedRule } from './grid.ts';
import { peakLocalMax } from './peaks.ts';
import { relabelByFirstPixel } from './relabel.ts';
import { removeSmallInstances } from './remove-small.ts';
import {
  estimateNucleusSize,
  SIGMA_SCALE,
  type SigmaOptions,
  sigmaFromRadius,
  sizeFromAreas,
} from './sigma.ts';
import { watershed } from './watershed.ts';

export interface PostprocessOptions {
  /** Stage-1 probability threshold: foreground = prob > threshold (default 0.5). Ignored for a MaskImage. */
  threshold?: number;
  /** Fixed Gaussian sigma; default: from the mean radius of the stage-1 components (sigma.ts). */
  sigma?: number;
  sigmaOptions?: SigmaOptions;
  /** Seed spacing (peakLocalMax minDistance); default from the mean radius, see minDistanceFromRadius. */
  minDistance?: number;
  /** minDistance = max(1, round(scale * mean radius)) when minDistance is not given (default 0.25). */
  minDistanceScale?: number;
  /** Seeds must exceed this smoothed distance (default: any value above the image minimum). */
  peakThreshold?: number;
  /** Instances below this many pixels are removed (default 20). */
  minSize?: number;
  /**
   * Grow the instances by this many pixels into the background after small-object removal
   * (expand-labels.ts; default 0, the paper). Undoes the stage-1 target erosion; tuned per model.
   */
  expand?: number;
  /** Fill holes per instance (default true). */
  fillHoles?: boolean;
  /**
   * Watershed seeds: 'distance' (default, the paper: peaks of the smoothed distance map) or
   * 'interior': one seed per 8-connected component of `interior` > 0.5 inside the foreground (a
   * three-class net's interior probability); either way a foreground component left without a seed
   * gets one at its distance maximum.
   */
  markers?: SeedRule;
  /** Also return the intermediate maps (for inspection and the cross-check). */
  keepIntermediates?: boolean;
}

export interface PostprocessInput extends PostprocessOptions {
  /** Stage-1 output: a probability map (FloatImage) or a binary mask (MaskImage, non-zero = nucleus). */
  foreground: FloatImage | MaskImage;
  /** Stage-2 output: the predicted (per-nucleus) distance map. */
  distance: FloatImage;
  /** A three-class stage-1 net's interior probability; needed for `markers: 'interior'`. */
  interior?: FloatImage;
}

export interface PostprocessResult {
  /** Final instances, ids 1..N in raster order of first pixel. */
  labels: LabelImage;
  /** The binary foreground used as the watershed mask. */
  mask: MaskImage;
  sigma: number;
  minDistance: number;
  /** Mean equivalent radius (px) the sigma was derived from (0 when sigma was given). */
  meanRadius: number;
  /** One marker per seed, ids 1..M (before watershed). */
  markers: LabelImage;
  nMarkers: number;
  /** Stage-1 components that had no seed and got one at their maximum. */
  nAddedSeeds: number;
  /** With keepIntermediates: smoothed distance (inside the mask), stage-1 components, raw basins, after small-object removal. */
  intermediates?: {
    smoothed: FloatImage;
    components: LabelImage;
    basins: LabelImage;
    afterRemoveSmall: LabelImage;
  };
  timingsMs: Record<
    'threshold' | 'sigma' | 'gaussian' | 'peaks' | 'watershed' | 'removeSmall' | 'expand' | 'fillHoles',
    number
  >;
}

/** The defaults of the options a model may tune (scripts/tune-postprocess.ts starts from these). */
export const POSTPROCESS_DEFAULTS = {
  threshold: 0.5,
  sigmaScale: SIGMA_SCALE,
  minDistanceScale: 0.25,
  expand: 0,
} as const;

/** Seed spacing from the mean nucleus radius: max(1, round(scale * r)); two seeds closer than this merge. */
export function minDistanceFromRadius(
  r: number,
  scale: number = POSTPROCESS_DEFAULTS.minDistanceScale,
): number {
  return Math.max(1, Math.round(scale * r));
}

/** foreground > threshold for a probability map; non-zero for a mask. */
export function binarise(fg: FloatImage | MaskImage, threshold: number): MaskImage {
  const n = fg.width * fg.height;
  const m = new Uint8Array(n);
  const d = fg.data;
  if (d instanceof Float32Array) {
    for (let i = 0; i < n; i++) m[i] = d[i]! > threshold ? 1 : 0;
  } else {
    for (let i = 0; i < n; i++) m[i] = d[i] !== 0 ? 1 : 0;
  }
  return { width: fg.width, height: fg.height, data: m };
}

/**
 * Turns the two network outputs into nucleus instances:
 * 1. foreground = stage-1 prob > threshold (0.5);
 * 2. sigma from the mean equivalent radius of its 8-connected components (unless given);
 * 3. Gaussian blur of the distance map (scipy 'reflect' borders, 4-sigma kernel);
 * 4. seeds = peakLocalMax(smoothed, labels = the components, minDistance, no border exclusion,
 *    one seed per plateau); a component without a seed gets one at its first maximal pixel
 *    (skimage would leave it unlabelled, losing the nucleus);
 * 5. watershed of -smoothed from the seeds within the foreground (8-connectivity, FIFO ties);
 * 6. remove instances < minSize (20) px; optionally grow them by `expand` px into the background;
 * 7. fill holes per instance; ids renumbered 1..N.
 * Throws RangeError naming the shapes when the two inputs differ in size.
 */
export function postprocess(input: PostprocessInput): PostprocessResult {
  const { foreground, distance } = input;
  assertBuffer('postprocess foreground', foreground);
  assertBuffer('postprocess distance', distance);
  assertSameShape('postprocess foreground vs distance', foreground, distance);
  const { width: w, height: h } = distance;
  const n = w * h;
  const t: PostprocessResult['timingsMs'] = {
    threshold: 0,
    sigma: 0,
    gaussian: 0,
    peaks: 0,
    watershed: 0,
    removeSmall: 0,
    expand: 0,
    fillHoles: 0,
  };
  let t0 = performance.now();
  const lap = (k: keyof typeof t) => {
    const now = performance.now();
    t[k] = now - t0;
    t0 = now;
  };
  const minSize = input.minSize ?? 20;
  const mask = binarise(foreground, input.threshold ?? POSTPROCESS_DEFAULTS.threshold);
  const cc = connectedComponents(mask, 8);
  lap('threshold');

  let meanRadius = 0;
  let sigma = input.sigma;
  if (sigma === undefined || input.minDistance === undefined) {
    meanRadius = sizeFromAreas(cc.areas, minSize).meanRadius;
  }
  sigma ??= sigmaFromRadius(meanRadius, input.sigmaOptions);
  const minDistance = input.minDistance ?? minDistanceFromRadius(meanRadius, input.minDistanceScale);
  lap('sigma');

  const smoothed = gaussianBlur(distance, sigma, { within: mask });
  lap('gaussian');

  const markers = new Int32Array(n);
  const seeded = new Uint8Array(cc.count + 1);
  let nMarkers = 0;
  if (input.markers === 'interior') {
    const { interior } = input;
    if (!interior) throw new RangeError("postprocess: markers 'interior' needs the interior map");
    assertSameShape('postprocess interior vs distance', interior, distance);
    const core = new Uint8Array(n);
    for (let i = 0; i < n; i++) core[i] = mask.data[i]! && interior.data[i]! > 0.5 ? 1 : 0;
    const seeds = connectedComponents({ width: w, height: h, data: core }, 8);
    for (let i = 0; i < n; i++) {
      const k = seeds.labels.data[i]!;
      if (k === 0) continue;
      markers[i] = k;
      seeded[cc.labels.data[i]!] = 1;
    }
    nMarkers = seeds.count;
  } else {
    const peaks = peakLocalMax(smoothed, {
      minDistance,
      labels: cc.labels,
      excludeBorder: false,
      ...(input.peakThreshold === undefined ? {} : { thresholdAbs: input.peakThreshold }),
    });
    for (let k = 0; k < peaks.length; k++) {
      markers[peaks[k]!] = k + 1;
      seeded[cc.labels.data[peaks[k]!]!] = 1;
    }
    nMarkers = peaks.length;
  }
  let nAddedSeeds = 0;
  // Counting seeds is not enough: one component may hold several while another has none.
  let unseeded = 0;
  for (let l = 1; l <= cc.count; l++) if (seeded[l] === 0) unseeded++;
  if (unseeded > 0) {
    // First maximal pixel of each unseeded component, one raster pass.
    const best = new Int32Array(cc.count + 1).fill(-1);
    const s = smoothed.data;
    const c = cc.labels.data;
    for (let i = 0; i < n; i++) {
      const l = c[i]!;
      if (l === 0 || seeded[l] === 1) continue;
      if (best[l] === -1 || s[i]! > s[best[l]!]!) best[l] = i;
    }
    for (let l = 1; l <= cc.count; l++) {
      if (best[l] === -1) continue;
      markers[best[l]!] = ++nMarkers;
      nAddedSeeds++;
    }
  }
  const markerImg: LabelImage = { width: w, height: h, data: markers };
  lap('peaks');

  const basins = watershed(smoothed, markerImg, mask, { negate: true });
  lap('watershed');

  // The cleanup works in place on a map this function owns (copies only to keep intermediates),
  // from one statistics pass: small objects are cleared inside their boxes, holes are flooded
  // inside the same boxes, and ids are renumbered by first pixel without another scan.
  const keep = input.keepIntermediates ?? false;
  const labels: LabelImage = keep ? { width: w, height: h, data: basins.data.slice() } : basins;
  const stats = instanceBoxes(labels, 'postprocess');
  removeSmallInstances(labels, minSize, stats);
  const afterRemoveSmall = keep ? { width: w, height: h, data: labels.data.slice() } : labels;
  lap('removeSmall');
  // Before hole filling, so that a gap closed by the growth is filled too; keeps `stats` current.
  if (input.expand) expandLabels(labels, input.expand, { inPlace: true, stats });
  lap('expand');
  if (input.fillHoles ?? true) fillHolesPerInstance(labels, true, stats);
  relabelByFirstPixel(labels, stats);
  lap('fillHoles');

  return {
    labels,
    mask,
    sigma,
    minDistance,
    meanRadius,
    markers: markerImg,
    nMarkers,
    nAddedSeeds,
    ...(input.keepIntermediates
      ? { intermediates: { smoothed, components: cc.labels, basins, afterRemoveSmall } }
      : {}),
    timingsMs: t,
  };
}

export interface IterativeOptions {
  /** Maximum number of post-processing runs (default 5). */
  maxIterations?: number;
  /** Stop when sigma changes by less than this fraction (default 0.05). */
  tolerance?: number;
}

export interface IterationRecord {
  sigma: number;
  minDistance: number;
  /** Radius the parameters came from: stage-1 components first, then the previous instances. */
  meanRadius: number;
  nInstances: number;
}

/**
 * The paper's future work: estimate the nucleus size from the segmentation itself. Stage-1
 * components merge touching nuclei and overestimate the radius; after a first run the mean
 * equivalent radius of the final instances gives a better estimate, so sigma and minDistance are
 * re-derived from it and the post-processing repeated, until sigma moves by less than
 * `tolerance` (relative) or `maxIterations` runs were made. Options fixed by the caller (sigma,
 * minDistance) are kept fixed. Returns the last result and one record per run.
 */
export function iterativePostprocess(
  input: PostprocessInput,
  opts: IterativeOptions = {},
): PostprocessResult & { iterations: IterationRecord[]; converged: boolean } {
  const maxIt = opts.maxIterations ?? 5;
  const tol = opts.tolerance ?? 0.05;
  if (!Number.isInteger(maxIt) || maxIt < 1)
    throw new RangeError(`iterativePostprocess: maxIterations must be >= 1, got ${maxIt}`);
  const iterations: IterationRecord[] = [];
  let result = postprocess(input);
  iterations.push({
    sigma: result.sigma,
    minDistance: result.minDistance,
    meanRadius: result.meanRadius,
    nInstances: count(result.labels),
  });
  let converged = false;
  for (let it = 1; it < maxIt; it++) {
    const r = estimateNucleusSize(result.labels, input.minSize ?? 20).meanRadius;
    const sigma = input.sigma ?? sigmaFromRadius(r, input.sigmaOptions);
    const minDistance = input.minDistance ?? minDistanceFromRadius(r, input.minDistanceScale);
    if (Math.abs(sigma - result.sigma) <= tol * result.sigma && minDistance === result.minDistance) {
      converged = true;
      break;
    }
    result = { ...postprocess({ ...input, sigma, minDistance }), meanRadius: r };
    iterations.push({ sigma, minDistance, meanRadius: r, nInstances: count(result.labels) });
  }
  return { ...result, iterations, converged };
}

function count(labels: LabelImage): number {
  let max = 0;
  for (let i = 0; i < labels.data.length; i++) if (labels.data[i]! > max) max = labels.data[i]!;
  return max;
}
