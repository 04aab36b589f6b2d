// Whole-slide segmentation (src/slide/pipeline.ts: plan, regions, merge, one process, shipped nets) of the 40x test
// slide (testing/test-slide.ts: 6 MoNuSeg images in a 3x2 mosaic) against a loop of single-image segment() over the
// same 6 image boxes, read from the slide with readRegion (two interleaved rounds, the fastest of each); then the
// wall time projected for a large slide.
// The split of the slide's time: segment() calls are timed as the pipeline makes them (a wrapped segmenter); the
// other phases are timed again after the run, on the same slide and parts (identity, tissue, window reads, the
// region step with the recorded labels, part reads), and what remains of each step is named in its note.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabelImage, RgbImage } from '../src/imaging/types.ts';
import { loadSegmenter, type Segmenter, type SegmentResult } from '../src/model/infer.ts';
import { SHIPPED_MODEL_DIR } from '../src/model/model-dir.ts';
import { slideIdentity } from '../src/slide/identity.ts';
import { openSlide } from '../src/slide/index.ts';
import { PartsStore } from '../src/slide/parts.ts';
import {
  mergeSlide,
  type PartNucleus,
  partsDirOf,
  planSlide,
  readGrid,
  SLIDE_REGION_DEFAULTS,
  type SlideJob,
  type SlideSummary,
  segmentSlideRegions,
} from '../src/slide/pipeline.ts';
import { segmentRegion } from '../src/slide/segment-region.ts';
import { detectTissue } from '../src/slide/tissue.ts';
import { shippedSlideModel, testSlide } from '../testing/test-slide.ts';
import { type BenchRow, peakRssMB } from './harness.ts';

/** The projected slide: 100,000 x 80,000 level-0 px at the model's scale, 30 % of it tissue. */
const BIG = { width: 100_000, height: 80_000, tissue: 0.3 };
const REPS = 2;

interface Clock {
  ms: number;
  cpuMs: number;
}

async function clock(fn: () => Promise<unknown>): Promise<Clock> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const c = process.cpuUsage(c0);
  return { ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
}

/** Sums of the segment() calls made through it: wall ms and the result's own timings. */
interface SegmentTally {
  calls: number;
  /** Megapixels segmented. */
  mpx: number;
  ms: number;
  normalise: number;
  nets: number;
  postprocess: number;
}

const tally = (): SegmentTally => ({ calls: 0, mpx: 0, ms: 0, normalise: 0, nets: 0, postprocess: 0 });

/** `seg` with each segment() call added to `current()`, its labels kept by source name when `keep`. */
function timedSegmenter(
  seg: Segmenter,
  current: () => SegmentTally,
  keep: Map<string, LabelImage>,
): Pick<Segmenter, 'segment'> {
  return {
    async segment(img, source, opts): Promise<SegmentResult> {
      const t0 = performance.now();
      const r = await seg.segment(img, source, opts);
      const t = current();
      t.calls++;
      t.mpx += (img.width * img.height) / 1e6;
      t.ms += performance.now() - t0;
      t.normalise += r.timingsMs.normalise;
      t.nets += r.timingsMs.nets;
      t.postprocess += r.timingsMs.postprocess;
      if (source !== undefined) keep.set(source, r.labels);
      return r;
    },
  };
}

interface SlideRun {
  plan: Clock;
  regions: Clock;
  merge: Clock;
  /** plan + regions + merge, wall ms. */
  ms: number;
  tallies: { plan: SegmentTally; regions: SegmentTally };
  /** Each region's labels, by the source name segmentSlideRegions gives segment(). */
  labels: Map<string, LabelImage>;
  summary: SlideSummary;
}

/** Plan, regions and merge of `job`, each timed, with the segment() calls tallied per step. */
async function slideRun(job: SlideJob, seg: Segmenter): Promise<SlideRun> {
  const tallies = { plan: tally(), regions: tally() };
  let phase: keyof typeof tallies = 'plan';
  const labels = new Map<string, LabelImage>();
  const timed = timedSegmenter(seg, () => tallies[phase], labels);
  let ids: readonly string[] = [];
  const plan = await clock(async () => {
    ids = (await planSlide(job, { segmenter: timed })).regions;
  });
  phase = 'regions';
  const regions = await clock(() => segmentSlideRegions(job, ids, timed));
  let summary: SlideSummary | undefined;
  const merge = await clock(async () => {
    summary = await mergeSlide(job);
  });
  return { plan, regions, merge, ms: plan.ms + regions.ms + merge.ms, tallies, labels, summary: summary! };
}

const s = (ms: number) => (ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(1)} s`);
const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(0)} %`;

export async function run(): Promise<BenchRow[]> {
  const ts = await testSlide();
  const seg = await loadSegmenter(SHIPPED_MODEL_DIR);
  const out = mkdtempSync(join(tmpdir(), 'nf-bench-slide-'));
  const job: SlideJob = {
    slide: ts.svs40,
    outDir: out,
    model: await shippedSlideModel(),
  };
  try {
    // The reference's input: each image's box, decoded by the same reader as the pipeline's windows.
    const slide = await openSlide(ts.svs40);
    const images: RgbImage[] = [];
    for (const t of ts.tiles) {
      const data = await slide.readRegion({ x: t.x, y: t.y, level: 0, width: t.width, height: t.height });
      images.push({ width: t.width, height: t.height, data });
    }
    slide.close();
    const imageMpx = images.reduce((a, im) => a + im.width * im.height, 0) / 1e6;
    // Untimed warm-up (TensorFlow's first run), then REPS rounds of the reference loop and the slide, interleaved
    // so that both see the same load on a shared machine; the fastest of each is reported.
    await seg.segment(images[0]!, 'warm-up');
    let ref: Clock = { ms: Number.POSITIVE_INFINITY, cpuMs: Number.POSITIVE_INFINITY };
    let refTally = tally();
    let best: SlideRun | undefined;
    for (let rep = 0; rep < REPS; rep++) {
      const t = tally();
      const refSeg = timedSegmenter(seg, () => t, new Map());
      const c = await clock(async () => {
        for (const [i, im] of images.entries()) await refSeg.segment(im, ts.tiles[i]!.slide);
      });
      if (c.ms < ref.ms) [ref, refTally] = [c, t];
      // force: each round plans afresh and recomputes every region.
      const r = await slideRun({ ...job, force: rep > 0 }, seg);
      if (!best || r.ms < best.ms) best = r;
    }
    const { plan, regions, merge, tallies, labels, summary } = best!;
    const slideMs = best!.ms;
    const slideCpuMs = plan.cpuMs + regions.cpuMs + merge.cpuMs;

    // The split: the phases outside segment() timed again on the same slide and parts.
    const grid = readGrid(partsDirOf(job));
    const again = await openSlide(ts.svs40);
    let identityMs: number;
    let tissueMs: number;
    let readMs: number;
    let replayMs: number;
    let thumbTissueMs: number;
    try {
      identityMs = (await clock(() => slideIdentity(again))).ms;
      tissueMs = (await clock(() => detectTissue(again))).ms;
      readMs = (
        await clock(async () => {
          for (const r of grid.regions) await again.readRegion({ ...r.window, level: 0 });
        })
      ).ms;
      // segmentRegion with each region's recorded labels: read, ownership, records and measures, no nets.
      replayMs = (
        await clock(async () => {
          for (const r of grid.regions) {
            const lab = labels.get(`${job.slide} region ${r.id}`)!;
            await segmentRegion(again, r, async () => lab, { scale: grid.scale, mpp: grid.mpp });
          }
        })
      ).ms;
      thumbTissueMs = (await clock(() => detectTissue(again, { level: grid.tissue.level }))).ms;
    } finally {
      again.close();
    }
    const parts = await PartsStore.open<PartNucleus>(partsDirOf(job), grid.key);
    const partReadMs = (
      await clock(async () => {
        for (const r of grid.regions) parts.read(r.id);
      })
    ).ms;

    const tp = tallies.plan;
    const tr = tallies.regions;
    const planRest = plan.ms - identityMs - tissueMs - tp.ms;
    const recordsMs = replayMs - readMs;
    const partsRest = regions.ms - tr.ms - replayMs;
    const mergeRest = merge.ms - thumbTissueMs - partReadMs;
    const tissueMpx = grid.tissue.areaPx / 1e6;
    const windowMpx = grid.regions.reduce((a, r) => a + r.window.width * r.window.height, 0) / 1e6;
    const coreMpx = grid.regions.reduce((a, r) => a + r.core.width * r.core.height, 0) / 1e6;
    const oursRate = tissueMpx / (slideMs / 1000);
    const refRate = imageMpx / (ref.ms / 1000);
    const overhead = refRate / oursRate - 1;
    const cpuOverhead = imageMpx / ref.cpuMs / (tissueMpx / slideCpuMs) - 1;

    const shares: [string, number][] = [
      ['region nets', tr.nets],
      ['region post-process', tr.postprocess],
      ['region stain normalise', tr.normalise],
      ['region segment() rest', tr.ms - tr.nets - tr.postprocess - tr.normalise],
      ['region reads', readMs],
      ['ownership + records/measures', recordsMs],
      ['part building + writes (rest of regions)', partsRest],
      [`calibration (${tp.calls} patches, both nets)`, tp.ms],
      ['identity', identityMs],
      ['tissue', tissueMs],
      ['stain fit + rest of plan', planRest],
      ['merge', merge.ms],
    ];
    const top = [...shares]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([k, v]) => `${k} ${s(v)} (${pct(v, slideMs)})`)
      .join(', ');

    // Projection: the measured seconds per tissue megapixel (regions over blank gaps and their margins included).
    const bigTissueMpx = (BIG.width * BIG.height * BIG.tissue) / 1e6;
    const secPerTissueMpx = slideMs / 1000 / tissueMpx;
    const projectedMs = bigTissueMpx * secPerTissueMpx * 1000;
    // For comparison: cores all tissue, so only the margins add work: windows/cores of a full grid of default regions.
    const secPerWindowMpx = regions.ms / 1000 / windowMpx;
    const { core: C, margin: M } = SLIDE_REGION_DEFAULTS;
    const fullWindowRatio = ((C + 2 * M) / C) ** 2;
    const lowerMs = bigTissueMpx * fullWindowRatio * secPerWindowMpx * 1000;

    const rss = peakRssMB();
    const n = summary.nuclei;
    return [
      {
        name: 'slide: 40x test slide, plan + regions + merge (6 MoNuSeg images, shipped nets)',
        oursMs: slideMs,
        refName: 'segment() loop over the 6 image boxes',
        refMs: ref.ms,
        peakRssMB: rss,
        note:
          `${tissueMpx.toFixed(2)} tissue Mpx (images ${imageMpx.toFixed(2)} Mpx), ${grid.regions.length} regions, ${windowMpx.toFixed(2)} window Mpx through the nets (cores ${coreMpx.toFixed(2)}), ${n} nuclei; ` +
          `pixels segmented: ${(tr.mpx + tp.mpx).toFixed(2)} Mpx (windows ${tr.mpx.toFixed(2)} + calibration ${tp.mpx.toFixed(2)}), ${((tr.mpx + tp.mpx) / imageMpx).toFixed(2)}x the images'; ` +
          `ours ${oursRate.toFixed(3)} tissue Mpx/s, reference ${refRate.toFixed(3)} Mpx/s (each best of ${REPS}): overhead ${(100 * overhead).toFixed(0)} % wall, ${(100 * cpuOverhead).toFixed(0)} % CPU time (the steadier on a shared machine); goal < 10 %; ` +
          `per Mpx segmented: ours ${(regions.ms / 1000 / windowMpx).toFixed(2)} s per window Mpx (regions step), reference ${(ref.ms / 1000 / imageMpx).toFixed(2)} s (nets ${(refTally.nets / 1000 / imageMpx).toFixed(2)} s against ours ${(tr.nets / 1000 / windowMpx).toFixed(2)} s); ` +
          `largest shares: ${top}`,
      },
      {
        name: 'slide: plan step (identity, tissue, stain fit, calibration)',
        oursMs: plan.ms,
        peakRssMB: rss,
        note: `identity ${s(identityMs)}, tissue ${s(tissueMs)}, calibration ${s(tp.ms)} (${tp.calls} segment() calls), stain fit + patch reads + tissue PNG + files ${s(planRest)} (rest)`,
      },
      {
        name: 'slide: regions step (read, nets, post-process, records/measures, part writes)',
        oursMs: regions.ms,
        peakRssMB: rss,
        note: `${grid.regions.length} regions: reads ${s(readMs)}, normalise ${s(tr.normalise)}, nets ${s(tr.nets)}, post-process ${s(tr.postprocess)}, rest of segment() ${s(tr.ms - tr.nets - tr.postprocess - tr.normalise)}, ownership + records/measures ${s(recordsMs)}, part building + writes ${s(partsRest)} (rest)`,
      },
      {
        name: 'slide: merge step (GeoJSON, CSV, thumbnail, summary)',
        oursMs: merge.ms,
        peakRssMB: rss,
        note: `${n} nuclei: thumbnail tissue level ${s(thumbTissueMs)}, part reads ${s(partReadMs)}, outputs written ${s(mergeRest)} (rest)`,
      },
      {
        name: `slide: projected wall time, ${BIG.width.toLocaleString('en-US')} x ${BIG.height.toLocaleString('en-US')} px at ${100 * BIG.tissue} % tissue`,
        oursMs: projectedMs,
        peakRssMB: rss,
        note:
          `${bigTissueMpx.toFixed(0)} tissue Mpx x ${secPerTissueMpx.toFixed(2)} s per tissue Mpx measured above (slide wall / tissue Mpx, overlap and blank gaps included) = ${(projectedMs / 3.6e6).toFixed(2)} h on ${cpus().length} cores; goal < 1 h; ` +
          `if every core were tissue: ${bigTissueMpx.toFixed(0)} x ${fullWindowRatio.toFixed(3)} (window/core area) x ${secPerWindowMpx.toFixed(2)} s per window Mpx = ${(lowerMs / 3.6e6).toFixed(2)} h`,
      },
    ];
  } finally {
    seg.dispose();
    rmSync(out, { recursive: true, force: true });
  }
}
