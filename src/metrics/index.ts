// Instance-segmentation metrics of Mahbod et al. 2019 (AJI, Kumar et al. 2017) plus AJI+, Dice, F1 and PQ.
import type { LabelImage } from '../imaging/types.ts';
import { aggregatedJaccard } from './aji.ts';
import { ajiPlus } from './aji-plus.ts';
import { detection } from './detection.ts';
import { foregroundDice } from './dice.ts';
import { buildPairing, type Pairing } from './pairing.ts';
import { panopticQuality } from './pq.ts';

export { aggregatedJaccard } from './aji.ts';
export { ajiPlus } from './aji-plus.ts';
export { detection } from './detection.ts';
export { foregroundDice } from './dice.ts';
export { buildPairing, type Pairing } from './pairing.ts';
export { panopticQuality } from './pq.ts';

/** The scores of one (GT, prediction) pair; `nucleiflow evaluate --json` prints exactly these keys. */
export interface EvalResult {
  aji: number;
  ajiPlus: number;
  dice: number;
  f1: number;
  precision: number;
  recall: number;
  pq: number;
  dq: number;
  sq: number;
  tp: number;
  fp: number;
  fn: number;
  nGt: number;
  nPred: number;
}

/** The sums behind the ratios, so that several images can be pooled. */
export interface EvalTotals {
  ajiInter: number;
  ajiUnion: number;
  ajiPlusInter: number;
  ajiPlusUnion: number;
  fgInter: number;
  fgSum: number;
  iouSum: number;
}

export const EVAL_KEYS = [
  'aji',
  'ajiPlus',
  'dice',
  'f1',
  'precision',
  'recall',
  'pq',
  'dq',
  'sq',
  'tp',
  'fp',
  'fn',
  'nGt',
  'nPred',
] as const satisfies readonly (keyof EvalResult)[];

function scores(t: Pairing): { result: EvalResult; totals: EvalTotals } {
  const a = aggregatedJaccard(t);
  const ap = ajiPlus(t);
  const d = detection(t);
  const q = panopticQuality(d);
  return {
    result: {
      aji: a.aji,
      ajiPlus: ap.ajiPlus,
      dice: foregroundDice(t),
      f1: d.f1,
      precision: d.precision,
      recall: d.recall,
      pq: q.pq,
      dq: q.dq,
      sq: q.sq,
      tp: d.tp,
      fp: d.fp,
      fn: d.fn,
      nGt: t.nGt,
      nPred: t.nPred,
    },
    totals: {
      ajiInter: a.inter,
      ajiUnion: a.union,
      ajiPlusInter: ap.inter,
      ajiPlusUnion: ap.union,
      fgInter: t.foregroundInter,
      fgSum: t.gtForeground + t.predForeground,
      iouSum: d.iouSum,
    },
  };
}

/**
 * Scores a predicted instance map against the ground truth (same size; ids need not be
 * contiguous, objects are the ids present). One pass over the pixels builds the shared overlap
 * table; every metric reads it. Throws RangeError naming both shapes on a size mismatch.
 */
export function evaluate(gt: LabelImage, pred: LabelImage): EvalResult {
  return scores(buildPairing(gt, pred)).result;
}

/** evaluate() plus the sums needed by aggregate() to pool images. */
export function evaluateDetailed(gt: LabelImage, pred: LabelImage): EvalResult & { totals: EvalTotals } {
  const s = scores(buildPairing(gt, pred));
  return { ...s.result, totals: s.totals };
}

export interface Aggregate {
  /** Number of images. */
  n: number;
  /** Mean over images of each per-image score (counts are summed, not averaged). */
  mean: EvalResult;
  /**
   * Pooled over all images as if they were one: AJI/AJI+ = sum C / sum U, Dice from pooled pixel
   * counts, detection and PQ from summed tp/fp/fn and IoUs. AJI, AJI+ and Dice are null when a
   * row lacks `totals` (rows from evaluate() rather than evaluateDetailed()).
   */
  pooled: {
    aji: number | null;
    ajiPlus: number | null;
    dice: number | null;
    f1: number;
    precision: number;
    recall: number;
    pq: number;
    dq: number;
    sq: number;
  };
}

/** Mean over images and pooled scores; an empty list throws. */
export function aggregate(rows: ReadonlyArray<EvalResult & { totals?: EvalTotals }>): Aggregate {
  if (rows.length === 0) throw new RangeError('aggregate: no rows to aggregate');
  const mean = {} as EvalResult;
  for (const k of EVAL_KEYS) {
    let s = 0;
    for (const r of rows) s += r[k];
    const counted = k === 'tp' || k === 'fp' || k === 'fn' || k === 'nGt' || k === 'nPred';
    mean[k] = counted ? s : s / rows.length;
  }
  const withTotals = rows.every((r) => r.totals !== undefined);
  let ci = 0;
  let cu = 0;
  let pi = 0;
  let pu = 0;
  let fi = 0;
  let fs = 0;
  let iou = 0;
  if (withTotals) {
    for (const r of rows) {
      const t = r.totals!;
      ci += t.ajiInter;
      cu += t.ajiUnion;
      pi += t.ajiPlusInter;
      pu += t.ajiPlusUnion;
      fi += t.fgInter;
      fs += t.fgSum;
      iou += t.iouSum;
    }
  }
  const tp = mean.tp;
  const fp = mean.fp;
  const fn = mean.fn;
  const bothEmpty = tp + fp + fn === 0;
  const ratio = (a: number, b: number) => (b === 0 ? (bothEmpty ? 1 : 0) : a / b);
  const dq = ratio(tp, tp + 0.5 * fp + 0.5 * fn);
  // Without totals the pooled SQ is the tp-weighted mean of the per-image SQs.
  let sqNum = iou;
  if (!withTotals) for (const r of rows) sqNum += r.sq * r.tp;
  const sq = bothEmpty ? 1 : tp === 0 ? 0 : sqNum / tp;
  return {
    n: rows.length,
    mean,
    pooled: {
      aji: withTotals ? (cu === 0 ? 1 : ci / cu) : null,
      ajiPlus: withTotals ? (pu === 0 ? 1 : pi / pu) : null,
      dice: withTotals ? (fs === 0 ? 1 : (2 * fi) / fs) : null,
      f1: ratio(2 * tp, 2 * tp + fp + fn),
      precision: ratio(tp, tp + fp),
      recall: ratio(tp, tp + fn),
      pq: dq * sq,
      dq,
      sq,
    },
  };
}
