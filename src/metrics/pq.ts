// Panoptic quality, Kirillov et al. 2019 (CVPR), restricted to the one "nucleus" class.
import type { DetectionResult } from './detection.ts';

export interface PqResult {
  readonly pq: number;
  readonly dq: number;
  readonly sq: number;
}

/**
 * DQ = tp / (tp + fp/2 + fn/2) (= F1), SQ = mean IoU of the matched pairs, PQ = DQ x SQ, on the
 * IoU > 0.5 matching of detection(). No match: SQ = 0, except both maps empty: PQ = DQ = SQ = 1.
 */
export function panopticQuality(d: DetectionResult): PqResult {
  const bothEmpty = d.tp + d.fp + d.fn === 0;
  if (bothEmpty) return { pq: 1, dq: 1, sq: 1 };
  const dq = d.tp / (d.tp + 0.5 * d.fp + 0.5 * d.fn);
  const sq = d.tp === 0 ? 0 : d.iouSum / d.tp;
  return { pq: dq * sq, dq, sq };
}
