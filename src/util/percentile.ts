// Percentiles by quickselect (Hoare 1961, "FIND"), interpolated like NumPy's default ('linear').

/**
 * Rearranges `a` in place so that a[k] holds the k-th smallest value, everything left of k is
 * <= a[k] and everything right is >= a[k]. Expected O(n); the input must not contain NaN.
 */
export function selectInPlace(a: Float64Array | Float32Array, k: number, lo = 0, hi = a.length - 1): void {
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // Median of three as pivot keeps sorted and constant runs from going quadratic.
    if (a[mid] < a[lo]) swap(a, mid, lo);
    if (a[hi] < a[lo]) swap(a, hi, lo);
    if (a[hi] < a[mid]) swap(a, hi, mid);
    const pivot = a[mid];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        swap(a, i, j);
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

function swap(a: Float64Array | Float32Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

/**
 * The p-th percentile (p in [0, 100]) with NumPy's default linear interpolation between the two
 * nearest ranks: position p/100 * (n - 1). Reorders `a` (pass a scratch copy). O(n) expected.
 */
export function percentileInPlace(a: Float64Array | Float32Array, p: number): number {
  const n = a.length;
  if (n === 0) throw new RangeError('percentile of an empty array');
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
  const pos = (p / 100) * (n - 1);
  const k = Math.floor(pos);
  const frac = pos - k;
  selectInPlace(a, k);
  const lower = a[k];
  if (frac === 0 || k + 1 >= n) return lower;
  // After selection every value right of k is >= a[k]; the next rank is their minimum.
  let upper = a[k + 1];
  for (let i = k + 2; i < n; i++) if (a[i] < upper) upper = a[i];
  return lower + frac * (upper - lower);
}
