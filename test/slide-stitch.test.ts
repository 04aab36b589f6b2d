import { beforeAll, describe, expect, it } from 'vitest';
import { crop } from '../src/imaging/crop.ts';
import { instanceBoxes } from '../src/imaging/instance-boxes.ts';
import type { LabelImage } from '../src/imaging/types.ts';
import { aggregatedJaccard, buildPairing } from '../src/metrics/index.ts';
import { openSlide } from '../src/slide/index.ts';
import { planRegions, REGION_DEFAULTS, type RegionPlan } from '../src/slide/regions.ts';
import { instanceMask, type OwnedInstance, ownedInstances, rasteriseInstances } from '../src/slide/stitch.ts';
import { detectTissue, type TissueMask } from '../src/slide/tissue.ts';
import { testSlide } from '../testing/test-slide.ts';

let gt: LabelImage;
let tissue: TissueMask;
/** Largest side of any ground-truth nucleus's bounding box, level-0 px. */
let largest = 0;
let gtCx: Float64Array;
let gtCy: Float64Array;
let gtArea: Int32Array;
beforeAll(async () => {
  const ts = await testSlide();
  gt = await ts.labels();
  const slide = await openSlide(ts.svs40);
  try {
    tissue = await detectTissue(slide);
  } finally {
    slide.close();
  }
  const st = instanceBoxes(gt);
  gtArea = st.area;
  gtCx = new Float64Array(st.maxId + 1);
  gtCy = new Float64Array(st.maxId + 1);
  for (let i = 0; i < gt.data.length; i++) {
    const l = gt.data[i]!;
    gtCx[l]! += (i % gt.width) + 0.5;
    gtCy[l]! += Math.floor(i / gt.width) + 0.5;
  }
  for (let l = 1; l <= st.maxId; l++) {
    if (st.area[l] === 0) continue;
    gtCx[l]! /= st.area[l]!;
    gtCy[l]! /= st.area[l]!;
    largest = Math.max(largest, st.x1[l]! - st.x0[l]! + 1, st.y1[l]! - st.y0[l]! + 1);
  }
}, 180_000);

interface Stitched {
  plan: RegionPlan;
  owned: OwnedInstance[];
  cut: number;
  /** Ground-truth ids whose centroid lies in a kept core: what should come out. */
  expected: Set<number>;
  duplicates: number;
  splits: number;
  /** Stitched instances that are not pixel-identical to one ground-truth nucleus. */
  mismatched: number;
  overlaps: number;
  aji: number;
}

/** Segments the mosaic "region by region" (each region's segmentation = the ground truth cropped to its window), stitches, compares. */
function stitchMosaic(core: number, margin: number): Stitched {
  const plan = planRegions(gt, { core, margin, tissue });
  const owned: OwnedInstance[] = [];
  let cut = 0;
  for (const r of plan.regions) {
    const seg = crop(gt, r.window.x, r.window.y, r.window.width, r.window.height);
    const o = ownedInstances(r, seg);
    owned.push(...o.owned);
    cut += o.cut;
  }
  const { labels, overlaps } = rasteriseInstances(gt, owned);
  const expected = new Set<number>();
  for (const r of plan.regions) {
    const { x, y, width, height } = r.core;
    for (let l = 1; l < gtArea.length; l++) {
      if (gtArea[l] === 0) continue;
      if (gtCx[l]! >= x && gtCx[l]! < x + width && gtCy[l]! >= y && gtCy[l]! < y + height) expected.add(l);
    }
  }
  // Each stitched instance: the ground-truth ids under its pixels; pixel-identical iff one id and the same area.
  const timesOwned = new Map<number, number>();
  const piecesOf = new Map<number, number>();
  let mismatched = 0;
  for (const inst of owned) {
    const under = new Set<number>();
    for (let k = 0; k < inst.runs.length; k += 3)
      for (let x = inst.runs[k + 1]!; x < inst.runs[k + 2]!; x++)
        under.add(gt.data[inst.runs[k]! * gt.width + x]!);
    const g = [...under][0]!;
    if (under.size !== 1 || g === 0 || gtArea[g] !== inst.area) mismatched++;
    for (const u of under) if (u !== 0) piecesOf.set(u, (piecesOf.get(u) ?? 0) + 1);
    if (under.size === 1 && g !== 0 && gtArea[g] === inst.area)
      timesOwned.set(g, (timesOwned.get(g) ?? 0) + 1);
  }
  const duplicates = [...timesOwned.values()].filter((n) => n > 1).length;
  // A split: a nucleus whose pixels went to more than one stitched instance (counted once per nucleus).
  const splits = [...piecesOf.values()].filter((n) => n > 1).length;
  // AJI of the stitched image against the ground truth restricted to the expected nuclei.
  const ref = Int32Array.from(gt.data, (v) => (expected.has(v) ? v : 0));
  const aji = aggregatedJaccard(buildPairing({ width: gt.width, height: gt.height, data: ref }, labels)).aji;
  return { plan, owned, cut, expected, duplicates, splits, mismatched, overlaps, aji };
}

describe('stitching owned instances of overlapping regions of the test slide', () => {
  it('reports every nucleus exactly once, pixel-identical, when the margin exceeds the largest nucleus', () => {
    const margin = largest + 1;
    const s = stitchMosaic(300, margin);
    // How many nuclei the seams (core boundaries) cut through: those whose pixels lie in more than one core.
    let crossing = 0;
    const coreOf = (x: number, y: number) => Math.floor(y / 300) * 1000 + Math.floor(x / 300);
    const first = new Map<number, number>();
    const crosses = new Set<number>();
    for (let i = 0; i < gt.data.length; i++) {
      const l = gt.data[i]!;
      if (l === 0 || !s.expected.has(l)) continue;
      const c = coreOf(i % gt.width, Math.floor(i / gt.width));
      const f = first.get(l);
      if (f === undefined) first.set(l, c);
      else if (f !== c) crosses.add(l);
    }
    crossing = crosses.size;
    console.log(
      `C=300 M=${margin} (largest nucleus ${largest} px): ${s.plan.regions.length} regions (${s.plan.skipped} skipped), ` +
        `${s.owned.length} owned, ${s.expected.size} expected, ${crossing} crossing a seam, cut ${s.cut}, ` +
        `duplicates ${s.duplicates}, splits ${s.splits}, mismatched ${s.mismatched}, overlaps ${s.overlaps}, AJI ${s.aji}`,
    );
    expect(crossing).toBeGreaterThan(300);
    expect(s.owned.length).toBe(s.expected.size);
    expect(s.duplicates).toBe(0);
    expect(s.splits).toBe(0);
    expect(s.mismatched).toBe(0);
    expect(s.overlaps).toBe(0);
    expect(s.cut).toBe(0);
    expect(s.aji).toBe(1);
    // Tissue filtering dropped regions but no nucleus: every ground-truth nucleus is expected.
    expect(s.expected.size).toBe([...gtArea].filter((a, l) => l > 0 && a > 0).length);
  });

  it('is exact with planRegions default margin (M = 64), below the largest nucleus but above its extent beyond any core', () => {
    const s = stitchMosaic(300, REGION_DEFAULTS.margin);
    expect(REGION_DEFAULTS.margin).toBeLessThan(largest);
    expect(s.owned.length).toBe(s.expected.size);
    expect([s.duplicates, s.splits, s.mismatched, s.overlaps, s.cut]).toEqual([0, 0, 0, 0, 0]);
    expect(s.aji).toBe(1);
  });

  it('flags cut nuclei when the margin is too small (M = 4 px), and then the result is no longer exact', () => {
    const s = stitchMosaic(300, 4);
    console.log(
      `C=300 M=4: ${s.owned.length} owned, ${s.expected.size} expected, cut ${s.cut}, duplicates ${s.duplicates}, ` +
        `splits ${s.splits}, mismatched ${s.mismatched}, overlaps ${s.overlaps}, AJI ${s.aji}`,
    );
    expect(s.cut).toBeGreaterThan(0);
    expect(s.mismatched).toBeGreaterThan(0);
    // Every mismatched instance is one the check flagged (an unflagged owned instance is whole).
    expect(s.owned.filter((o) => o.cut).length).toBeGreaterThanOrEqual(s.mismatched);
  });
});

describe('ownedInstances conventions', () => {
  const plan = planRegions({ width: 600, height: 200 }, { core: 300, margin: 20 });
  const [left, right] = plan.regions as [(typeof plan.regions)[0], (typeof plan.regions)[0]];
  /** A 600x200 slide's labels with the given axis-aligned rectangles (x0, y0, x1, y1 exclusive). */
  const slideLabels = (rects: [number, number, number, number][]): LabelImage => {
    const d = new Int32Array(600 * 200);
    rects.forEach(([x0, y0, x1, y1], k) => {
      for (let y = y0; y < y1; y++) d.fill(k + 1, y * 600 + x0, y * 600 + x1);
    });
    return { width: 600, height: 200, data: d };
  };
  const own = (labels: LabelImage) =>
    [left, right].map((r) =>
      ownedInstances(r, crop(labels, r.window.x, r.window.y, r.window.width, r.window.height)),
    );

  it('gives a centroid exactly on a core boundary to the core on its right (half-open cores, pixel centres)', () => {
    // Pixels 299 and 300: centres 299.5 and 300.5, centroid x = 300.0, the first column of the right core.
    // Pixels 298 and 299: centroid 299.0, in the left core.
    const [a, b] = own(
      slideLabels([
        [299, 50, 301, 52],
        [298, 100, 300, 102],
      ]),
    );
    expect(a!.owned.map((o) => o.centroid)).toEqual([{ x: 299, y: 101 }]);
    expect(b!.owned.map((o) => o.centroid)).toEqual([{ x: 300, y: 51 }]);
    expect(b!.owned[0]!.box).toEqual({ x: 299, y: 50, width: 2, height: 2 });
    expect(Array.from(b!.owned[0]!.runs)).toEqual([50, 299, 301, 51, 299, 301]);
    expect([a!.notOwned, b!.notOwned]).toEqual([1, 1]);
  });

  it('uses the centroid, not the bounding-box centre', () => {
    // An L: a 20x2 bar on x 290..310 and a 2x40 stem at x 290..292 below it. Box centre x = 300.0 (right core);
    // centroid x = (40 * 300 + 80 * 291) / 120 = 294.0 (left core).
    const labels = slideLabels([[290, 50, 310, 52]]);
    for (let y = 52; y < 92; y++) labels.data.fill(1, y * 600 + 290, y * 600 + 292);
    const [a, b] = own(labels);
    expect(a!.owned.map((o) => o.centroid.x)).toEqual([294]);
    expect(b!.owned).toEqual([]);
  });

  it('flags an owned instance touching a window side inside the slide as cut, not one on the slide edge', () => {
    // Left region's window is x 0..320: a nucleus x 250..330 is cut at 320 there; one at x 0..10 touches the slide edge.
    const [a] = own(
      slideLabels([
        [250, 50, 330, 54],
        [0, 100, 10, 110],
      ]),
    );
    expect(a!.owned.map((o) => [o.box.x, o.cut])).toEqual([
      [250, true],
      [0, false],
    ]);
    expect(a!.cut).toBe(1);
  });

  it('round-trips pixels through runs, masks and the rasteriser, and names mismatched shapes', () => {
    const labels = slideLabels([[100, 20, 140, 60]]);
    labels.data[30 * 600 + 110] = 0; // a hole, so a row has two runs
    const [a] = own(labels);
    const inst = a!.owned[0]!;
    expect(inst.area).toBe(40 * 40 - 1);
    const m = instanceMask(inst);
    expect(m.length).toBe(40 * 40);
    expect(m[10 * 40 + 10]).toBe(0);
    expect(m.reduce((s, v) => s + v, 0)).toBe(inst.area);
    const r = rasteriseInstances(labels, [inst, inst]);
    expect(r.overlaps).toBe(inst.area);
    expect(Array.from(r.labels.data, (v) => (v ? 1 : 0))).toEqual(Array.from(labels.data));
    expect(() => ownedInstances(left, labels)).toThrow(/labels are 600x200, region r0c0's window is 320x200/);
    expect(() => rasteriseInstances({ width: 10, height: 10 }, [inst])).toThrow(
      /instance 1 of r0c0 has run y=20, x=100\.\.140 outside the 10x10 image/,
    );
  });
});
