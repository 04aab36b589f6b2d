// The whole-slide pipeline (plan, regions, merge) on the 40x test slide with the shipped nets: stitched against
// the same slide segmented in one piece, resume without recomputation, a changed slide refused, outputs whole.
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregatedJaccard, buildPairing } from '../src/metrics/index.ts';
import { loadSegmenter, type Segmenter } from '../src/model/infer.ts';
import { SHIPPED_MODEL_DIR } from '../src/model/model-dir.ts';
import { openSlide } from '../src/slide/index.ts';
import { PartsStore } from '../src/slide/parts.ts';
import {
  mergeSlide,
  type PartNucleus,
  partsDirOf,
  planSlide,
  readGrid,
  regionExecutions,
  type SlideJob,
  segmentSlideRegions,
  stainOf,
} from '../src/slide/pipeline.ts';
import { rasteriseInstances } from '../src/slide/stitch.ts';
import { shippedSlideModel, type TestSlide, testSlide } from '../testing/test-slide.ts';

let ts: TestSlide;
let nets: Segmenter;
let out: string;
let job: SlideJob;
beforeAll(async () => {
  ts = await testSlide();
  nets = await loadSegmenter(SHIPPED_MODEL_DIR);
  out = mkdtempSync(join(tmpdir(), 'nf-slide-'));
  job = {
    slide: ts.svs40,
    outDir: out,
    model: await shippedSlideModel(),
  };
}, 300_000);
afterAll(() => {
  nets?.dispose();
  rmSync(out, { recursive: true, force: true });
});

describe('segmenting a slide in regions', () => {
  let nuclei: PartNucleus[];
  it('plans tissue regions, segments each once, and merges every nucleus once into the outputs', async () => {
    const plan = await planSlide(job, { segmenter: nets });
    expect(plan.regions.length).toBeGreaterThan(4);
    expect(readGrid(plan.partsDir).postprocess).not.toBeNull();
    expect(plan.done).toEqual([]);
    const seen: string[] = [];
    const r = await segmentSlideRegions(job, plan.regions, nets, {
      onRegion: (p) => void seen.push(p.region),
    });
    expect(r).toMatchObject({ computed: plan.regions.length, skipped: 0 });
    expect(seen).toEqual(plan.regions);
    const summary = await mergeSlide(job);
    expect(summary.nuclei).toBe(r.nuclei);
    // No owned nucleus touches a window side inside the slide: none can have been cut by a seam.
    expect(summary.cut).toBe(0);
    const geo = JSON.parse(readFileSync(summary.files.geojson, 'utf8'));
    expect(geo.features.length).toBe(summary.nuclei);
    const csv = readFileSync(summary.files.csv, 'utf8').trim().split('\n');
    expect(csv.length).toBe(summary.nuclei + 2); // the model line, the header
    for (const f of [summary.files.thumbnail, summary.files.summary, join(out, `${plan.stem}.tissue.png`)])
      expect(existsSync(f)).toBe(true);
    const parts = await PartsStore.open<PartNucleus>(partsDirOf(job), readGrid(partsDirOf(job)).key);
    nuclei = plan.regions.flatMap((id) => parts.read(id).nuclei);
  }, 600_000);

  it('matches the same slide segmented in one piece: AJI >= 0.995, no pixel reported twice, nuclei counts within 3', async () => {
    const { labels: stitched, overlaps } = rasteriseInstances(
      { width: ts.width, height: ts.height },
      nuclei.map((n) => ({ region: n.region, label: n.label, runs: Int32Array.from(n.runs) })),
    );
    expect(overlaps).toBe(0);
    const slide = await openSlide(ts.svs40);
    const data = await slide.readRegion({ x: 0, y: 0, level: 0, width: ts.width, height: ts.height });
    slide.close();
    const grid = readGrid(partsDirOf(job));
    const whole = await nets.segment({ width: ts.width, height: ts.height, data }, 'whole', {
      sourceStain: stainOf(grid)!,
      postprocess: grid.postprocess!,
    });
    const aji = aggregatedJaccard(buildPairing(whole.labels, stitched)).aji;
    expect(Math.abs(nuclei.length - whole.count)).toBeLessThanOrEqual(3);
    expect(aji).toBeGreaterThanOrEqual(0.995);
  }, 600_000);

  it('a restart recomputes only the region whose result was lost', async () => {
    const plan = await planSlide(job);
    expect(plan.done).toEqual(plan.regions);
    unlinkSync(join(plan.partsDir, `${plan.regions[1]}.json`));
    const again = await planSlide(job);
    expect(again.done.length).toBe(plan.regions.length - 1);
    const r = await segmentSlideRegions(job, again.regions, nets);
    expect(r).toMatchObject({ computed: 1, skipped: plan.regions.length - 1 });
    const runs = regionExecutions(plan.partsDir);
    expect(plan.regions.map((id) => runs.get(id))).toEqual(
      plan.regions.map((id) => (id === plan.regions[1] ? 2 : 1)),
    );
  }, 600_000);

  it('refuses a slide whose identity changed since its regions were recorded, naming the file', async () => {
    const other = { ...job, slide: ts.svs20 };
    // The 20x slide planned into the 40x slide's parts folder: another identity (and grid).
    const dir = partsDirOf(job);
    const otherDir = partsDirOf(other);
    rmSync(otherDir, { recursive: true, force: true });
    const { cpSync } = await import('node:fs');
    cpSync(dir, otherDir, { recursive: true });
    await expect(planSlide(other)).rejects.toThrow(
      new RegExp(`^${ts.svs20.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the file changed`),
    );
  }, 300_000);
});
