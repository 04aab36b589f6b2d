// Cyclic Jacobi eigenvalue method for a symmetric 3x3 matrix (Golub & Van Loan, Matrix Computations, 8.5).

/** Eigen-decomposition of a symmetric 3x3 matrix. */
export interface SymEigen3 {
  /** Ascending eigenvalues. */
  readonly values: [number, number, number];
  /** Unit eigenvectors, vectors[i] belongs to values[i]; each is signed so its component sum is >= 0. */
  readonly vectors: [Float64Array, Float64Array, Float64Array];
}

/**
 * `m` is row-major 3x3 and must be symmetric. Deterministic: fixed sweep order (0,1), (0,2), (1,2),
 * at most 50 sweeps, stops once the off-diagonal mass is below 1e-30 of the total. The sign of an
 * eigenvector is arbitrary in theory; fixing it (non-negative component sum, ties: first non-zero
 * component positive) makes the result reproducible.
 */
export function symmetricEigen3(m: ArrayLike<number>): SymEigen3 {
  if (m.length !== 9) throw new RangeError(`symmetricEigen3: expected 9 values, got ${m.length}`);
  const a = Float64Array.from(m);
  const v = new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  let total = 0;
  for (let i = 0; i < 9; i++) total += a[i] * a[i];
  for (let sweep = 0; sweep < 50; sweep++) {
    const off = a[1] * a[1] + a[2] * a[2] + a[5] * a[5];
    if (off <= 1e-30 * total || off === 0) break;
    for (const [p, q] of PAIRS) rotate(a, v, p, q);
  }
  const order = [0, 1, 2].sort((i, j) => a[i * 4] - a[j * 4] || i - j);
  const values = order.map((i) => a[i * 4]) as [number, number, number];
  const vectors = order.map((i) => {
    const e = new Float64Array([v[i], v[3 + i], v[6 + i]]);
    const sum = e[0] + e[1] + e[2];
    const firstNonZero = e.find((x) => x !== 0) ?? 0;
    if (sum < 0 || (sum === 0 && firstNonZero < 0)) for (let k = 0; k < 3; k++) e[k] = -e[k];
    return e;
  }) as [Float64Array, Float64Array, Float64Array];
  return { values, vectors };
}

const PAIRS: ReadonlyArray<readonly [number, number]> = [
  [0, 1],
  [0, 2],
  [1, 2],
];

/** One Jacobi rotation zeroing a[p][q]; v accumulates the rotations (columns are eigenvectors). */
function rotate(a: Float64Array, v: Float64Array, p: number, q: number): void {
  const apq = a[p * 3 + q];
  if (apq === 0) return;
  const app = a[p * 3 + p];
  const aqq = a[q * 3 + q];
  const theta = (aqq - app) / (2 * apq);
  const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
  const c = 1 / Math.sqrt(t * t + 1);
  const s = t * c;
  for (let k = 0; k < 3; k++) {
    const akp = a[k * 3 + p];
    const akq = a[k * 3 + q];
    a[k * 3 + p] = c * akp - s * akq;
    a[k * 3 + q] = s * akp + c * akq;
  }
  for (let k = 0; k < 3; k++) {
    const apk = a[p * 3 + k];
    const aqk = a[q * 3 + k];
    a[p * 3 + k] = c * apk - s * aqk;
    a[q * 3 + k] = s * apk + c * aqk;
  }
  for (let k = 0; k < 3; k++) {
    const vkp = v[k * 3 + p];
    const vkq = v[k * 3 + q];
    v[k * 3 + p] = c * vkp - s * vkq;
    v[k * 3 + q] = s * vkp + c * vkq;
  }
}
