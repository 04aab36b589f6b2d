// Seam-safe stitching of per-region instance segmentations: each nucleus is reported once, whole, in level-0 pixels.
//
// The ownership rule: a region owns the instances of its segmentation whose centroid lies in its core. Centroids use
// the pixel-centre convention: pixel (x, y) is the point (x + 0.5, y + 0.5) in level-0 coordinates, and an
// instance's centroid is the mean of its pixels' centres. Cores are half-open, [x0, x0 + C) x [y0, y0 + C), and
// tile the slide (regions.ts), so every centroid has exactly one owner; one exactly on a core boundary belongs to
// the core to its right / below. The test is done in integers: with sums S = sum of level-0 x over the instance's
// pixels and area A, cx = (S + A / 2) / A, and x0 <= cx < x0 + C iff 2 x0 A <= 2 S + A < 2 (x0 + C) A.
//
// Why it is exact, and its limit: when an instance is whole in two windows, both compute the same centroid, so one
// owns it. An instance is whole in its owner's window iff it extends at most M (the margin) beyond the owner's core;
// a copy cut by another region's window can only be claimed there if the instance spans more than M along one axis
// (it reaches past that window's edge, M beyond its core, and has pixels around its core too). So every nucleus whose
// bounding box is at most M px on each side is reported exactly once, whole: M = 64 px at 0.25 um/px handles
// nuclei up to 16 um across. Larger ones may come out cut or twice; an owned instance touching a window side that
// is not the slide's edge is flagged `cut` (it may continue beyond the window), so the margin can be judged.
// Segmentations must agree across windows for this to hold; a net's output near a window edge may differ from its
// output mid-window, which the margin also keeps away from the owned nuclei.

import { instanceBoxes } from '../imaging/instance-boxes.ts';
import { assertBuffer, type LabelImage } from '../imaging/types.ts';
import type { Box, Region } from './regions.ts';

/**
 * One owned instance, in level-0 pixels. Its pixels are horizontal runs: `runs` holds triples (y, xStart, xEnd),
 * xEnd exclusive, sorted by y then x, so a nucleus of r rows costs about 3 r integers (a 40 px nucleus, 480 bytes)
 * and streams straight into a raster (rasteriseInstances), a cropped mask for polygon tracing (instanceMask) or a
 * per-nucleus table (area, centroid, box).
 */
export interface OwnedInstance {
  /** The owning region's id. */
  readonly region: string;
  /** The instance's id in the region's segmentation. */
  readonly label: number;
  readonly area: number;
  /** Mean of the pixel centres, level-0. */
  readonly centroid: { readonly x: number; readonly y: number };
  /** Bounding box, half-open, level-0. */
  readonly box: Box;
  readonly runs: Int32Array;
  /** True when the instance touches a side of the window that is not the slide's edge: it may be cut there. */
  readonly cut: boolean;
}

export interface Ownership {
  readonly owned: OwnedInstance[];
  /** How many owned instances are flagged cut. */
  readonly cut: number;
  /** Instances in the segmentation not owned (their centroid is in another core). */
  readonly notOwned: number;
}

/**
 * The instances of `labels` (a region's segmentation over its window, window coordinates) that `region` owns, each
 * whole in level-0 coordinates (rule in this file's header). Ids need not be consecutive. O(window pixels + max id
 * + sum of the owned bounding boxes).
 */
export function ownedInstances(
  region: Pick<Region, 'id' | 'core' | 'window' | 'slideEdge'>,
  labels: LabelImage,
): Ownership {
  assertBuffer('ownedInstances', labels);
  const { window: win, core } = region;
  if (labels.width !== win.width || labels.height !== win.height) {
    throw new RangeError(
      `ownedInstances: labels are ${labels.width}x${labels.height}, region ${region.id}'s window is ${win.width}x${win.height}`,
    );
  }
  const { width: w, height: h, data } = labels;
  const st = instanceBoxes(labels, 'ownedInstances');
  const sx = new Float64Array(st.maxId + 1);
  const sy = new Float64Array(st.maxId + 1);
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++, i++) {
      const l = data[i]!;
      if (l === 0) continue;
      // Level-0 sums, so two windows holding the same whole instance get the same integers.
      sx[l]! += x + win.x;
      sy[l]! += y + win.y;
    }
  }
  const owned: OwnedInstance[] = [];
  let cut = 0;
  let notOwned = 0;
  const cx0 = core.x;
  const cx1 = core.x + core.width;
  const cy0 = core.y;
  const cy1 = core.y + core.height;
  const edge = region.slideEdge;
  for (let l = 1; l <= st.maxId; l++) {
    const a = st.area[l]!;
    if (a === 0) continue;
    const tx = 2 * sx[l]! + a;
    const ty = 2 * sy[l]! + a;
    if (!(tx >= 2 * cx0 * a && tx < 2 * cx1 * a && ty >= 2 * cy0 * a && ty < 2 * cy1 * a)) {
      notOwned++;
      continue;
    }
    const bx0 = st.x0[l]!;
    const by0 = st.y0[l]!;
    const bx1 = st.x1[l]!;
    const by1 = st.y1[l]!;
    const isCut =
      (bx0 === 0 && !edge.left) ||
      (by0 === 0 && !edge.top) ||
      (bx1 === w - 1 && !edge.right) ||
      (by1 === h - 1 && !edge.bottom);
    if (isCut) cut++;
    owned.push({
      region: region.id,
      label: l,
      area: a,
      centroid: { x: tx / (2 * a), y: ty / (2 * a) },
      box: { x: bx0 + win.x, y: by0 + win.y, width: bx1 - bx0 + 1, height: by1 - by0 + 1 },
      runs: runsOf(labels, l, bx0, by0, bx1, by1, win.x, win.y),
      cut: isCut,
    });
  }
  return { owned, cut, notOwned };
}

/** Runs of id l inside its inclusive box, offset to level 0. Two passes over the box: count, then fill. */
function runsOf(
  labels: LabelImage,
  l: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  ox: number,
  oy: number,
): Int32Array {
  const { width: w, data } = labels;
  let n = 0;
  for (let y = y0; y <= y1; y++) {
    const o = y * w;
    for (let x = x0; x <= x1; x++) if (data[o + x] === l && (x === x0 || data[o + x - 1] !== l)) n++;
  }
  const runs = new Int32Array(3 * n);
  let k = 0;
  for (let y = y0; y <= y1; y++) {
    const o = y * w;
    let x = x0;
    while (x <= x1) {
      if (data[o + x] !== l) {
        x++;
        continue;
      }
      const s = x;
      while (x <= x1 && data[o + x] === l) x++;
      runs[k++] = y + oy;
      runs[k++] = s + ox;
      runs[k++] = x + ox;
    }
  }
  return runs;
}

/** The instance as a 0/1 mask of its bounding box (row-major, box.width x box.height), e.g. for contour tracing. */
export function instanceMask(inst: Pick<OwnedInstance, 'box' | 'runs'>): Uint8Array {
  const { box, runs } = inst;
  const m = new Uint8Array(box.width * box.height);
  for (let k = 0; k < runs.length; k += 3) {
    const o = (runs[k]! - box.y) * box.width - box.x;
    m.fill(1, o + runs[k + 1]!, o + runs[k + 2]!);
  }
  return m;
}

/**
 * Paints instances into one width x height level-0 label image, ids 1..n in the order given (fresh, unique), for
 * tests and small slides: a whole slide's labels do not fit in memory. Counts pixels painted more than once
 * (`overlaps`: 0 when no nucleus is reported twice; the later instance wins). Throws a RangeError naming the
 * instance when a run lies outside the image. O(width * height + total area).
 */
export function rasteriseInstances(
  size: { width: number; height: number },
  instances: readonly Pick<OwnedInstance, 'region' | 'label' | 'runs'>[],
): { labels: LabelImage; overlaps: number } {
  const { width: w, height: h } = size;
  if (!Number.isSafeInteger(w) || !Number.isSafeInteger(h) || w <= 0 || h <= 0) {
    throw new RangeError(`rasteriseInstances: invalid size ${w}x${h}`);
  }
  const out = new Int32Array(w * h);
  let overlaps = 0;
  instances.forEach((inst, k) => {
    const id = k + 1;
    const r = inst.runs;
    for (let j = 0; j < r.length; j += 3) {
      const y = r[j]!;
      const xs = r[j + 1]!;
      const xe = r[j + 2]!;
      if (y < 0 || y >= h || xs < 0 || xe > w || xs >= xe) {
        throw new RangeError(
          `rasteriseInstances: instance ${inst.label} of ${inst.region} has run y=${y}, x=${xs}..${xe} outside the ${w}x${h} image`,
        );
      }
      const o = y * w;
      for (let i = o + xs; i < o + xe; i++) {
        if (out[i] !== 0) overlaps++;
        out[i] = id;
      }
    }
  });
  return { labels: { width: w, height: h, data: out }, overlaps };
}
