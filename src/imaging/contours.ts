// Outer contours of labelled objects by Moore-neighbour tracing (Gonzalez & Woods, Digital Image Processing, 3rd ed., 11.1.1).
//
// Conventions: 8-connectivity; each instance's contour is traced from its first pixel in raster
// order (top-most, then left-most), clockwise on screen (y down), visiting boundary pixel centres;
// coordinates are returned as pixel centres (x + 0.5, y + 0.5) so that, as in QuPath, pixel (x, y)
// covers [x, x+1) x [y, y+1). Tracing stops when the start pixel is re-entered from the same
// direction (Jacob's criterion). Only the piece holding the first pixel is traced when an id has
// several 8-connected pieces; holes are ignored. Objects whose contour has fewer than 3 distinct
// points (1-2 pixel objects, 1-pixel-wide lines) get the rectangle around their pixels instead.
// Complexity: one pass for bounding boxes, then O(contour length) per object.
import { instanceBoxes } from './instance-boxes.ts';
import type { LabelImage, MaskImage } from './types.ts';
import { assertBuffer } from './types.ts';

/** Clockwise from west, y down: W, NW, N, NE, E, SE, S, SW. */
const DX = [-1, -1, 0, 1, 1, 1, 0, -1] as const;
const DY = [0, -1, -1, -1, 0, 1, 1, 1] as const;

export interface Contour {
  readonly id: number;
  /** Closed ring: first point repeated at the end (GeoJSON order), pixel-centre coordinates. */
  readonly ring: [number, number][];
}

/** Contours of every id 1..max present in `labels` (a 0/1 mask traces id 1), in id order. */
export function traceContours(labels: LabelImage | MaskImage): Contour[] {
  assertBuffer('traceContours', labels, 1);
  const { width: w, height: h, data } = labels;
  const { maxId: max, x0, y0, x1, y1, first } = instanceBoxes(labels, 'traceContours');
  const at = (x: number, y: number, id: number) =>
    x >= 0 && y >= 0 && x < w && y < h && data[y * w + x] === id;
  const out: Contour[] = [];
  for (let id = 1; id <= max; id++) {
    const f = first[id]!;
    if (f < 0) continue;
    const sx = f % w;
    const sy = (f / w) | 0;
    const pts: [number, number][] = [];
    // The west neighbour of the first raster pixel is background, so the scan starts after it.
    let cx = sx;
    let cy = sy;
    let back = 0;
    let p1 = -1;
    const limit = 4 * (x1[id]! - x0[id]! + 1) * (y1[id]! - y0[id]! + 1) + 8;
    for (let steps = 0; steps < limit; steps++) {
      let d = -1;
      for (let k = 1; k <= 8; k++) {
        const dd = (back + k) % 8;
        if (at(cx + DX[dd]!, cy + DY[dd]!, id)) {
          d = dd;
          break;
        }
      }
      if (d < 0) break; // isolated pixel
      const nx = cx + DX[d]!;
      const ny = cy + DY[d]!;
      // Stop when the start pixel would be left along the first move again.
      if (cx === sx && cy === sy && p1 === ny * w + nx && steps > 0) break;
      if (p1 < 0) p1 = ny * w + nx;
      pts.push([cx + 0.5, cy + 0.5]);
      back = nextBacktrack(d);
      cx = nx;
      cy = ny;
    }
    const distinct = new Set(pts.map((p) => `${p[0]},${p[1]}`)).size;
    if (distinct < 3) {
      const a = x0[id]!;
      const b = y0[id]!;
      const c = x1[id]! + 1;
      const d = y1[id]! + 1;
      out.push({
        id,
        ring: [
          [a, b],
          [c, b],
          [c, d],
          [a, d],
          [a, b],
        ],
      });
      continue;
    }
    pts.push([pts[0]![0], pts[0]![1]]);
    out.push({ id, ring: pts });
  }
  return out;
}

/**
 * Backtrack for the next pixel after a move in direction d: the background neighbour examined
 * just before the found one (direction d - 1 from the old pixel), seen from the new pixel. That is
 * D[d-1] - D[d]: two steps counter-clockwise of d for axis moves, three for diagonal moves.
 */
function nextBacktrack(d: number): number {
  return d % 2 === 0 ? (d + 6) % 8 : (d + 5) % 8;
}
