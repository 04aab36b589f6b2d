// AJI+ (Graham et al. 2019, HoVer-Net): AJI with a one-to-one GT-prediction matching.
import { linearSumAssignmentMax } from './lsap.ts';
import type { Pairing } from './pairing.ts';

export interface AjiPlusResult {
  readonly ajiPlus: number;
  readonly inter: number;
  readonly union: number;
}

/**
 * AJI+ = C / U where the pairs are a one-to-one matching that maximises the total IoU (as
 * HoVer-Net's get_fast_aji_plus with linear_sum_assignment); pairs with IoU 0 are not pairs.
 * Unmatched GT objects and predictions add their areas to U.
 *
 * The optimum decomposes over the connected components of the overlap graph (non-overlapping
 * pairs weigh 0), so each component is solved on its own dense IoU matrix (rows: GT ids
 * ascending, columns: pred ids ascending) with the same algorithm and tie-breaking as scipy.
 * Both maps empty -> 1.
 */
export function ajiPlus(t: Pairing): AjiPlusResult {
  const G = t.nGt;
  const P = t.nPred;
  // Union-find over nodes 1..G (GT) and G+1..G+P (pred).
  const parent = new Int32Array(G + P + 1);
  for (let k = 0; k < parent.length; k++) parent[k] = k;
  const find = (a: number): number => {
    while (parent[a] !== a) {
      parent[a] = parent[parent[a]!]!;
      a = parent[a]!;
    }
    return a;
  };
  for (let g = 1; g <= G; g++) {
    for (let k = t.gtStart[g]!; k < t.gtStart[g + 1]!; k++) {
      const a = find(g);
      const b = find(G + t.pairPred[k]!);
      if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
    }
  }
  // Group GT and pred ids by component root (bucket lists, ids ascending by construction).
  const gtNext = new Int32Array(G + 1).fill(-1);
  const predNext = new Int32Array(P + 1).fill(-1);
  const gtHead = new Int32Array(G + P + 1).fill(-1);
  const predHead = new Int32Array(G + P + 1).fill(-1);
  for (let g = G; g >= 1; g--) {
    if (t.gtStart[g] === t.gtStart[g + 1]) continue;
    const r = find(g);
    gtNext[g] = gtHead[r]!;
    gtHead[r] = g;
  }
  const predSeen = new Uint8Array(P + 1);
  for (let k = 0; k < t.pairPred.length; k++) predSeen[t.pairPred[k]!] = 1;
  for (let p = P; p >= 1; p--) {
    if (predSeen[p] === 0) continue;
    const r = find(G + p);
    predNext[p] = predHead[r]!;
    predHead[r] = p;
  }

  const predMatched = new Uint8Array(P + 1);
  const gtMatched = new Uint8Array(G + 1);
  const colOf = new Int32Array(P + 1);
  let inter = 0;
  let union = 0;
  const rows: number[] = [];
  const cols: number[] = [];
  for (let root = 1; root <= G; root++) {
    if (gtHead[root] === -1) continue;
    rows.length = 0;
    cols.length = 0;
    for (let g = gtHead[root]!; g !== -1; g = gtNext[g]!) rows.push(g);
    for (let p = predHead[root]!; p !== -1; p = predNext[p]!) cols.push(p);
    const nr = rows.length;
    const nc = cols.length;
    for (let c = 0; c < nc; c++) colOf[cols[c]!] = c;
    const w = new Float64Array(nr * nc);
    for (let r = 0; r < nr; r++) {
      const g = rows[r]!;
      for (let k = t.gtStart[g]!; k < t.gtStart[g + 1]!; k++) {
        const p = t.pairPred[k]!;
        const i = t.pairInter[k]!;
        w[r * nc + colOf[p]!] = i / (t.gtArea[g]! + t.predArea[p]! - i);
      }
    }
    const match = linearSumAssignmentMax(w, nr, nc);
    for (let r = 0; r < nr; r++) {
      const c = match[r]!;
      if (c < 0 || w[r * nc + c]! <= 0) continue;
      const g = rows[r]!;
      const p = cols[c]!;
      let i = 0;
      for (let k = t.gtStart[g]!; k < t.gtStart[g + 1]!; k++) if (t.pairPred[k] === p) i = t.pairInter[k]!;
      inter += i;
      union += t.gtArea[g]! + t.predArea[p]! - i;
      gtMatched[g] = 1;
      predMatched[p] = 1;
    }
  }
  for (let g = 1; g <= G; g++) if (gtMatched[g] === 0) union += t.gtArea[g]!;
  for (let p = 1; p <= P; p++) if (predMatched[p] === 0) union += t.predArea[p]!;
  return { ajiPlus: union === 0 ? 1 : inter / union, inter, union };
}
