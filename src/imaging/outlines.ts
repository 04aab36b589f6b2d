// Pixel-edge outlines of labelled objects: the polygons along pixel corners that enclose exactly an object's
// pixels (crack following, Rosenfeld & Kak, Digital Picture Processing, 2nd ed., 1982, 11.2), as QuPath's
// ContourTracing builds its objects from one-pixel edges.
//
// Conventions: pixel (x, y) covers [x, x+1) x [y, y+1), so vertices are integer pixel corners and a polygon's
// area is its pixel count (QuPath and OpenSlide use the same convention; a ring through pixel centres would lose
// about half a pixel along the whole boundary). Objects are 4-connected: pieces of one id that meet only at a
// corner are separate polygons of one MultiPolygon (OGC lets its parts touch at points); background is
// 8-connected, so a pocket that meets the outside at a corner is a hole touching the shell at that point. Holes
// are kept. Every ring is simple and closed (first position repeated last) with collinear vertices dropped;
// shells have positive signed area in (x, y) and holes negative, which is RFC 7946's counter-clockwise exterior
// read in the coordinates as written. Polygons of one id come largest shell first.
// Complexity: O(w h) for the bounding boxes, then O(box area) per object.
import { instanceBoxes } from './instance-boxes.ts';
import type { LabelImage, MaskImage } from './types.ts';
import { assertBuffer } from './types.ts';

/** A closed ring of [x, y] pixel-corner coordinates, first position repeated last. */
export type Ring = [number, number][];
/** A polygon: its shell, then its holes. */
export type PolygonRings = Ring[];

export interface Outline {
  readonly id: number;
  /** One entry per 4-connected piece; one entry is a GeoJSON Polygon, several a MultiPolygon. */
  readonly polygons: PolygonRings[];
}

/** Directions of unit edges: east, south, west, north (y down); (d + 1) % 4 is a right turn. */
const DX = [1, 0, -1, 0] as const;
const DY = [0, 1, 0, -1] as const;

/** Outlines of every id 1..max present in `labels` (a 0/1 mask gives id 1), in id order. */
export function traceOutlines(labels: LabelImage | MaskImage): Outline[] {
  assertBuffer('traceOutlines', labels, 1);
  const { width: w, data } = labels;
  const { maxId: max, x0, y0, x1, y1 } = instanceBoxes(labels, 'traceOutlines');
  const out: Outline[] = [];
  for (let id = 1; id <= max; id++) {
    if (x1[id]! < 0) continue;
    const bx = x0[id]!;
    const by = y0[id]!;
    const bw = x1[id]! - bx + 1;
    const bh = y1[id]! - by + 1;
    const mask = new Uint8Array(bw * bh);
    for (let y = 0; y < bh; y++) {
      const row = (y + by) * w + bx;
      for (let x = 0; x < bw; x++) if (data[row + x] === id) mask[y * bw + x] = 1;
    }
    out.push({ id, polygons: outlineOfMask(mask, bw, bh, bx, by) });
  }
  return out;
}

/**
 * The polygons of the set pixels of a `w` x `h` 0/1 mask, offset by (ox, oy). Each boundary edge is directed with
 * the object on its right (y down); at a corner where two object pixels meet diagonally the walk turns right, which
 * keeps them apart (4-connected object). A walk that passes a corner twice is split there into simple rings.
 */
export function outlineOfMask(mask: Uint8Array, w: number, h: number, ox = 0, oy = 0): PolygonRings[] {
  if (mask.length !== w * h) {
    throw new RangeError(`outlineOfMask: mask of ${mask.length} values for ${w}x${h}`);
  }
  const vw = w + 1;
  const nv = vw * (h + 1);
  // Up to two outgoing edges per vertex (two only at a diagonal meeting); -1 = none or used.
  const outA = new Int8Array(nv).fill(-1);
  const outB = new Int8Array(nv).fill(-1);
  const add = (v: number, d: number): void => {
    if (outA[v] === -1) outA[v] = d;
    else outB[v] = d;
  };
  const set = (x: number, y: number): boolean => x >= 0 && y >= 0 && x < w && y < h && mask[y * w + x] === 1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (mask[y * w + x] !== 1) continue;
      if (!set(x, y - 1)) add(y * vw + x, 0);
      if (!set(x + 1, y)) add(y * vw + x + 1, 1);
      if (!set(x, y + 1)) add((y + 1) * vw + x + 1, 2);
      if (!set(x - 1, y)) add((y + 1) * vw + x, 3);
    }
  }
  const take = (v: number, d: number): boolean => {
    if (outA[v] === d) {
      outA[v] = -1;
      return true;
    }
    if (outB[v] === d) {
      outB[v] = -1;
      return true;
    }
    return false;
  };

  const shells: { ring: Ring; area: number }[] = [];
  const holes: Ring[] = [];
  const walk: number[] = [];
  const pos = new Int32Array(nv).fill(-1);
  for (let s = 0; s < nv; s++) {
    while (outA[s] !== -1 || outB[s] !== -1) {
      // One closed walk from s, which ends back at s: its turning vertices in order. s, the first remaining vertex
      // in raster order, is a corner of what is left; simplify() drops any vertex that is not a turn.
      walk.length = 0;
      let v = s;
      let d = outA[s] !== -1 ? outA[s]! : outB[s]!;
      take(v, d);
      let prev = -1;
      for (;;) {
        if (d !== prev) walk.push(v);
        prev = d;
        v += DY[d]! * vw + DX[d]!;
        const r = (d + 1) % 4;
        const l = (d + 3) % 4;
        if (take(v, r)) d = r;
        else if (take(v, d)) {
          // straight on
        } else if (take(v, l)) d = l;
        else break;
      }
      splitRings(walk, pos, vw, ox, oy, shells, holes);
    }
  }
  shells.sort((a, b) => b.area - a.area);
  const polys: PolygonRings[] = shells.map((s) => [s.ring]);
  for (const hole of holes) {
    // A hole's edges belong to no shell, so the midpoint of its first edge is strictly inside or outside each.
    const mx = (hole[0]![0] + hole[1]![0]) / 2;
    const my = (hole[0]![1] + hole[1]![1]) / 2;
    let best = -1;
    for (let i = 0; i < shells.length; i++) {
      if (inside(shells[i]!.ring, mx, my) && (best < 0 || shells[i]!.area < shells[best]!.area)) best = i;
    }
    if (best < 0) throw new Error('outlineOfMask: a hole outside every shell (internal error)');
    polys[best]!.push(hole);
  }
  return polys;
}

/**
 * Splits a closed walk of vertex indices at repeated vertices into simple rings, classed by signed area (the
 * walk ends where it started; repeated vertices are the diagonal meetings it passed twice).
 */
function splitRings(
  walk: readonly number[],
  pos: Int32Array,
  vw: number,
  ox: number,
  oy: number,
  shells: { ring: Ring; area: number }[],
  holes: Ring[],
): void {
  const stack: number[] = [];
  const emit = (from: number): void => {
    const idx = stack.slice(from);
    for (let i = from + 1; i < stack.length; i++) pos[stack[i]!] = -1;
    stack.length = from + 1;
    const ring = simplify(idx, vw, ox, oy);
    if (!ring) return;
    const a = signedArea(ring);
    if (a > 0) shells.push({ ring, area: a });
    else holes.push(ring);
  };
  for (const v of walk) {
    const p = pos[v]!;
    if (p >= 0) emit(p);
    else {
      pos[v] = stack.length;
      stack.push(v);
    }
  }
  emit(0);
  pos[stack[0]!] = -1;
}

/** Ring of a vertex loop with collinear vertices removed and the first repeated last; undefined if degenerate. */
function simplify(loop: readonly number[], vw: number, ox: number, oy: number): Ring | undefined {
  const n = loop.length;
  const pts: Ring = [];
  for (let i = 0; i < n; i++) {
    const a = loop[(i + n - 1) % n]!;
    const b = loop[i]!;
    const c = loop[(i + 1) % n]!;
    const ax = a % vw;
    const ay = (a / vw) | 0;
    const bx = b % vw;
    const by = (b / vw) | 0;
    const cx = c % vw;
    const cy = (c / vw) | 0;
    if ((bx - ax) * (cy - by) - (by - ay) * (cx - bx) !== 0) pts.push([bx + ox, by + oy]);
  }
  if (pts.length < 4) return undefined;
  pts.push([pts[0]![0], pts[0]![1]]);
  return pts;
}

/** Shoelace signed area of a closed ring in (x, y) as written (positive for a shell here). */
export function signedArea(ring: Ring): number {
  let s = 0;
  for (let i = 0; i + 1 < ring.length; i++)
    s += ring[i]![0] * ring[i + 1]![1] - ring[i + 1]![0] * ring[i]![1];
  return s / 2;
}

/** Even-odd ray casting; the point is never on the ring here. */
function inside(ring: Ring, x: number, y: number): boolean {
  let c = false;
  for (let i = 0, j = ring.length - 2; i < ring.length - 1; j = i++) {
    const [xi, yi] = ring[i]!;
    const [xj, yj] = ring[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
}
