// segmentRegion: window read, model-scale resampling, edge padding, level-0 ownership. Geometry with a threshold
// segmenter; one test with the shipped nets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabelImage, RgbImage } from '../src/imaging/types.ts';
import { loadSegmenter, MIN_INPUT_SIZE, type Segmenter } from '../src/model/infer.ts';
import { modelMicronsPerPixel, SHIPPED_MODEL_DIR } from '../src/model/model-dir.ts';
import { connectedComponents } from '../src/postprocess/connected-components.ts';
import { openSlide, type Slide } from '../src/slide/index.ts';
import { planRegions, type Region } from '../src/slide/regions.ts';
import { labelsToLevel0, resizeRgb } from '../src/slide/resample.ts';
import { segmentRegion } from '../src/slide/segment-region.ts';
import { type OwnedInstance, ownedInstances } from '../src/slide/stitch.ts';
import { detectTissue } from '../src/slide/tissue.ts';
import { fitMacenko } from '../src/stain/macenko.ts';
import { EDGE_SLIDE, TEST_SLIDE_MPP_40X, testSlide } from '../testing/test-slide.ts';

let slide40: Slide;
let slide20: Slide;
let edge: Slide;
beforeAll(async () => {
  const [ts, es] = await Promise.all([testSlide(), testSlide(EDGE_SLIDE)]);
  slide40 = await openSlide(ts.svs40);
  slide20 = await openSlide(ts.svs20);
  edge = await openSlide(es.svs40);
}, 300_000);
afterAll(() => {
  for (const s of [slide40, slide20, edge]) s?.close();
});

/** Stands in for the nets: dark pixels (luma < 150), 8-connected. Records the sizes it was given. */
function thresholdSegmenter(seen: { width: number; height: number }[]) {
  return async (rgb: RgbImage): Promise<LabelImage> => {
    seen.push({ width: rgb.width, height: rgb.height });
    const mask = new Uint8Array(rgb.width * rgb.height);
    for (let i = 0; i < mask.length; i++) {
      const d = rgb.data;
      mask[i] = 0.299 * d[3 * i]! + 0.587 * d[3 * i + 1]! + 0.114 * d[3 * i + 2]! < 150 ? 1 : 0;
    }
    return connectedComponents({ width: rgb.width, height: rgb.height, data: mask }).labels;
  };
}

const regionById = (regions: readonly Region[], id: string) => regions.find((r) => r.id === id)!;

async function readWindow(slide: Slide, r: Region): Promise<RgbImage> {
  const w = r.window;
  return { width: w.width, height: w.height, data: await slide.readRegion({ ...w, level: 0 }) };
}

const shape = (o: OwnedInstance) => ({
  area: o.area,
  centroid: o.centroid,
  box: o.box,
  runs: Array.from(o.runs),
});

function expectInside(owned: readonly OwnedInstance[], r: Region) {
  const w = r.window;
  for (const o of owned) {
    for (let j = 0; j < o.runs.length; j += 3) {
      expect(o.runs[j]).toBeGreaterThanOrEqual(w.y);
      expect(o.runs[j]).toBeLessThan(w.y + w.height);
      expect(o.runs[j + 1]).toBeGreaterThanOrEqual(w.x);
      expect(o.runs[j + 2]).toBeLessThanOrEqual(w.x + w.width);
    }
    expect(o.centroid.x).toBeGreaterThanOrEqual(r.core.x);
    expect(o.centroid.x).toBeLessThan(r.core.x + r.core.width);
    expect(o.centroid.y).toBeGreaterThanOrEqual(r.core.y);
    expect(o.centroid.y).toBeLessThan(r.core.y + r.core.height);
  }
}

describe('the model scale', () => {
  it("is the shipped card's trainingScale, MoNuSeg's 0.2527 um/px: the 40x slide is at scale 1, the 20x at 2", async () => {
    const mpp = await modelMicronsPerPixel(SHIPPED_MODEL_DIR);
    expect(mpp).toBe(TEST_SLIDE_MPP_40X);
    expect(slide40.mpp!.x / mpp).toBeCloseTo(1, 6);
    expect(slide20.mpp!.x / mpp).toBeCloseTo(2, 6);
  });
});

describe('segmentRegion (threshold segmenter)', () => {
  it('at scale 1 gives what segmenting the window directly gives', async () => {
    const plan = planRegions(slide40.levels[0]!, { core: 256, margin: 64 });
    const r = regionById(plan.regions, 'r2c2');
    const seen: { width: number; height: number }[] = [];
    const seg = thresholdSegmenter(seen);
    const res = await segmentRegion(slide40, r, seg, { scale: 1, mpp: 0.25 });
    const direct = ownedInstances(r, await seg(await readWindow(slide40, r)));
    expect(seen[0]).toEqual({ width: 384, height: 384 });
    expect(res.padded).toBe(false);
    expect(res.ownership.owned.length).toBeGreaterThan(10);
    expect(res.ownership.owned.map(shape)).toEqual(direct.owned.map(shape));
    // One record per owned instance, measured on the window's own pixels (dark, so stained: positive H OD).
    expect(res.records.map((r) => [r.label, r.measures.areaPx])).toEqual(
      res.ownership.owned.map((o) => [o.label, o.area]),
    );
    for (const rec of res.records) {
      expect(rec.measures.hematoxylinOd!).toBeGreaterThan(0.05);
      expect(rec.measures.areaUm2!).toBeCloseTo(rec.measures.areaPx * 0.0625, 6);
    }
  });

  it('pads an edge region smaller than the net input with white and keeps labels inside the window', async () => {
    const plan = planRegions(edge.levels[0]!, { core: 200, margin: 16 });
    const r = regionById(plan.regions, 'r2c5');
    expect(r.window).toEqual({ x: 984, y: 384, width: 40, height: 128 });
    const seen: { width: number; height: number }[] = [];
    const seg = thresholdSegmenter(seen);
    const res = await segmentRegion(edge, r, seg, { scale: 1 });
    expect(seen[0]).toEqual({ width: MIN_INPUT_SIZE, height: MIN_INPUT_SIZE });
    expect(res.padded).toBe(true);
    expect(res.modelSize).toEqual({ width: 40, height: 128 });
    const direct = ownedInstances(
      r,
      connectedComponents(await maskOf(seg, await readWindow(edge, r))).labels,
    );
    expect(res.ownership.owned.map(shape)).toEqual(direct.owned.map(shape));
    expectInside(res.ownership.owned, r);
    // A segmenter that calls the whole padded input one nucleus: only the window's pixels come back.
    const all = await segmentRegion(
      edge,
      r,
      async (rgb) => ({
        width: rgb.width,
        height: rgb.height,
        data: new Int32Array(rgb.width * rgb.height).fill(1),
      }),
      { scale: 1 },
    );
    expect(all.ownership.owned).toHaveLength(1);
    expect(all.ownership.owned[0]!.area).toBe(40 * 128);
    expect(all.ownership.owned[0]!.box).toEqual(r.window);
  });

  it('at scale 0.5 segments a half-size image and returns level-0 instances inside the window', async () => {
    const plan = planRegions(slide40.levels[0]!, { core: 512, margin: 64 });
    const r = regionById(plan.regions, 'r1c1');
    const seen: { width: number; height: number }[] = [];
    const seg = thresholdSegmenter(seen);
    const half = await segmentRegion(slide40, r, seg, { scale: 0.5 });
    expect(seen[0]).toEqual({ width: 320, height: 320 });
    expect(half.padded).toBe(false);
    expectInside(half.ownership.owned, r);
    // The same steps by hand: resize the window, segment, map the labels back, take the owned ones.
    const small = await resizeRgb(await readWindow(slide40, r), 320, 320);
    const byHand = ownedInstances(r, labelsToLevel0(await seg(small), 640, 640));
    expect(half.ownership.owned.map(shape)).toEqual(byHand.owned.map(shape));
    // Against scale 1: the blobs of at least 40 level-0 px are about as many, with about the same area.
    const full = await segmentRegion(slide40, r, seg, { scale: 1 });
    const big = (o: readonly OwnedInstance[]) => o.filter((i) => i.area >= 40);
    const area = (o: readonly OwnedInstance[]) => o.reduce((s, i) => s + i.area, 0);
    const n0 = big(full.ownership.owned).length;
    const n1 = big(half.ownership.owned).length;
    expect(n0).toBeGreaterThan(20);
    expect(Math.abs(n1 - n0) / n0).toBeLessThan(0.2);
    expect(Math.abs(area(big(half.ownership.owned)) / area(big(full.ownership.owned)) - 1)).toBeLessThan(0.1);
  });
});

/** The threshold mask of `rgb` (what thresholdSegmenter labels), for a direct comparison. */
async function maskOf(seg: (rgb: RgbImage) => Promise<LabelImage>, rgb: RgbImage) {
  const l = await seg(rgb);
  const data = new Uint8Array(l.data.length);
  for (let i = 0; i < data.length; i++) data[i] = l.data[i]! > 0 ? 1 : 0;
  return { width: l.width, height: l.height, data };
}

describe('segmentRegion (shipped nets)', () => {
  let nets: Segmenter;
  beforeAll(async () => {
    nets = await loadSegmenter(SHIPPED_MODEL_DIR);
  });
  afterAll(() => nets?.dispose());

  it('a region inside tissue gives the instances of segmenting its pixels directly, with the slide stain fit', async () => {
    const tissue = await detectTissue(slide40);
    const sourceStain = fitMacenko(tissue.rgb);
    const plan = planRegions(slide40.levels[0]!, { core: 256, margin: 64, tissue });
    const r = regionById(plan.regions, 'r2c2');
    const seg = async (rgb: RgbImage) => (await nets.segment(rgb, r.id, { sourceStain })).labels;
    const res = await segmentRegion(slide40, r, seg, { scale: slide40.mpp!.x / TEST_SLIDE_MPP_40X });
    const direct = ownedInstances(r, await seg(await readWindow(slide40, r)));
    expect(res.ownership.owned.length).toBeGreaterThan(10);
    expect(res.ownership.owned.map(shape)).toEqual(direct.owned.map(shape));
    expectInside(res.ownership.owned, r);
  });
});
