/**
 * Per-nucleus facts for the viewer's hover panel: for each predicted instance its area, centroid
 * and the ground-truth instance it overlaps best, with their IoU (intersection over union of the
 * two pixel sets). Best = highest IoU; ties go to the lower GT id. One pass over the pixels plus
 * one over the overlapping pairs: O(W*H + pairs).
 */
import type { LabelImage } from '../../src/imaging/types.ts';
import { assertSameShape } from '../../src/imaging/types.ts';

export interface NucleusTable {
  /** Column arrays, one entry per predicted instance, ordered by id. */
  id: number[];
  area: number[];
  cx: number[];
  cy: number[];
  /** Best-matching GT id, 0 when the instance touches no GT nucleus. */
  gt: number[];
  iou: number[];
  /** Per GT instance: its area, for the hover panel on GT contours. */
  gtId: number[];
  gtArea: number[];
}

function areas(labels: Int32Array): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i]!;
    if (v > 0) m.set(v, (m.get(v) ?? 0) + 1);
  }
  return m;
}

export function nucleusTable(pred: LabelImage, gt: LabelImage | null): NucleusTable {
  if (gt) assertSameShape('nucleusTable(pred, gt)', pred, gt);
  const { width, data: p } = pred;
  const g = gt?.data;
  const stats = new Map<number, { area: number; sx: number; sy: number }>();
  // Pair key p * 2^21 + g stays an exact double for ids below 2^32 / 2^21 (GT ids < 2 million).
  const inter = new Map<number, number>();
  const SHIFT = 2097152;
  for (let i = 0; i < p.length; i++) {
    const v = p[i]!;
    if (v <= 0) continue;
    let s = stats.get(v);
    if (!s) {
      s = { area: 0, sx: 0, sy: 0 };
      stats.set(v, s);
    }
    s.area++;
    s.sx += i % width;
    s.sy += (i / width) | 0;
    const w = g ? g[i]! : 0;
    if (w > 0) {
      const k = v * SHIFT + w;
      inter.set(k, (inter.get(k) ?? 0) + 1);
    }
  }
  const gtAreas = g ? areas(g) : new Map<number, number>();
  const best = new Map<number, { gt: number; iou: number }>();
  for (const [k, n] of inter) {
    const v = Math.floor(k / SHIFT);
    const w = k - v * SHIFT;
    const iou = n / (stats.get(v)!.area + gtAreas.get(w)! - n);
    const b = best.get(v);
    if (!b || iou > b.iou || (iou === b.iou && w < b.gt)) best.set(v, { gt: w, iou });
  }
  const ids = [...stats.keys()].sort((a, b) => a - b);
  const t: NucleusTable = { id: [], area: [], cx: [], cy: [], gt: [], iou: [], gtId: [], gtArea: [] };
  for (const v of ids) {
    const s = stats.get(v)!;
    const b = best.get(v);
    t.id.push(v);
    t.area.push(s.area);
    t.cx.push(Math.round((s.sx / s.area) * 10) / 10);
    t.cy.push(Math.round((s.sy / s.area) * 10) / 10);
    t.gt.push(b?.gt ?? 0);
    t.iou.push(b ? Math.round(b.iou * 1000) / 1000 : 0);
  }
  for (const w of [...gtAreas.keys()].sort((a, b) => a - b)) {
    t.gtId.push(w);
    t.gtArea.push(gtAreas.get(w)!);
  }
  return t;
}
