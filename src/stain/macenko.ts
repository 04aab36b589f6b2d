// Macenko et al. 2009, "A method for normalizing histology slides for quantitative analysis", ISBI.
//
// Conventions (those of the common staintools / torchstain NumPy implementation):
// - optical density OD = -ln((I + 1) / Io) per channel, I the 8-bit value;
// - tissue pixels: OD >= beta in all three channels (a pixel below beta in any channel is dropped);
// - plane: the two eigenvectors of the sample covariance (ddof 1) of tissue OD with the largest
//   eigenvalues, found by a fixed cyclic Jacobi solver (src/stain/eigen3.ts) with signs fixed;
// - extreme angles: alpha-th and (100 - alpha)-th percentile of atan2(t2, t1) of the tissue OD
//   projected onto the plane, NumPy 'linear' percentile interpolation;
// - ordering rule: of the two extreme vectors, the one with the larger RED optical density is
//   haematoxylin (H), the other eosin (E) (H absorbs more red light than E); on a tie the max-angle vector is H;
// - concentrations: least squares (S the 3x2 matrix with columns H, E) C = (S^T S)^-1 S^T OD for
//   every pixel, tissue or not;
//   maxConc: 99th percentile of each concentration over all pixels;
// - output: Io * exp(-S_target * C * maxConc_target / maxConc_source), clipped to [0, 255] and
//   rounded to the nearest integer.
// Low tissue: fitMacenko throws a UserError; normalizeMacenko returns an unchanged copy and warns
// (a blank tile in a tiling pipeline is legitimate input, a blank reference is a user mistake).
import { UserError } from '../errors.ts';
import type { RgbImage } from '../imaging/types.ts';
import { assertBuffer } from '../imaging/types.ts';
import { percentileInPlace } from '../util/percentile.ts';
import { symmetricEigen3 } from './eigen3.ts';
import { renderOpticalDensityMap } from './macenko-render.ts';

export interface MacenkoOptions {
  /** Transmitted light intensity (the white level). Default 240. */
  io?: number;
  /** Percentile (in %) for the extreme angles. Default 1. */
  alpha?: number;
  /** OD threshold for tissue pixels. Default 0.15. */
  beta?: number;
  /** Minimum fraction of tissue pixels to fit a stain model. Default 0.01. */
  minTissueFraction?: number;
  /** Absolute minimum number of tissue pixels. Default 100. */
  minTissuePixels?: number;
}

/** A fitted stain model. */
export interface StainModel {
  /** Row-major 2x3: row 0 is the H unit OD vector (R, G, B), row 1 the E unit OD vector. */
  readonly stainMatrix: Float64Array;
  /** 99th percentile of the H and E concentrations. */
  readonly maxConc: Float64Array;
  /** Tissue pixels the model was fitted on. */
  readonly tissuePixels: number;
}

/** A StainModel as plain, JSON-safe data (files, workflow payloads). */
export interface StainModelJson {
  readonly stainMatrix: number[];
  readonly maxConc: number[];
  readonly tissuePixels: number;
}

export function stainModelToJson(m: StainModel): StainModelJson {
  return {
    stainMatrix: Array.from(m.stainMatrix),
    maxConc: Array.from(m.maxConc),
    tissuePixels: m.tissuePixels,
  };
}

export function stainModelFromJson(j: StainModelJson): StainModel {
  return {
    stainMatrix: Float64Array.from(j.stainMatrix),
    maxConc: Float64Array.from(j.maxConc),
    tissuePixels: j.tissuePixels,
  };
}

export interface NormalizeOptions extends MacenkoOptions {
  /** Called instead of process.emitWarning when the source cannot be fitted and is returned unchanged. */
  onWarning?: (message: string) => void;
}

/** Thrown when an image has too little stained tissue for a stain model. */
export class LowTissueError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'LowTissueError';
  }
}

interface Resolved {
  io: number;
  alpha: number;
  beta: number;
  minTissueFraction: number;
  minTissuePixels: number;
}

function resolve(opts: MacenkoOptions | undefined): Resolved {
  const r = {
    io: opts?.io ?? 240,
    alpha: opts?.alpha ?? 1,
    beta: opts?.beta ?? 0.15,
    minTissueFraction: opts?.minTissueFraction ?? 0.01,
    minTissuePixels: opts?.minTissuePixels ?? 100,
  };
  if (!(r.io > 0 && Number.isFinite(r.io))) throw new RangeError(`macenko: io must be > 0, got ${r.io}`);
  if (!(r.alpha >= 0 && r.alpha < 50))
    throw new RangeError(`macenko: alpha must be in [0, 50), got ${r.alpha}`);
  if (!(r.beta >= 0 && Number.isFinite(r.beta)))
    throw new RangeError(`macenko: beta must be >= 0, got ${r.beta}`);
  return r;
}

/** OD lookup for the 256 byte values. */
function odTable(io: number): Float64Array {
  const t = new Float64Array(256);
  for (let v = 0; v < 256; v++) t[v] = -Math.log((v + 1) / io);
  return t;
}

/**
 * Fits H and E stain vectors and their 99th-percentile concentrations. O(n) expected time
 * (quickselect percentiles); allocates one float64 per tissue pixel and two per pixel.
 * Throws LowTissueError when too few pixels have OD >= beta in every channel, or when the
 * stains cannot be separated (degenerate plane).
 */
export function fitMacenko(img: RgbImage, opts?: MacenkoOptions): StainModel {
  assertBuffer('fitMacenko', img, 3);
  const o = resolve(opts);
  const od = odTable(o.io);
  const src = img.data;
  const n = img.width * img.height;

  // Pass 1: count tissue pixels and accumulate first and second moments.
  let count = 0;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s00 = 0;
  let s01 = 0;
  let s02 = 0;
  let s11 = 0;
  let s12 = 0;
  let s22 = 0;
  for (let j = 0; j < 3 * n; j += 3) {
    const r = od[src[j]];
    const g = od[src[j + 1]];
    const b = od[src[j + 2]];
    if (r < o.beta || g < o.beta || b < o.beta) continue;
    count++;
    s0 += r;
    s1 += g;
    s2 += b;
    s00 += r * r;
    s01 += r * g;
    s02 += r * b;
    s11 += g * g;
    s12 += g * b;
    s22 += b * b;
  }
  const needed = Math.max(o.minTissuePixels, Math.ceil(o.minTissueFraction * n), 3);
  if (count < needed) {
    throw new LowTissueError(
      `too little stained tissue for Macenko: ${count} of ${n} pixels have optical density >= ${o.beta} in all channels, need at least ${needed}`,
    );
  }
  const m0 = s0 / count;
  const m1 = s1 / count;
  const m2 = s2 / count;
  const d = count - 1;
  const c00 = (s00 - count * m0 * m0) / d;
  const c01 = (s01 - count * m0 * m1) / d;
  const c02 = (s02 - count * m0 * m2) / d;
  const c11 = (s11 - count * m1 * m1) / d;
  const c12 = (s12 - count * m1 * m2) / d;
  const c22 = (s22 - count * m2 * m2) / d;
  const { vectors } = symmetricEigen3([c00, c01, c02, c01, c11, c12, c02, c12, c22]);
  const e1 = vectors[1];
  const e2 = vectors[2];

  // Pass 2: angle of every tissue pixel in the (e1, e2) plane.
  const phi = new Float64Array(count);
  let k = 0;
  for (let j = 0; j < 3 * n; j += 3) {
    const r = od[src[j]];
    const g = od[src[j + 1]];
    const b = od[src[j + 2]];
    if (r < o.beta || g < o.beta || b < o.beta) continue;
    phi[k++] = Math.atan2(r * e2[0] + g * e2[1] + b * e2[2], r * e1[0] + g * e1[1] + b * e1[2]);
  }
  const minPhi = percentileInPlace(phi, o.alpha);
  const maxPhi = percentileInPlace(phi, 100 - o.alpha);
  const vMin = planeVector(e1, e2, minPhi);
  const vMax = planeVector(e1, e2, maxPhi);
  const [h, e] = vMin[0] > vMax[0] ? [vMin, vMax] : [vMax, vMin];
  const stainMatrix = new Float64Array([h[0], h[1], h[2], e[0], e[1], e[2]]);
  const pinv = pseudoInverse(stainMatrix);
  if (!pinv) {
    throw new LowTissueError('Macenko: H and E stain vectors coincide; the image has a single stain colour');
  }

  // Pass 3: concentrations of all pixels, then their 99th percentiles.
  const ch = new Float64Array(n);
  const ce = new Float64Array(n);
  concentrations(src, od, pinv, ch, ce);
  const maxConc = new Float64Array([percentileInPlace(ch, 99), percentileInPlace(ce, 99)]);
  if (!(maxConc[0] > 0 && maxConc[1] > 0)) {
    throw new LowTissueError(
      `Macenko: 99th-percentile stain concentrations (${maxConc[0].toFixed(4)}, ${maxConc[1].toFixed(4)}) are not positive; the image has too little stain`,
    );
  }
  return { stainMatrix, maxConc, tissuePixels: count };
}

function planeVector(e1: Float64Array, e2: Float64Array, angle: number): Float64Array {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  return new Float64Array([e1[0] * c + e2[0] * s, e1[1] * c + e2[1] * s, e1[2] * c + e2[2] * s]);
}

/** (S S^T)^-1 S for the 2x3 stain matrix S (rows H, E): row-major 2x3, or null when singular. */
function pseudoInverse(s: Float64Array): Float64Array | null {
  const a = s[0] * s[0] + s[1] * s[1] + s[2] * s[2];
  const b = s[0] * s[3] + s[1] * s[4] + s[2] * s[5];
  const c = s[3] * s[3] + s[4] * s[4] + s[5] * s[5];
  const det = a * c - b * b;
  if (!(Math.abs(det) > 1e-12 * Math.max(a * c, 1e-300))) return null;
  const i00 = c / det;
  const i01 = -b / det;
  const i11 = a / det;
  const p = new Float64Array(6);
  for (let k = 0; k < 3; k++) {
    p[k] = i00 * s[k] + i01 * s[3 + k];
    p[3 + k] = i01 * s[k] + i11 * s[3 + k];
  }
  return p;
}

/** Least-squares H and E concentration of every pixel. O(n). */
function concentrations(
  src: Uint8Array,
  od: Float64Array,
  p: Float64Array,
  ch: Float64Array,
  ce: Float64Array,
): void {
  const n = ch.length;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const r = od[src[j]];
    const g = od[src[j + 1]];
    const b = od[src[j + 2]];
    ch[i] = p[0] * r + p[1] * g + p[2] * b;
    ce[i] = p[3] * r + p[4] * g + p[5] * b;
  }
}

/**
 * Re-renders `img` (whose stains are `source`) with the target's stain vectors and concentration
 * scale. O(n), one output allocation.
 */
export function applyStainModel(
  img: RgbImage,
  source: StainModel,
  target: StainModel,
  opts?: Pick<MacenkoOptions, 'io'>,
): RgbImage {
  assertBuffer('applyStainModel', img, 3);
  const io = resolve(opts).io;
  const od = odTable(io);
  const pinv = pseudoInverse(source.stainMatrix);
  if (!pinv) throw new RangeError('applyStainModel: the source stain matrix is singular');
  if (!(source.maxConc[0] > 0 && source.maxConc[1] > 0)) {
    throw new RangeError(`applyStainModel: source maxConc must be > 0, got ${Array.from(source.maxConc)}`);
  }
  const kh = target.maxConc[0] / source.maxConc[0];
  const ke = target.maxConc[1] / source.maxConc[1];
  const t = target.stainMatrix;
  // Fold the concentration scale and the target stains into one 3x3 map OD_src -> OD_out.
  const m = new Float64Array(9);
  for (let c = 0; c < 3; c++) {
    for (let k = 0; k < 3; k++) m[c * 3 + k] = t[c] * kh * pinv[k] + t[3 + c] * ke * pinv[3 + k];
  }
  return { width: img.width, height: img.height, data: renderOpticalDensityMap(img.data, m, od, io) };
}

/**
 * Macenko normalisation of `img` to the `target` stain model (fit it once with fitMacenko on the
 * reference image). When `img` has too little tissue to fit, returns an unchanged copy and warns.
 */
export function normalizeMacenko(img: RgbImage, target: StainModel, opts?: NormalizeOptions): RgbImage {
  let source: StainModel;
  try {
    source = fitMacenko(img, opts);
  } catch (err) {
    if (!(err instanceof LowTissueError)) throw err;
    const message = `normalizeMacenko: image left unchanged (${err.message})`;
    if (opts?.onWarning) opts.onWarning(message);
    else process.emitWarning(message, 'NucleiFlowWarning');
    return { width: img.width, height: img.height, data: Uint8Array.from(img.data) };
  }
  return applyStainModel(img, source, target, opts);
}
