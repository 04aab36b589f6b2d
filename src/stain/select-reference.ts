// Runs the reference-image selection of src/stain/reference.ts over image/label files, one slide in memory at a time.
import { InputError } from '../errors.ts';
import { readLabels, readRgb } from '../imaging/io.ts';
import {
  type HistogramDistance,
  type ReferenceRanking,
  type ReferenceScore,
  rankReferenceCandidates,
  scoreReferenceCandidate,
} from './reference.ts';

export interface ReferenceSlide {
  readonly id: string;
  readonly imagePath: string;
  /** Ground-truth instance labels of this TRAINING slide. */
  readonly labelPath: string | undefined;
}

/**
 * Scores every slide and ranks them (largest nuclei/background histogram distance first).
 * Throws an InputError naming the slide when it has no label file.
 */
export async function selectReferenceImage(
  slides: readonly ReferenceSlide[],
  opts: { metric?: HistogramDistance; onProgress?: (done: number, total: number, id: string) => void } = {},
): Promise<ReferenceRanking> {
  const metric = opts.metric ?? 'jensen-shannon';
  const scores: ReferenceScore[] = [];
  for (const s of slides) {
    if (!s.labelPath) throw new InputError(s.id, 'no ground-truth label file; reference selection needs one');
    const [image, labels] = await Promise.all([readRgb(s.imagePath), readLabels(s.labelPath)]);
    scores.push(scoreReferenceCandidate(s.id, image, labels, metric));
    opts.onProgress?.(scores.length, slides.length, s.id);
  }
  return rankReferenceCandidates(scores, metric);
}
