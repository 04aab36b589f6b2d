// GT x prediction overlap table shared by every instance metric (AJI of Kumar et al. 2017, AJI+, F1, PQ).
import { relabelSequential } from '../imaging/relabel.ts';
import type { LabelImage } from '../imaging/types.ts';
import { assertBuffer, assertSameShape } from '../imaging/types.ts';

/**
 * Sparse intersection table between the objects of a ground-truth and a predicted label map.
 * Objects are the ids that occur; ids are arbitrary labels, so gaps are ordinary input. Each map
 * is renumbered once, keeping the order of its ids, so every index below is a compact id: GT
 * 1..nGt, pred 1..nPred (every one has area > 0), and `gtIds`/`predIds` give the original ids.
 * Ties that metrics break by the lower id therefore resolve as they would on the original ids.
 * Pairs are stored in CSR form grouped by GT, pred ascending within each GT: the pairs of GT `g`
 * are `pairPred/pairInter[gtStart[g] .. gtStart[g + 1])`.
 */
export interface Pairing {
  readonly width: number;
  readonly height: number;
  /** Number of objects (distinct ids > 0) in each map. */
  readonly nGt: number;
  readonly nPred: number;
  /** Original id of each compact id, ascending; index 0 is the background (0). Length n + 1. */
  readonly gtIds: Int32Array;
  readonly predIds: Int32Array;
  /** Pixel count per compact id, length n + 1 (index 0 is the background). */
  readonly gtArea: Int32Array;
  readonly predArea: Int32Array;
  /** CSR offsets by compact GT id, length nGt + 2. */
  readonly gtStart: Int32Array;
  readonly pairPred: Int32Array;
  readonly pairInter: Int32Array;
  /** Foreground pixel counts and their overlap (for pixel Dice). */
  readonly gtForeground: number;
  readonly predForeground: number;
  readonly foregroundInter: number;
}

function compact(what: string, l: LabelImage): { data: Int32Array; ids: Int32Array } {
  try {
    const r = relabelSequential(l);
    return { data: r.labels.data, ids: r.ids };
  } catch (err) {
    if (err instanceof RangeError)
      throw new RangeError(`${what}: ${err.message.replace(/^relabelSequential: /, '')}`);
    throw err;
  }
}

/**
 * Builds the table in one pass over the pixels plus a counting sort of the distinct pairs, after
 * renumbering each map once: O(pixels + pairs + N log N) time whatever the largest id. Runs of identical (gt, pred) pairs along a row share one
 * hash lookup, so the open-addressing table is touched once per run, not once per pixel.
 */
export function buildPairing(gt: LabelImage, pred: LabelImage): Pairing {
  assertBuffer('ground truth', gt);
  assertBuffer('prediction', pred);
  assertSameShape('ground truth vs prediction', gt, pred);
  const cg = compact('ground truth', gt);
  const cp = compact('prediction', pred);
  const g = cg.data;
  const p = cp.data;
  const n = g.length;
  const maxGt = cg.ids.length - 1;
  const maxPred = cp.ids.length - 1;
  const gtArea = new Int32Array(maxGt + 1);
  const predArea = new Int32Array(maxPred + 1);

  // Open addressing on key = gtId * (maxPred + 1) + predId (< 2^53: compact ids are below 2^31).
  let cap = 1024;
  let keys = new Float64Array(cap).fill(-1);
  let counts = new Int32Array(cap);
  let used = 0;
  const stride = maxPred + 1;
  const slotOf = (key: number): number => {
    // Multiplicative hash on the low and high parts; cap is a power of two.
    const lo = key % 4294967296;
    const hi = (key - lo) / 4294967296;
    let s = (Math.imul(lo | 0, 0x9e3779b1) ^ Math.imul(hi | 0, 0x85ebca6b)) & (cap - 1);
    while (keys[s] !== -1 && keys[s] !== key) s = (s + 1) & (cap - 1);
    return s;
  };
  const grow = () => {
    const oldKeys = keys;
    const oldCounts = counts;
    cap *= 2;
    keys = new Float64Array(cap).fill(-1);
    counts = new Int32Array(cap);
    for (let s = 0; s < oldKeys.length; s++) {
      if (oldKeys[s] === -1) continue;
      const t = slotOf(oldKeys[s]!);
      keys[t] = oldKeys[s]!;
      counts[t] = oldCounts[s]!;
    }
  };

  let gtFg = 0;
  let predFg = 0;
  let fgInter = 0;
  let runKey = -1;
  let runLen = 0;
  const flush = () => {
    if (runLen === 0) return;
    let s = slotOf(runKey);
    if (keys[s] === -1) {
      if ((used + 1) * 2 > cap) {
        grow();
        s = slotOf(runKey);
      }
      keys[s] = runKey;
      used++;
    }
    counts[s]! += runLen;
    runLen = 0;
  };
  for (let i = 0; i < n; i++) {
    const a = g[i]!;
    const b = p[i]!;
    gtArea[a]!++;
    predArea[b]!++;
    if (a !== 0 && b !== 0) {
      const key = a * stride + b;
      if (key !== runKey) {
        flush();
        runKey = key;
      }
      runLen++;
    }
  }
  flush();
  gtFg = n - gtArea[0]!;
  predFg = n - predArea[0]!;

  // Counting sort of the distinct pairs by GT id, then by pred id within each GT.
  const gtStart = new Int32Array(maxGt + 2);
  const pairG = new Int32Array(used);
  const pairP = new Int32Array(used);
  const pairC = new Int32Array(used);
  let k = 0;
  for (let s = 0; s < cap; s++) {
    const key = keys[s]!;
    if (key === -1) continue;
    const b = key % stride;
    pairG[k] = (key - b) / stride;
    pairP[k] = b;
    pairC[k] = counts[s]!;
    k++;
  }
  for (let j = 0; j < used; j++) gtStart[pairG[j]! + 1]!++;
  for (let a = 0; a <= maxGt; a++) gtStart[a + 1]! += gtStart[a]!;
  const fillPos = gtStart.slice(0, maxGt + 1);
  const pairPred = new Int32Array(used);
  const pairInter = new Int32Array(used);
  for (let j = 0; j < used; j++) {
    const pos = fillPos[pairG[j]!]!++;
    pairPred[pos] = pairP[j]!;
    pairInter[pos] = pairC[j]!;
  }
  // Insertion sort by pred id inside each GT row (rows hold a handful of pairs).
  for (let a = 1; a <= maxGt; a++) {
    const lo = gtStart[a]!;
    const hi = gtStart[a + 1]!;
    for (let x = lo + 1; x < hi; x++) {
      const pp = pairPred[x]!;
      const pc = pairInter[x]!;
      let y = x - 1;
      while (y >= lo && pairPred[y]! > pp) {
        pairPred[y + 1] = pairPred[y]!;
        pairInter[y + 1] = pairInter[y]!;
        y--;
      }
      pairPred[y + 1] = pp;
      pairInter[y + 1] = pc;
    }
  }
  for (let j = 0; j < used; j++) fgInter += pairInter[j]!;

  return {
    width: gt.width,
    height: gt.height,
    nGt: maxGt,
    nPred: maxPred,
    gtIds: cg.ids,
    predIds: cp.ids,
    gtArea,
    predArea,
    gtStart,
    pairPred,
    pairInter,
    gtForeground: gtFg,
    predForeground: predFg,
    foregroundInter: fgInter,
  };
}

/** Union of GT `g` and pred `p` given their intersection. */
export function pairUnion(t: Pairing, g: number, p: number, inter: number): number {
  return t.gtArea[g]! + t.predArea[p]! - inter;
}
