// Linear sum assignment (shortest augmenting path, Crouse 2016) for the one-to-one matching of AJI+ (Graham et al. 2019).

/**
 * Maximum-weight assignment on a dense nr x nc row-major matrix. Returns, for each row, the
 * assigned column (or -1 when nr > nc leaves it out). The algorithm and its tie-breaking follow
 * scipy.optimize.linear_sum_assignment(maximize=True) step for step (columns scanned from the
 * last one, a free column preferred among equal reduced costs; tall matrices transposed), so
 * equal-weight alternatives resolve the same way. O(nr^2 * nc) for nr <= nc.
 */
export function linearSumAssignmentMax(weights: Float64Array, nr: number, nc: number): Int32Array {
  if (weights.length !== nr * nc) {
    throw new RangeError(`linearSumAssignmentMax: ${weights.length} weights for a ${nr}x${nc} matrix`);
  }
  const rowOut = new Int32Array(nr).fill(-1);
  if (nr === 0 || nc === 0) return rowOut;
  const transpose = nc < nr;
  let R = nr;
  let C = nc;
  const cost = new Float64Array(nr * nc);
  if (transpose) {
    for (let i = 0; i < nr; i++) for (let j = 0; j < nc; j++) cost[j * nr + i] = -weights[i * nc + j]!;
    R = nc;
    C = nr;
  } else {
    for (let k = 0; k < cost.length; k++) cost[k] = -weights[k]!;
  }
  const u = new Float64Array(R);
  const v = new Float64Array(C);
  const spc = new Float64Array(C);
  const path = new Int32Array(C).fill(-1);
  const col4row = new Int32Array(R).fill(-1);
  const row4col = new Int32Array(C).fill(-1);
  const SR = new Uint8Array(R);
  const SC = new Uint8Array(C);
  const remaining = new Int32Array(C);

  for (let curRow = 0; curRow < R; curRow++) {
    let minVal = 0;
    let numRemaining = C;
    for (let it = 0; it < C; it++) remaining[it] = C - it - 1;
    SR.fill(0);
    SC.fill(0);
    spc.fill(Number.POSITIVE_INFINITY);
    let sink = -1;
    let i = curRow;
    while (sink === -1) {
      let index = -1;
      let lowest = Number.POSITIVE_INFINITY;
      SR[i] = 1;
      for (let it = 0; it < numRemaining; it++) {
        const j = remaining[it]!;
        const r = minVal + cost[i * C + j]! - u[i]! - v[j]!;
        if (r < spc[j]!) {
          path[j] = i;
          spc[j] = r;
        }
        if (spc[j]! < lowest || (spc[j] === lowest && row4col[j] === -1)) {
          lowest = spc[j]!;
          index = it;
        }
      }
      minVal = lowest;
      if (minVal === Number.POSITIVE_INFINITY) throw new Error('linearSumAssignmentMax: infeasible matrix');
      const j = remaining[index]!;
      if (row4col[j] === -1) sink = j;
      else i = row4col[j]!;
      SC[j] = 1;
      remaining[index] = remaining[--numRemaining]!;
    }
    u[curRow]! += minVal;
    for (let r = 0; r < R; r++) if (SR[r] === 1 && r !== curRow) u[r]! += minVal - spc[col4row[r]!]!;
    for (let c = 0; c < C; c++) if (SC[c] === 1) v[c]! -= minVal - spc[c]!;
    let j = sink;
    for (;;) {
      const r = path[j]!;
      row4col[j] = r;
      const tmp = col4row[r]!;
      col4row[r] = j;
      j = tmp;
      if (r === curRow) break;
    }
  }
  if (transpose) {
    // Rows of the transposed problem are the original columns.
    for (let c = 0; c < R; c++) rowOut[col4row[c]!] = c;
  } else {
    rowOut.set(col4row);
  }
  return rowOut;
}
