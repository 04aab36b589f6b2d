// Reference-image selection for stain normalisation as in Mahbod et al. 2019 ("A Two-Stage U-Net Algorithm for Segmentation of Nuclei in H&E-Stained Tissues", ECDP).
//
// For each TRAINING image: the grayscale (BT.601, rounded, src/imaging/grayscale.ts) histogram of
// its nuclei pixels and of its background pixels, 256 bins, each normalised to sum 1. The nuclei
// mask is the ground truth of that training image (label > 0); test images and predictions are
// never used. The image whose two histograms differ most is the reference.
//
// Distance: Jensen-Shannon divergence, natural log, in [0, ln 2]. Why: it is symmetric (neither
// histogram is "the truth"), bounded, and defined when bins are empty, which they are (nuclei cover
// 10-30% of an image, so many of the 256 bins hold no nucleus pixel). KL and Pearson chi-square
// divide by empty bins, and the Bhattacharyya distance -ln(BC) becomes infinite for disjoint
// supports, turning the ranking into ties. Bhattacharyya and the symmetric chi-square
// 0.5 * sum (p - q)^2 / (p + q) are available for comparison. Ranking: descending distance, ties
// broken by id ascending.
import { InputError } from '../errors.ts';
import { toGrayscale8 } from '../imaging/grayscale.ts';
import type { LabelImage, RgbImage } from '../imaging/types.ts';
import { assertBuffer, assertSameShape } from '../imaging/types.ts';

export type HistogramDistance = 'jensen-shannon' | 'bhattacharyya' | 'chi-square';
export const HISTOGRAM_DISTANCES: readonly HistogramDistance[] = [
  'jensen-shannon',
  'bhattacharyya',
  'chi-square',
];

export interface NucleiBackgroundHistograms {
  /** 256 bins summing to 1. */
  readonly nuclei: Float64Array;
  readonly background: Float64Array;
  readonly nucleiPixels: number;
  readonly backgroundPixels: number;
}

/** Normalised grayscale histograms of ground-truth nuclei pixels and background pixels. O(n). */
export function nucleiBackgroundHistograms(image: RgbImage, labels: LabelImage): NucleiBackgroundHistograms {
  assertBuffer('reference image', image, 3);
  assertBuffer('reference labels', labels, 1);
  assertSameShape('reference image vs labels', image, labels);
  const gray = toGrayscale8(image).data;
  const nuclei = new Float64Array(256);
  const background = new Float64Array(256);
  const lab = labels.data;
  for (let i = 0; i < gray.length; i++) {
    if (lab[i] !== 0) nuclei[gray[i]]++;
    else background[gray[i]]++;
  }
  let nucleiPixels = 0;
  let backgroundPixels = 0;
  for (let b = 0; b < 256; b++) {
    nucleiPixels += nuclei[b];
    backgroundPixels += background[b];
  }
  for (let b = 0; b < 256; b++) {
    if (nucleiPixels > 0) nuclei[b] /= nucleiPixels;
    if (backgroundPixels > 0) background[b] /= backgroundPixels;
  }
  return { nuclei, background, nucleiPixels, backgroundPixels };
}

/** Distance between two normalised histograms of equal length. */
export function histogramDistance(p: Float64Array, q: Float64Array, metric: HistogramDistance): number {
  if (p.length !== q.length)
    throw new RangeError(`histogramDistance: lengths differ, ${p.length} vs ${q.length}`);
  let s = 0;
  if (metric === 'jensen-shannon') {
    for (let i = 0; i < p.length; i++) {
      const m = (p[i] + q[i]) / 2;
      if (p[i] > 0) s += 0.5 * p[i] * Math.log(p[i] / m);
      if (q[i] > 0) s += 0.5 * q[i] * Math.log(q[i] / m);
    }
    return s;
  }
  if (metric === 'bhattacharyya') {
    for (let i = 0; i < p.length; i++) s += Math.sqrt(p[i] * q[i]);
    return s > 0 ? -Math.log(s) : Number.POSITIVE_INFINITY;
  }
  if (metric === 'chi-square') {
    for (let i = 0; i < p.length; i++) {
      const t = p[i] + q[i];
      if (t > 0) s += ((p[i] - q[i]) * (p[i] - q[i])) / t;
    }
    return 0.5 * s;
  }
  throw new RangeError(`unknown histogram distance '${String(metric)}' (${HISTOGRAM_DISTANCES.join(', ')})`);
}

export interface ReferenceScore {
  readonly id: string;
  readonly distance: number;
  readonly nucleiPixels: number;
  readonly backgroundPixels: number;
}

/**
 * Scores one training image. Throws an InputError naming `id` when the ground truth has no nuclei
 * or no background (the histograms would be undefined).
 */
export function scoreReferenceCandidate(
  id: string,
  image: RgbImage,
  labels: LabelImage,
  metric: HistogramDistance = 'jensen-shannon',
): ReferenceScore {
  const h = nucleiBackgroundHistograms(image, labels);
  if (h.nucleiPixels === 0 || h.backgroundPixels === 0) {
    throw new InputError(
      id,
      `ground truth has ${h.nucleiPixels} nucleus and ${h.backgroundPixels} background pixels; both are needed for reference selection`,
    );
  }
  return {
    id,
    distance: histogramDistance(h.nuclei, h.background, metric),
    nucleiPixels: h.nucleiPixels,
    backgroundPixels: h.backgroundPixels,
  };
}

export interface ReferenceRanking {
  readonly metric: HistogramDistance;
  /** All candidates, largest distance first (ties: id ascending). */
  readonly ranking: readonly ReferenceScore[];
  /** ranking[0]. */
  readonly chosen: ReferenceScore;
}

/** Orders scored candidates; the first is the reference image. */
export function rankReferenceCandidates(
  scores: readonly ReferenceScore[],
  metric: HistogramDistance,
): ReferenceRanking {
  if (scores.length === 0) throw new RangeError('rankReferenceCandidates: no candidates');
  const ranking = [...scores].sort(
    (a, b) => b.distance - a.distance || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  return { metric, ranking, chosen: ranking[0] };
}
