import { beforeAll, describe, expect, it } from 'vitest';
import { openSlide } from '../src/slide/index.ts';
import { planRegions } from '../src/slide/regions.ts';
import { detectTissue, type TissueMask } from '../src/slide/tissue.ts';
import { type TestSlide, testSlide } from '../testing/test-slide.ts';

let ts: TestSlide;
let tissue: TissueMask;
beforeAll(async () => {
  ts = await testSlide();
  const slide = await openSlide(ts.svs40);
  try {
    tissue = await detectTissue(slide);
  } finally {
    slide.close();
  }
}, 180_000);

describe('planRegions', () => {
  it('tiles the slide exactly with cores: every pixel in exactly one core', () => {
    for (const [w, h, c] of [
      [3840, 2624, 300],
      [1000, 700, 1024],
      [1024, 2048, 1024],
      [7, 5, 2],
    ] as const) {
      const plan = planRegions({ width: w, height: h }, { core: c, margin: 10 });
      expect([plan.cols, plan.rows]).toEqual([Math.ceil(w / c), Math.ceil(h / c)]);
      expect(plan.regions.length).toBe(plan.cols * plan.rows);
      const hits = new Uint8Array(w * h);
      for (const r of plan.regions) {
        expect(r.core.width).toBeGreaterThan(0);
        expect(r.core.width).toBeLessThanOrEqual(c);
        for (let y = r.core.y; y < r.core.y + r.core.height; y++)
          for (let x = r.core.x; x < r.core.x + r.core.width; x++) hits[y * w + x]!++;
      }
      expect(hits.every((v) => v === 1)).toBe(true);
    }
  });

  it('grows each core by the margin, clips windows at the slide edge and records what was clipped', () => {
    const plan = planRegions({ width: 1000, height: 700 }, { core: 300, margin: 64 });
    expect(plan.regions.map((r) => r.id).slice(0, 5)).toEqual(['r0c0', 'r0c1', 'r0c2', 'r0c3', 'r1c0']);
    const byId = new Map(plan.regions.map((r) => [r.id, r]));
    const corner = byId.get('r0c0')!;
    expect(corner.core).toEqual({ x: 0, y: 0, width: 300, height: 300 });
    expect(corner.window).toEqual({ x: 0, y: 0, width: 364, height: 364 });
    expect(corner.clip).toEqual({ left: 64, top: 64, right: 0, bottom: 0 });
    expect(corner.slideEdge).toEqual({ left: true, top: true, right: false, bottom: false });
    const inner = byId.get('r1c1')!;
    expect(inner.window).toEqual({ x: 236, y: 236, width: 428, height: 428 });
    expect(inner.clip).toEqual({ left: 0, top: 0, right: 0, bottom: 0 });
    expect(inner.slideEdge).toEqual({ left: false, top: false, right: false, bottom: false });
    // Last column: core 900..1000 (narrow), window 836..1000, 64 px of margin lost on the right.
    const last = byId.get('r2c3')!;
    expect(last.core).toEqual({ x: 900, y: 600, width: 100, height: 100 });
    expect(last.window).toEqual({ x: 836, y: 536, width: 164, height: 164 });
    expect(last.clip).toEqual({ left: 0, top: 0, right: 64, bottom: 64 });
    expect(last.slideEdge).toEqual({ left: false, top: false, right: true, bottom: true });
    // A margin larger than the slide clips partly: window = the whole slide.
    const one = planRegions({ width: 50, height: 40 }, { core: 64, margin: 100 }).regions[0]!;
    expect(one.window).toEqual({ x: 0, y: 0, width: 50, height: 40 });
    expect(one.core).toEqual({ x: 0, y: 0, width: 50, height: 40 });
    expect(one.clip).toEqual({ left: 100, top: 100, right: 100, bottom: 100 });
  });

  it('records scale = slide mpp / model mpp and plans in level-0 px whatever the scale', () => {
    const a = planRegions(
      { width: 3840, height: 2624 },
      { core: 1024, margin: 64, slideMpp: 0.2527, modelMpp: 0.5054 },
    );
    expect(a.scale).toBeCloseTo(0.5, 12);
    const b = planRegions({ width: 3840, height: 2624 }, { core: 1024, margin: 64 });
    expect(b.scale).toBe(1);
    expect(a.regions).toEqual(b.regions);
    expect(() => planRegions({ width: 10, height: 10 }, { slideMpp: 0.25 })).toThrow(
      /must both be > 0, got 0.25 and undefined/,
    );
  });

  it('names bad input', () => {
    expect(() => planRegions({ width: 0, height: 10 })).toThrow(/invalid slide size 0x10/);
    expect(() => planRegions({ width: 10, height: 10 }, { core: 2.5 })).toThrow(
      /core must be a positive integer, got 2.5/,
    );
    expect(() => planRegions({ width: 10, height: 10 }, { margin: -1 })).toThrow(
      /margin must be an integer >= 0, got -1/,
    );
    expect(() =>
      planRegions(
        { width: 3840, height: 2624 },
        { tissue: { mask: { width: 10, height: 10, data: new Uint8Array(100) }, downsample: 4 } },
      ),
    ).toThrow(/tissue mask 10x10 at downsample 4 does not cover the 3840x2624 slide/);
  });

  it('keeps exactly the regions whose core touches tissue on the test slide', () => {
    const C = 100;
    const plan = planRegions({ width: ts.width, height: ts.height }, { core: C, margin: 32, tissue });
    const all = planRegions({ width: ts.width, height: ts.height }, { core: C, margin: 32 });
    const kept = new Set(plan.regions.map((r) => r.id));
    expect(plan.regions.length + plan.skipped).toBe(all.regions.length);
    // Ground truth from the layout, with 8 px of slack at the tiles' edges for JPEG ringing and mask pixels (4 px).
    const hits = (r: (typeof all.regions)[number], grow: number) =>
      ts.tiles.some(
        (t) =>
          r.core.x < t.x + t.width + grow &&
          r.core.x + r.core.width > t.x - grow &&
          r.core.y < t.y + t.height + grow &&
          r.core.y + r.core.height > t.y - grow,
      );
    let sureIn = 0;
    let sureOut = 0;
    for (const r of all.regions) {
      if (hits(r, -8)) {
        sureIn++;
        expect(kept.has(r.id), `${r.id} over a tile`).toBe(true);
      } else if (!hits(r, 8)) {
        sureOut++;
        expect(kept.has(r.id), `${r.id} over glass`).toBe(false);
      }
    }
    console.log(
      `C=${C}: ${all.regions.length} regions, ${plan.regions.length} kept, ${plan.skipped} skipped; ${sureIn} surely tissue, ${sureOut} surely glass`,
    );
    expect(sureOut).toBeGreaterThan(100);
    // Row-major order survives filtering.
    const order = plan.regions.map((r) => r.row * all.cols + r.col);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });
});
