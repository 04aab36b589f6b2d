// Per-nucleus shape and stain measurements from one instance's cropped mask (definitions of scikit-image regionprops where named).
//
// Conventions: the mask is row-major, box.width x box.height, 1 = the nucleus; pixel (x, y) of the mask is level-0
// pixel (box.x + x, box.y + y) and covers [x, x+1) x [y, y+1), its centre at (x + 0.5, y + 0.5) as in contours.ts.
// - area: pixel count (µm²: times mpp²).
// - centroid: mean of the pixel centres, level-0 (µm: times mpp).
// - perimeter: length of the closed contour polygon through boundary pixel centres that traceContours gives
//   (8-connected Moore tracing; straight steps 1, diagonal steps √2). A filled n x n square gives 4 (n - 1); a digital
//   disk of radius r gives about 2π (r - 0.5) x 1.05 (the 8-chain bias); only the first 8-connected piece counts,
//   and a 1-2 px object gets the length of the rectangle around its pixels (traceContours' fallback ring).
// - eccentricity: sqrt(1 - l2 / l1) of the eigenvalues l1 >= l2 of the pixel centres' covariance (regionprops'
//   inertia tensor over mu00); 0 when l1 is 0. An ellipse of semi-axes a >= b gives sqrt(1 - b² / a²).
// - solidity: area / area of the convex hull of the pixel squares' corners (not regionprops' rasterised hull), so a
//   filled rectangle gives exactly 1 and every shape at most 1.
// - hematoxylin OD: per channel OD = -log10((I + 1) / 256), projected on the haematoxylin component of the
//   Ruifrok-Johnston deconvolution (column 0 of HED_FROM_RGB, as rgbToHed uses it), mean over the nucleus' pixels,
//   not clamped at 0.
import { HED_FROM_RGB } from '../augment/hed.ts';
import { traceContours } from './contours.ts';

export interface MeasureBox {
  /** Level-0 offset of the mask's top-left pixel. */
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface NucleusMeasures {
  readonly areaPx: number;
  readonly areaUm2: number | null;
  /** Level-0 pixel-centre coordinates. */
  readonly centroidXPx: number;
  readonly centroidYPx: number;
  readonly centroidXUm: number | null;
  readonly centroidYUm: number | null;
  readonly perimeterPx: number;
  readonly perimeterUm: number | null;
  readonly eccentricity: number;
  readonly solidity: number;
  /** Null when no RGB was given. */
  readonly hematoxylinOd: number | null;
}

export interface MeasureOptions {
  /** The box's RGB pixels, 3 bytes per pixel, same order as the mask. */
  readonly rgb?: Uint8Array;
  /** Level-0 pixel size in µm. */
  readonly mpp?: number;
}

/** Haematoxylin OD per byte triple, split per channel: H = T_R[r] + T_G[g] + T_B[b]. */
const OD_H = (() => {
  const t = new Float64Array(3 * 256);
  for (let v = 0; v < 256; v++) {
    const od = -Math.log10((v + 1) / 256);
    for (let c = 0; c < 3; c++) t[c * 256 + v] = od * HED_FROM_RGB[3 * c]!;
  }
  return t;
})();

/** Measures of the nucleus in `mask` (definitions in this file's header). O(box pixels). */
export function nucleusMeasures(
  mask: Uint8Array,
  box: MeasureBox,
  opts: MeasureOptions = {},
): NucleusMeasures {
  const { width: w, height: h } = box;
  if (!Number.isInteger(w) || !Number.isInteger(h) || w <= 0 || h <= 0 || mask.length !== w * h) {
    throw new RangeError(`nucleusMeasures: mask has ${mask.length} values for a ${w}x${h} box`);
  }
  const { rgb, mpp } = opts;
  if (rgb && rgb.length !== 3 * w * h) {
    throw new RangeError(`nucleusMeasures: rgb has ${rgb.length} values, expected ${3 * w * h}`);
  }
  if (mpp !== undefined && !(mpp > 0 && Number.isFinite(mpp))) {
    throw new RangeError(`nucleusMeasures: pixel size must be a positive number of µm, got ${mpp}`);
  }
  // Row extremes for the hull: leftmost and rightmost+1 pixel per row (-1 when the row is empty).
  const left = new Int32Array(h).fill(-1);
  const right = new Int32Array(h);
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  let sh = 0;
  for (let y = 0, i = 0; y < h; y++) {
    const cy = y + 0.5;
    for (let x = 0; x < w; x++, i++) {
      if (mask[i] === 0) continue;
      const cx = x + 0.5;
      n++;
      sx += cx;
      sy += cy;
      sxx += cx * cx;
      syy += cy * cy;
      sxy += cx * cy;
      if (left[y] === -1) left[y] = x;
      right[y] = x + 1;
      if (rgb) sh += OD_H[rgb[3 * i]!]! + OD_H[256 + rgb[3 * i + 1]!]! + OD_H[512 + rgb[3 * i + 2]!]!;
    }
  }
  if (n === 0) throw new RangeError('nucleusMeasures: the mask is empty');
  const mx = sx / n;
  const my = sy / n;
  const cxx = Math.max(sxx / n - mx * mx, 0);
  const cyy = Math.max(syy / n - my * my, 0);
  const cxy = sxy / n - mx * my;
  const half = (cxx + cyy) / 2;
  const root = Math.sqrt(((cxx - cyy) / 2) ** 2 + cxy * cxy);
  const l1 = half + root;
  const l2 = Math.max(half - root, 0);
  const eccentricity = l1 > 0 ? Math.sqrt(Math.max(1 - l2 / l1, 0)) : 0;
  const solidity = n / hullArea(left, right);
  const ring = traceContours({ width: w, height: h, data: mask })[0]!.ring;
  const perimeterPx = ringLength(ring);
  const cx = box.x + mx;
  const cy = box.y + my;
  return {
    areaPx: n,
    areaUm2: mpp === undefined ? null : n * mpp * mpp,
    centroidXPx: cx,
    centroidYPx: cy,
    centroidXUm: mpp === undefined ? null : cx * mpp,
    centroidYUm: mpp === undefined ? null : cy * mpp,
    perimeterPx,
    perimeterUm: mpp === undefined ? null : perimeterPx * mpp,
    eccentricity,
    solidity,
    hematoxylinOd: rgb ? sh / n : null,
  };
}

function ringLength(ring: readonly (readonly [number, number])[]): number {
  let s = 0;
  for (let k = 1; k < ring.length; k++) {
    s += Math.hypot(ring[k]![0] - ring[k - 1]![0], ring[k]![1] - ring[k - 1]![1]);
  }
  return s;
}

/**
 * Area of the convex hull of the pixel squares' corners. Per horizontal grid line Y, only the leftmost and rightmost
 * corners on it can be hull vertices; listed by Y then x they are already in the order Andrew's monotone chain needs,
 * so no sort: O(rows).
 */
function hullArea(left: Int32Array, right: Int32Array): number {
  const h = left.length;
  // Candidate points: per grid line Y in 0..h, (min x, Y) and (max x, Y) over the rows Y - 1 and Y.
  const px = new Float64Array(2 * (h + 1));
  const py = new Float64Array(2 * (h + 1));
  let m = 0;
  for (let Y = 0; Y <= h; Y++) {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    if (Y > 0 && left[Y - 1] !== -1) {
      lo = left[Y - 1]!;
      hi = right[Y - 1]!;
    }
    if (Y < h && left[Y] !== -1) {
      lo = Math.min(lo, left[Y]!);
      hi = Math.max(hi, right[Y]!);
    }
    if (lo > hi) continue;
    px[m] = lo;
    py[m++] = Y;
    px[m] = hi;
    py[m++] = Y;
  }
  // Monotone chain over points sorted by (y, x): lower and upper hulls into one index stack.
  const hull = new Int32Array(2 * m + 1);
  const cross = (o: number, a: number, b: number): number =>
    (px[a]! - px[o]!) * (py[b]! - py[o]!) - (py[a]! - py[o]!) * (px[b]! - px[o]!);
  let k = 0;
  for (let i = 0; i < m; i++) {
    while (k >= 2 && cross(hull[k - 2]!, hull[k - 1]!, i) <= 0) k--;
    hull[k++] = i;
  }
  for (let i = m - 2, t = k + 1; i >= 0; i--) {
    while (k >= t && cross(hull[k - 2]!, hull[k - 1]!, i) <= 0) k--;
    hull[k++] = i;
  }
  let a = 0;
  for (let i = 0; i + 1 < k; i++) {
    const p = hull[i]!;
    const q = hull[i + 1]!;
    a += px[p]! * py[q]! - px[q]! * py[p]!;
  }
  return Math.abs(a) / 2;
}
