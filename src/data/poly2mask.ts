/**
 * MATLAB poly2mask, re-implemented exactly (Image Processing Toolbox, "poly2mask: Algorithms"),
 * as used by the MoNuSeg organisers (Kumar et al., IEEE TMI 2017) to turn XML polygons into masks.
 *
 * Conventions (MATLAB's, kept on purpose):
 * - Vertex coordinates are 1-based: pixel (col c, row r), 1-based, has its centre at x = c, y = r.
 *   Our 0-based pixel (i, j) is MATLAB's (i + 1, j + 1).
 * - Each pixel is split into a 5x5 sub-pixel grid; vertices are rounded to the grid,
 *   X = round(5 (x - 0.5) + 1), with MATLAB's round (halves away from zero).
 * - Each polygon edge is traced on that grid with an integer line (stepping along the longer axis,
 *   rounding the other). Every change of the sub-pixel column is a horizontal edge; it counts only
 *   where it crosses the vertical line through a pixel centre, and it toggles the first pixel in
 *   that column whose centre lies below it. A pixel is inside when the number of toggles at or
 *   above it in its column is odd (even-odd rule). Diagonal steps take the smaller y, so the
 *   result does not depend on the direction of traversal.
 * - Edges left/right of or below the image are dropped; edges above it toggle the top row.
 *   Vertices outside the image therefore need no clipping beforehand: the result is the polygon
 *   clipped to the image, exactly as MATLAB gives it.
 * Complexity: O(perimeter in sub-pixels + bounding box area) per polygon.
 */
import type { MaskImage } from '../imaging/types.ts';

/** MATLAB round: halves away from zero (Math.round rounds -2.5 to -2). */
function mround(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

/** Reusable buffers, so rasterising thousands of polygons allocates only when a bigger one comes. */
export class Poly2MaskScratch {
  edgeRows = new Int32Array(1024);
  edgeCols = new Int32Array(1024);
  nEdges = 0;
  toggles = new Uint8Array(4096);
  parity = new Uint8Array(256);

  push(row: number, col: number): void {
    if (this.nEdges === this.edgeRows.length) {
      const rows = new Int32Array(this.nEdges * 2);
      const cols = new Int32Array(this.nEdges * 2);
      rows.set(this.edgeRows);
      cols.set(this.edgeCols);
      this.edgeRows = rows;
      this.edgeCols = cols;
    }
    this.edgeRows[this.nEdges] = row;
    this.edgeCols[this.nEdges] = col;
    this.nEdges++;
  }
}

/**
 * Records the toggle of one sub-pixel horizontal edge (xe, ye) (1-based sub-pixel coordinates)
 * as a 0-based (row, col) pixel, or drops it per MATLAB's rules.
 */
function addEdge(s: Poly2MaskScratch, xe: number, ye: number, height: number, width: number): void {
  // Only edges in a pixel's centre sub-column count: xe = 5c - 2 for 1-based column c.
  if ((xe + 2) % 5 !== 0) return;
  const col = (xe + 2) / 5;
  if (col < 1 || col > width) return;
  let row = Math.ceil((ye + 2) / 5);
  if (row > height) return;
  if (row < 1) row = 1;
  s.push(row - 1, col - 1);
}

/** Traces one polygon side between sub-pixel vertices (x1, y1) and (x2, y2). */
function traceSegment(
  s: Poly2MaskScratch,
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  height: number,
  width: number,
): void {
  const dx = Math.abs(x2 - x1);
  const dy = Math.abs(y2 - y1);
  if (dx === 0 && dy === 0) return;
  if (dx >= dy) {
    if (x1 > x2) {
      let t = x1;
      x1 = x2;
      x2 = t;
      t = y1;
      y1 = y2;
      y2 = t;
    }
    // x steps by exactly 1, so every step is an edge at xe = x; only xe = 3 (mod 5) can count.
    const m = (y2 - y1) / (x2 - x1);
    let x = x1 + ((((3 - x1) % 5) + 5) % 5);
    for (; x < x2; x += 5) {
      const ya = mround(y1 + m * (x - x1));
      const yb = mround(y1 + m * (x + 1 - x1));
      addEdge(s, x, Math.min(ya, yb), height, width);
    }
  } else {
    if (y1 > y2) {
      let t = x1;
      x1 = x2;
      x2 = t;
      t = y1;
      y1 = y2;
      y2 = t;
    }
    const m = (x2 - x1) / (y2 - y1);
    let xa = x1;
    for (let y = y1; y < y2; y++) {
      const xb = mround(x1 + m * (y + 1 - y1));
      if (xb !== xa) addEdge(s, Math.min(xa, xb), y, height, width);
      xa = xb;
    }
  }
}

/**
 * Rasterises one polygon (1-based vertex coordinates, not necessarily closed) into `out`
 * (row-major, width x height): every inside pixel whose value is still 0 gets `value`, so earlier
 * polygons win where they overlap. Returns the number of pixels written.
 */
export function fillPoly2Mask(
  out: Int32Array,
  width: number,
  height: number,
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  value: number,
  s: Poly2MaskScratch = new Poly2MaskScratch(),
): number {
  const n = xs.length;
  if (n === 0) return 0;
  s.nEdges = 0;
  const sx0 = mround(5 * (xs[0]! - 0.5) + 1);
  const sy0 = mround(5 * (ys[0]! - 0.5) + 1);
  let px = sx0;
  let py = sy0;
  for (let i = 1; i <= n; i++) {
    // i === n closes the polygon (MATLAB appends the first vertex when it is not repeated).
    const qx = i === n ? sx0 : mround(5 * (xs[i]! - 0.5) + 1);
    const qy = i === n ? sy0 : mround(5 * (ys[i]! - 0.5) + 1);
    traceSegment(s, px, py, qx, qy, height, width);
    px = qx;
    py = qy;
  }
  const ne = s.nEdges;
  if (ne === 0) return 0;
  let r0 = height;
  let r1 = -1;
  let c0 = width;
  let c1 = -1;
  for (let e = 0; e < ne; e++) {
    const r = s.edgeRows[e]!;
    const c = s.edgeCols[e]!;
    if (r < r0) r0 = r;
    if (r > r1) r1 = r;
    if (c < c0) c0 = c;
    if (c > c1) c1 = c;
  }
  const bw = c1 - c0 + 1;
  const bh = r1 - r0 + 1;
  if (s.toggles.length < bw * bh) s.toggles = new Uint8Array(Math.max(bw * bh, s.toggles.length * 2));
  if (s.parity.length < bw) s.parity = new Uint8Array(Math.max(bw, s.parity.length * 2));
  const toggles = s.toggles;
  const parity = s.parity;
  for (let e = 0; e < ne; e++) toggles[(s.edgeRows[e]! - r0) * bw + (s.edgeCols[e]! - c0)]! ^= 1;
  parity.fill(0, 0, bw);
  let written = 0;
  for (let r = r0; r <= r1; r++) {
    const trow = (r - r0) * bw;
    const orow = r * width + c0;
    for (let c = 0; c < bw; c++) {
      const p = parity[c]! ^ toggles[trow + c]!;
      parity[c] = p;
      if (p !== 0 && out[orow + c] === 0) {
        out[orow + c] = value;
        written++;
      }
    }
  }
  // A column still open below the last toggle lost its lower edge below the image: fill to the bottom.
  for (let c = 0; c < bw; c++) {
    if (parity[c] === 0) continue;
    for (let r = r1 + 1; r < height; r++) {
      const o = r * width + c0 + c;
      if (out[o] === 0) {
        out[o] = value;
        written++;
      }
    }
  }
  toggles.fill(0, 0, bw * bh);
  return written;
}

/**
 * MATLAB `poly2mask(x, y, height, width)`: the binary mask of one polygon given in 1-based pixel
 * coordinates (x = column, y = row).
 */
export function poly2mask(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  height: number,
  width: number,
): MaskImage {
  if (xs.length !== ys.length) {
    throw new RangeError(`poly2mask: ${xs.length} x coordinates but ${ys.length} y coordinates`);
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`poly2mask: invalid size ${width}x${height}`);
  }
  const lab = new Int32Array(width * height);
  fillPoly2Mask(lab, width, height, xs, ys, 1);
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = lab[i]!;
  return { width, height, data };
}
