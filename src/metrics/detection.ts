// Object detection counts at IoU > 0.5 (the matching of Kirillov et al. 2019's panoptic quality).
import type { Pairing } from './pairing.ts';

export interface DetectionResult {
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /** Sum of the IoUs of the matched pairs (for SQ). */
  readonly iouSum: number;
}

/**
 * A GT object and a prediction match when IoU > 0.5 (strict; tested exactly as 2 * inter > union).
 * Such a match is necessarily unique on both sides, so no assignment step is needed.
 * precision = tp / nPred, recall = tp / nGt, F1 = 2tp / (2tp + fp + fn).
 * Empty maps: when GT and prediction are both empty every ratio is 1; otherwise a 0/0 ratio is 0
 * (e.g. precision of an empty prediction against a non-empty GT).
 */
export function detection(t: Pairing): DetectionResult {
  let tp = 0;
  let iouSum = 0;
  for (let g = 1; g <= t.nGt; g++) {
    for (let k = t.gtStart[g]!; k < t.gtStart[g + 1]!; k++) {
      const i = t.pairInter[k]!;
      const u = t.gtArea[g]! + t.predArea[t.pairPred[k]!]! - i;
      if (2 * i > u) {
        tp++;
        iouSum += i / u;
      }
    }
  }
  const fp = t.nPred - tp;
  const fn = t.nGt - tp;
  const bothEmpty = t.nGt === 0 && t.nPred === 0;
  const ratio = (a: number, b: number) => (b === 0 ? (bothEmpty ? 1 : 0) : a / b);
  return {
    tp,
    fp,
    fn,
    precision: ratio(tp, tp + fp),
    recall: ratio(tp, tp + fn),
    f1: ratio(2 * tp, 2 * tp + fp + fn),
    iouSum,
  };
}
