// Aggregated Jaccard Index, Kumar et al. 2017 (IEEE TMI 36(7)), as in the MoNuSeg reference code.
import type { Pairing } from './pairing.ts';

export interface AjiResult {
  readonly aji: number;
  /** Sum of the paired intersections (C) and the union (U) including unpaired objects. */
  readonly inter: number;
  readonly union: number;
}

/**
 * AJI = C / U. Each GT object takes the prediction with the highest IoU among those that
 * overlap it (a prediction may be taken by several GT objects); C sums those intersections,
 * U sums those unions, plus the areas of GT objects with no overlapping prediction and of
 * predictions taken by no GT object.
 *
 * Ties: IoUs are compared exactly (inter1 * union2 vs inter2 * union1, integers), and among
 * equal IoUs the lowest prediction id wins (MATLAB's `max` on the sorted overlap list).
 * Empty maps: both empty -> 1 (nothing to segment, nothing segmented); otherwise U > 0 and the
 * formula applies (0 when either side is empty). O(pairs + objects).
 */
export function aggregatedJaccard(t: Pairing): AjiResult {
  const used = new Uint8Array(t.nPred + 1);
  let inter = 0;
  let union = 0;
  for (let g = 1; g <= t.nGt; g++) {
    const ga = t.gtArea[g]!;
    const lo = t.gtStart[g]!;
    const hi = t.gtStart[g + 1]!;
    if (lo === hi) {
      union += ga;
      continue;
    }
    let bestI = 0;
    let bestU = 1;
    let bestP = 0;
    for (let k = lo; k < hi; k++) {
      const p = t.pairPred[k]!;
      const i = t.pairInter[k]!;
      const u = ga + t.predArea[p]! - i;
      // Strictly greater keeps the first (lowest id) of equal IoUs; products stay below 2^53.
      if (bestP === 0 || i * bestU > bestI * u) {
        bestI = i;
        bestU = u;
        bestP = p;
      }
    }
    inter += bestI;
    union += bestU;
    used[bestP] = 1;
  }
  for (let p = 1; p <= t.nPred; p++) if (used[p] === 0) union += t.predArea[p]!;
  return { aji: union === 0 ? 1 : inter / union, inter, union };
}
