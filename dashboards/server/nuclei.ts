/**
 * Per-nucleus facts for the viewer's hover panel: for each predicted instance its area, centroid
 * (mean pixel x, y, 0-based pixel centres) and the ground-truth instance it overlaps best, with
 * their IoU. Best = highest IoU; ties go to the lower GT id. Overlaps come from the metrics'
 * shared pairing table (src/metrics/pairing.ts), so the viewer and the scores agree on every pair.
 * Ids are reported as they are in the files (gaps included). O(W*H + pairs + N log N).
 */
import { relabelSequential } from '../../src/imaging/relabel.ts';
import type { LabelImage } from '../../src/imaging/types.ts';
import { buildPairing, pairUnion } from '../../src/metrics/pairing.ts';

export interface NucleusTable {
  /** Column arrays, one entry per predicted instance, ordered by id. */
  id: number[];
  area: number[];
  cx: number[];
  cy: number[];
  /** Best-matching GT id, 0 when the instance touches no GT nucleus. */
  gt: number[];
  iou: number[];
  /** Per GT instance: its area, for the hover panel on GT contours. */
  gtId: number[];
  gtArea: number[];
}

export function nucleusTable(pred: LabelImage, gt: LabelImage | null): NucleusTable {
  const truth = gt ?? { width: pred.width, height: pred.height, data: new Int32Array(pred.data.length) };
  // Centroids are summed by compact id, so the pairing gets the already compact map.
  const { labels: compactPred, ids: predIds } = relabelSequential(pred);
  const t = buildPairing(truth, compactPred);
  const bestGt = new Int32Array(t.nPred + 1);
  const bestIou = new Float64Array(t.nPred + 1);
  for (let g = 1; g <= t.nGt; g++) {
    for (let k = t.gtStart[g]!; k < t.gtStart[g + 1]!; k++) {
      const p = t.pairPred[k]!;
      const iou = t.pairInter[k]! / pairUnion(t, g, p, t.pairInter[k]!);
      // GT ids ascend, so a strict > keeps the lower id on a tie.
      if (iou > bestIou[p]!) {
        bestIou[p] = iou;
        bestGt[p] = g;
      }
    }
  }
  const sx = new Float64Array(t.nPred + 1);
  const sy = new Float64Array(t.nPred + 1);
  const { width, data } = compactPred;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v > 0) {
      sx[v] += i % width;
      sy[v] += (i / width) | 0;
    }
  }
  const out: NucleusTable = { id: [], area: [], cx: [], cy: [], gt: [], iou: [], gtId: [], gtArea: [] };
  for (let p = 1; p <= t.nPred; p++) {
    const a = t.predArea[p]!;
    out.id.push(predIds[p]!);
    out.area.push(a);
    out.cx.push(Math.round((sx[p]! / a) * 10) / 10);
    out.cy.push(Math.round((sy[p]! / a) * 10) / 10);
    out.gt.push(t.gtIds[bestGt[p]!]!);
    out.iou.push(Math.round(bestIou[p]! * 1000) / 1000);
  }
  for (let g = 1; g <= t.nGt; g++) {
    out.gtId.push(t.gtIds[g]!);
    out.gtArea.push(t.gtArea[g]!);
  }
  return out;
}
