// Segmenting a whole slide in three steps that a workflow can schedule apart: plan (pixel size,
// identity, tissue, region grid, one stain fit), regions (any subset, in any process, each result
// recorded as a part), merge (all parts, in region order, into the outputs). Every step reads what
// it needs from the parts folder, so the steps pass only small values between them.
//
// Scale: the nets run at the model's training pixel size. A region's core and margin are given in
// model pixels (default a 1600 px window: core 1408 + 2 x 96) and become round(core / scale) and
// ceil(margin / scale) level-0 pixels, scale = slide mpp / model mpp (a 20x slide at 0.5 um/px has
// scale 2: its regions are half as many level-0 pixels and are upsampled 2x before the nets).
import { existsSync, readFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { writeRgbPng } from '../imaging/io.ts';
import type { RgbImage } from '../imaging/types.ts';
import { writeFileAtomic } from '../io/atomic-write.ts';
import type { Segmenter } from '../model/infer.ts';
import {
  fitMacenko,
  LowTissueError,
  type StainModel,
  type StainModelJson,
  stainModelFromJson,
  stainModelToJson,
} from '../stain/macenko.ts';
import { slideIdentity } from './identity.ts';
import { openSlide } from './index.ts';
import { type NucleusRecord, openSlideOutputs } from './outputs.ts';
import { type PartsKey, PartsStore } from './parts.ts';
import { planRegions, type Region } from './regions.ts';
import { resizeRgb } from './resample.ts';
import { segmentRegion } from './segment-region.ts';
import { detectTissue, tissueOverlay, writeTissueOverlayPng } from './tissue.ts';
import type { Slide } from './types.ts';

export interface SlideModel {
  /** What made the outputs, as they name it: `name@version` or `folder:<seg sha256>`. */
  readonly id: string;
  /** The model folder (src/model/model-dir.ts) that segments the regions. */
  readonly dir: string;
  /** The model's training pixel size (its card's trainingScale). */
  readonly micronsPerPixel: number;
  /** Written into the outputs (GeoJSON `model`, CSV header, summary). */
  readonly meta: Readonly<Record<string, unknown>>;
}

export interface SlideJob {
  readonly slide: string;
  readonly outDir: string;
  readonly model: SlideModel;
  /** Microns per level-0 pixel for a slide that does not record one (a slide's own value is always used). */
  readonly mpp?: number;
  /** Start over: discard recorded regions of an earlier run. */
  readonly force?: boolean;
  /** Region core and margin in model pixels. Default 1408 and 96 (SLIDE_REGION_DEFAULTS). */
  readonly core?: number;
  readonly margin?: number;
  readonly gzip?: boolean;
}

/**
 * Measured on the 40x test slide against the same slide in one piece (test/slide-pipeline.test.ts): with a 64 px
 * margin 67 pixels were owned twice (the nets' outputs still differ 64 px from a window edge); with 96 and 128,
 * none (with 896 px cores). 96 bounds the nuclei handled whole at 96 model px (24 um at 0.25 um/px). The core:
 * scripts/measure-window-size.ts gave 1,584 / 1,460 / 1,428 ms per Mpx at 1088 / 1600 / 2112 px windows, peaking
 * at 1.15 / 1.69 / 2.64 GB RSS (2026-12-04, 2-core EPYC), so a 1408 px core (a 1600 px window) costs about 19 %
 * less per core pixel than an 896 px one ((1600/1408)^2 = 1.29 against (1088/896)^2 = 1.47).
 */
export const SLIDE_REGION_DEFAULTS = { core: 1408, margin: 96 } as const;

/** What plan writes beside the parts (grid.json) for the region and merge steps. */
export interface SlideGrid {
  readonly key: PartsKey;
  readonly width: number;
  readonly height: number;
  readonly mpp: number;
  readonly scale: number;
  readonly cols: number;
  readonly rows: number;
  readonly regions: readonly Region[];
  readonly skipped: number;
  readonly tissue: { readonly level: number; readonly downsample: number; readonly areaPx: number };
  /**
   * The watershed's sigma and seed spacing for every region (null: each window derives its own). Fixed per slide
   * so that a nucleus seen by two windows is split the same way in both (see calibrate).
   */
  readonly postprocess: { readonly sigma: number; readonly minDistance: number } | null;
  /** The slide's stain model (null when it has no tissue to fit). */
  readonly stain: StainModelJson | null;
}

export interface PlanOutcome {
  readonly stem: string;
  readonly partsDir: string;
  /** All planned region ids, row-major. */
  readonly regions: readonly string[];
  /** Those already recorded by an earlier run. */
  readonly done: readonly string[];
  readonly tissueAreaMm2: number;
  /** slideIdentity(...).hash */
  readonly identity: string;
  /**
   * True when this slide's outputs are already there from the same slide identity and model (summary.json says
   * so): nothing needs doing unless job.force.
   */
  readonly complete: boolean;
}

/** Output file stem of a slide: its file name without the extension(s) slides carry. */
export function slideStem(path: string): string {
  const base = path.split(/[\\/]/).pop()!;
  return base.replace(/\.(ome\.tiff?|svs|tiff?|ndpi|vms|vmu|mrxs|scn|bif|svslide|png|jpe?g)$/i, '');
}

export const partsDirOf = (job: Pick<SlideJob, 'outDir' | 'slide'>) =>
  join(job.outDir, `${slideStem(job.slide)}.parts`);

/** The slide's own pixel size; `fallback` (--mpp) only for a slide that records none, so one --mpp serves a folder. */
function slideMpp(slide: Slide, fallback: number | undefined): number {
  if (fallback !== undefined && !(fallback > 0 && fallback < 100)) {
    throw new InputError(slide.path, `--mpp must be in (0, 100) microns, got ${fallback}`);
  }
  if (slide.mpp === undefined) {
    if (fallback !== undefined) return fallback;
    throw new InputError(
      slide.path,
      'no pixel size: the file records no microns per pixel; pass --mpp <microns per pixel>',
    );
  }
  return (slide.mpp.x + slide.mpp.y) / 2;
}

/**
 * Level-0 boxes of `side` x `side` px centred on the cores of up to `k` regions spread evenly over the plan
 * (region i k / n for i < k), for the stain fit and the calibration.
 */
function spreadPatches(regions: readonly Region[], k: number, side: number): { x: number; y: number }[] {
  const n = Math.min(k, regions.length);
  return Array.from({ length: n }, (_, i) => {
    const r = regions[Math.floor((i * regions.length) / n)]!.core;
    return {
      x: Math.max(0, Math.round(r.x + r.width / 2 - side / 2)),
      y: Math.max(0, Math.round(r.y + r.height / 2 - side / 2)),
    };
  });
}

const STAIN_SAMPLES = 16;
const STAIN_SAMPLE_SIDE = 512;

/**
 * One stain fit for the whole slide, on level-0 pixels: a 512 x 512 patch at the centre of each of up to 16
 * regions spread evenly over the plan, stacked into one image. A region mostly of stroma would fit its own
 * H and E badly; one fit keeps every region's colours consistent.
 */
async function fitSlideStain(slide: Slide, regions: readonly Region[]): Promise<StainModel | null> {
  const patches = spreadPatches(regions, STAIN_SAMPLES, STAIN_SAMPLE_SIDE);
  if (patches.length === 0) return null;
  const side = STAIN_SAMPLE_SIDE;
  const data = new Uint8Array(side * side * 3 * patches.length);
  for (const [i, { x, y }] of patches.entries()) {
    data.set(await slide.readRegion({ x, y, level: 0, width: side, height: side }), i * side * side * 3);
  }
  const sample: RgbImage = { width: side, height: side * patches.length, data };
  try {
    return fitMacenko(sample);
  } catch (err) {
    if (err instanceof LowTissueError) return null;
    throw err;
  }
}

const CALIBRATION_SAMPLES = 8;
const CALIBRATION_SIDE = 512;

/**
 * The slide's watershed sigma and seed spacing: the medians of what the segmenter derives (from the mean stage-1
 * nucleus size, as for one image) on 512 x 512 model-pixel patches at the centres of up to 8 regions spread over
 * the plan. Each window deriving its own would split a nucleus on a core boundary differently in its two windows,
 * and both halves could then be owned. Cost: 8 patches through both nets.
 */
async function calibrate(
  slide: Slide,
  regions: readonly Region[],
  scale: number,
  segmenter: Pick<Segmenter, 'segment'>,
  sourceStain: StainModel | null,
): Promise<{ sigma: number; minDistance: number } | null> {
  const side0 = Math.max(1, Math.round(CALIBRATION_SIDE / scale));
  const sigmas: number[] = [];
  const spacings: number[] = [];
  for (const [i, { x, y }] of spreadPatches(regions, CALIBRATION_SAMPLES, side0).entries()) {
    const data = await slide.readRegion({ x, y, level: 0, width: side0, height: side0 });
    const level0: RgbImage = { width: side0, height: side0, data };
    const rgb =
      side0 === CALIBRATION_SIDE ? level0 : await resizeRgb(level0, CALIBRATION_SIDE, CALIBRATION_SIDE);
    const res = await segmenter.segment(
      rgb,
      `${slide.path} calibration patch ${i}`,
      sourceStain ? { sourceStain } : {},
    );
    if (res.count === 0) continue;
    sigmas.push(res.sigma);
    spacings.push(res.minDistance);
  }
  if (sigmas.length === 0) return null;
  return { sigma: median(sigmas), minDistance: Math.round(median(spacings)) };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Step 1. Opens the slide, checks its pixel size, hashes its identity, detects tissue, plans the regions, fits
 * the stain, calibrates the watershed with `opts.segmenter` (when given) and records it all in the parts folder
 * (refusing a folder made for another slide identity, model or grid unless job.force). A folder whose plan is
 * complete is reused as it is. Writes `<stem>.tissue.png`. O(tissue level + 16 + 8 patches).
 */
export async function planSlide(
  job: SlideJob,
  opts: { segmenter?: Pick<Segmenter, 'segment'> } = {},
): Promise<PlanOutcome> {
  const slide = await openSlide(job.slide);
  try {
    const mpp = slideMpp(slide, job.mpp);
    const scale = mpp / job.model.micronsPerPixel;
    const core = Math.max(16, Math.round((job.core ?? SLIDE_REGION_DEFAULTS.core) / scale));
    const margin = Math.ceil((job.margin ?? SLIDE_REGION_DEFAULTS.margin) / scale);
    const identity = await slideIdentity(slide);
    const key: PartsKey = {
      slide: job.slide,
      identity: identity.hash,
      model: job.model.id,
      core,
      margin,
      scale,
    };
    const partsDir = partsDirOf(job);
    const parts = await PartsStore.open(partsDir, key, { restart: job.force });
    const stem = slideStem(job.slide);
    // A resumed slide keeps the grid, stain and calibration its recorded regions were made with.
    if (existsSync(join(partsDir, 'grid.json'))) {
      return outcome(stem, partsDir, readGrid(partsDir), parts.done(), summaryMatches(job, key));
    }
    const tissue = await detectTissue(slide);
    const { width, height } = slide.levels[0]!;
    const plan = planRegions(
      { width, height },
      { core, margin, tissue, slideMpp: mpp, modelMpp: job.model.micronsPerPixel },
    );
    const stain = await fitSlideStain(slide, plan.regions);
    const postprocess = opts.segmenter
      ? await calibrate(slide, plan.regions, scale, opts.segmenter, stain)
      : null;
    const grid: SlideGrid = {
      key,
      width,
      height,
      mpp,
      scale,
      cols: plan.cols,
      rows: plan.rows,
      regions: plan.regions,
      skipped: plan.skipped,
      tissue: { level: tissue.level, downsample: tissue.downsample, areaPx: tissue.tissueArea },
      postprocess,
      stain: stain ? stainModelToJson(stain) : null,
    };
    await writeTissueOverlayPng(join(job.outDir, `${stem}.tissue.png`), tissue);
    // grid.json last: its presence says the plan is complete.
    await writeFileAtomic(join(partsDir, 'grid.json'), `${JSON.stringify(grid)}\n`);
    return outcome(stem, partsDir, grid, parts.done(), false);
  } finally {
    slide.close();
  }
}

/** True when the slide's summary.json was written for this identity and model. */
function summaryMatches(job: SlideJob, key: PartsKey): boolean {
  try {
    const s = JSON.parse(readFileSync(slideOutputPaths(job).summary, 'utf8')) as Partial<SlideSummary>;
    return s.identity === key.identity && s.modelId === key.model;
  } catch {
    return false;
  }
}

function outcome(
  stem: string,
  partsDir: string,
  grid: SlideGrid,
  done: ReadonlySet<string>,
  complete: boolean,
): PlanOutcome {
  return {
    complete,
    identity: grid.key.identity,
    stem,
    partsDir,
    regions: grid.regions.map((r) => r.id),
    done: grid.regions.filter((r) => done.has(r.id)).map((r) => r.id),
    tissueAreaMm2: tissueAreaMm2Of(grid),
  };
}

const tissueAreaMm2Of = (grid: SlideGrid) => (grid.tissue.areaPx * grid.mpp * grid.mpp) / 1e6;

export function readGrid(partsDir: string): SlideGrid {
  const file = join(partsDir, 'grid.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as SlideGrid;
  } catch (err) {
    throw new InputError(
      file,
      `cannot read the slide's plan (run the plan step first): ${(err as Error).message}`,
    );
  }
}

export function stainOf(grid: SlideGrid): StainModel | undefined {
  return grid.stain ? stainModelFromJson(grid.stain) : undefined;
}

/** A nucleus as a part records it: its output record plus its pixels (stitch.ts runs, as a plain array). */
export interface PartNucleus extends NucleusRecord {
  readonly box: Region['core'];
  readonly runs: readonly number[];
}

export interface RegionsOutcome {
  /** Regions segmented by this call. */
  readonly computed: number;
  /** Regions whose part was already recorded, left as they were. */
  readonly skipped: number;
  /** Nuclei owned by the computed regions. */
  readonly nuclei: number;
}

export interface RegionProgress {
  readonly region: string;
  readonly nuclei: number;
  readonly computed: boolean;
}

const ceil16 = (v: number) => Math.ceil(v / 16) * 16;

/** In the parts folder: `<region> <host> <pid> <time>` per region computation started. */
export const EXECUTIONS_LOG = 'executions.log';

/** The executions log: per region, the `host:pid` of each computation started, in order. */
export function regionExecutionLog(partsDir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let text = '';
  try {
    text = readFileSync(join(partsDir, EXECUTIONS_LOG), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  for (const line of text.split('\n')) {
    const [id, host, pid] = line.split(' ');
    if (!id || !host || !pid) continue;
    const list = out.get(id) ?? [];
    list.push(`${host}:${pid}`);
    out.set(id, list);
  }
  return out;
}

/** How many times each region's computation was started, from the parts folder's executions log. */
export function regionExecutions(partsDir: string): Map<string, number> {
  return new Map([...regionExecutionLog(partsDir)].map(([id, l]) => [id, l.length]));
}

/**
 * Step 2. Segments the regions `ids` of a planned slide and records each as a part; a region already recorded is
 * skipped, so a restart never recomputes it. The nets see each window whole (one tile), with the slide's stain fit.
 * Cost per region: one window read, both nets and post-processing on about (core + 2 margin)^2 model pixels.
 */
export async function segmentSlideRegions(
  job: Pick<SlideJob, 'slide' | 'outDir'>,
  ids: readonly string[],
  segmenter: Pick<Segmenter, 'segment'>,
  opts: { signal?: AbortSignal; onRegion?: (p: RegionProgress) => void | Promise<void> } = {},
): Promise<RegionsOutcome> {
  const partsDir = partsDirOf(job);
  const grid = readGrid(partsDir);
  const parts = await PartsStore.open<PartNucleus>(partsDir, grid.key);
  const byId = new Map(grid.regions.map((r) => [r.id, r]));
  const sourceStain = stainOf(grid);
  const done = parts.done();
  let computed = 0;
  let skipped = 0;
  let nuclei = 0;
  const slide = await openSlide(job.slide);
  try {
    for (const id of ids) {
      opts.signal?.throwIfAborted();
      const region = byId.get(id);
      if (!region) throw new RangeError(`segmentSlideRegions: ${job.slide} has no planned region ${id}`);
      if (done.has(id)) {
        skipped++;
        await opts.onRegion?.({ region: id, nuclei: 0, computed: false });
        continue;
      }
      const t0 = performance.now();
      // One line per region computation, appended before it starts: how often each region ran, across restarts.
      await appendFile(
        join(partsDir, EXECUTIONS_LOG),
        `${id} ${hostname()} ${process.pid} ${new Date().toISOString()}\n`,
      );
      const res = await segmentRegion(
        slide,
        region,
        async (rgb) =>
          (
            await segmenter.segment(rgb, `${job.slide} region ${id}`, {
              tile: Math.max(256, ceil16(Math.max(rgb.width, rgb.height))),
              ...(sourceStain ? { sourceStain } : {}),
              ...(grid.postprocess ? { postprocess: grid.postprocess } : {}),
            })
          ).labels,
        { scale: grid.scale, mpp: grid.mpp },
      );
      await parts.write({
        region: id,
        nuclei: res.records.map((rec, k) => {
          const inst = res.ownership.owned[k]!;
          return { ...rec, box: inst.box, runs: Array.from(inst.runs) };
        }),
        cut: res.ownership.cut,
        notOwned: res.ownership.notOwned,
        ms: Math.round(performance.now() - t0),
      });
      computed++;
      nuclei += res.records.length;
      await opts.onRegion?.({ region: id, nuclei: res.records.length, computed: true });
    }
  } finally {
    slide.close();
  }
  return { computed, skipped, nuclei };
}

/** What mergeSlide writes as `<stem>.summary.json`. */
export interface SlideSummary {
  readonly slide: string;
  readonly identity: string;
  /** SlideModel.id of the model that made it. */
  readonly modelId: string;
  readonly model: Readonly<Record<string, unknown>>;
  readonly width: number;
  readonly height: number;
  readonly mpp: number;
  readonly scale: number;
  readonly nuclei: number;
  /** Nuclei flagged cut (touching a window side inside the slide: larger than the margin). */
  readonly cut: number;
  readonly tissueAreaMm2: number;
  readonly nucleiPerMm2: number | null;
  readonly regions: {
    readonly core: number;
    readonly margin: number;
    readonly cols: number;
    readonly rows: number;
    readonly segmented: number;
    readonly withoutTissue: number;
    /** Per segmented region: id, core box (level 0), nuclei owned, milliseconds. */
    readonly grid: readonly {
      readonly id: string;
      readonly core: readonly [number, number, number, number];
      readonly nuclei: number;
      readonly ms: number;
    }[];
  };
  readonly timings: { readonly regionsMs: number; readonly mergeMs: number };
  /**
   * Region computations started (more than the regions when a worker died mid-region), and per process
   * (`host:pid`) how many regions' recorded results it computed.
   */
  readonly executions: { readonly total: number; readonly byProcess: Readonly<Record<string, number>> };
  readonly files: {
    readonly geojson: string;
    readonly csv: string;
    readonly summary: string;
    readonly thumbnail: string;
  };
}

export function slideOutputPaths(job: Pick<SlideJob, 'outDir' | 'slide' | 'gzip'>) {
  const stem = slideStem(job.slide);
  return {
    geojson: join(job.outDir, `${stem}.geojson${job.gzip ? '.gz' : ''}`),
    csv: join(job.outDir, `${stem}.nuclei.csv`),
    summary: join(job.outDir, `${stem}.summary.json`),
    thumbnail: join(job.outDir, `${stem}.thumbnail.png`),
  };
}

function executionsOf(partsDir: string): SlideSummary['executions'] {
  const byProcess: Record<string, number> = {};
  let total = 0;
  for (const list of regionExecutionLog(partsDir).values()) {
    total += list.length;
    const last = list[list.length - 1]!;
    byProcess[last] = (byProcess[last] ?? 0) + 1;
  }
  return { total, byProcess };
}

/** Marks level-0 point (x, y) on a thumbnail of `downsample` level-0 px per pixel. */
function dot(
  img: RgbImage,
  x: number,
  y: number,
  downsample: number,
  colour: readonly [number, number, number],
): void {
  const i = Math.min(img.width - 1, Math.floor(x / downsample));
  const j = Math.min(img.height - 1, Math.floor(y / downsample));
  img.data.set(colour, 3 * (j * img.width + i));
}

/**
 * Step 3. Streams every region's nuclei, in row-major region order, into the GeoJSON and CSV, then writes the
 * summary and a thumbnail (the tissue level, tissue tinted, each nucleus a dot at its centroid). Throws when a
 * planned region has no part yet. Memory: one region's part at a time plus the thumbnail.
 */
export async function mergeSlide(job: SlideJob): Promise<SlideSummary> {
  const t0 = performance.now();
  const partsDir = partsDirOf(job);
  const grid = readGrid(partsDir);
  const parts = await PartsStore.open<PartNucleus>(partsDir, grid.key);
  const done = parts.done();
  const missing = grid.regions.filter((r) => !done.has(r.id));
  if (missing.length > 0) {
    throw new Error(
      `mergeSlide: ${job.slide}: ${missing.length} of ${grid.regions.length} regions have no result yet (first: ${missing[0]!.id})`,
    );
  }
  const files = slideOutputPaths(job);
  const slide = await openSlide(job.slide);
  let thumb: RgbImage;
  try {
    const tissue = await detectTissue(slide, { level: grid.tissue.level });
    thumb = tissueOverlay(tissue.rgb, tissue.mask);
  } finally {
    slide.close();
  }
  const out = await openSlideOutputs(
    { geojson: files.geojson, csv: files.csv },
    { model: job.model.meta, slide: job.slide, mpp: grid.mpp },
    { gzip: job.gzip },
  );
  let cut = 0;
  let regionsMs = 0;
  const rows: SlideSummary['regions']['grid'][number][] = [];
  try {
    for (const r of grid.regions) {
      const part = parts.read(r.id);
      for (const rec of part.nuclei) {
        await out.add(rec);
        if (rec.cut) cut++;
        dot(thumb, rec.measures.centroidXPx, rec.measures.centroidYPx, grid.tissue.downsample, [200, 0, 0]);
      }
      regionsMs += part.ms;
      rows.push({
        id: r.id,
        core: [r.core.x, r.core.y, r.core.width, r.core.height],
        nuclei: part.nuclei.length,
        ms: part.ms,
      });
    }
  } catch (err) {
    await out.abort();
    throw err;
  }
  const { nuclei } = await out.close();
  await writeRgbPng(files.thumbnail, thumb);
  const tissueAreaMm2 = tissueAreaMm2Of(grid);
  const summary: SlideSummary = {
    slide: job.slide,
    identity: grid.key.identity,
    modelId: grid.key.model,
    model: job.model.meta,
    width: grid.width,
    height: grid.height,
    mpp: grid.mpp,
    scale: grid.scale,
    nuclei,
    cut,
    tissueAreaMm2,
    nucleiPerMm2: tissueAreaMm2 > 0 ? nuclei / tissueAreaMm2 : null,
    regions: {
      core: grid.key.core,
      margin: grid.key.margin,
      cols: grid.cols,
      rows: grid.rows,
      segmented: grid.regions.length,
      withoutTissue: grid.skipped,
      grid: rows,
    },
    timings: { regionsMs, mergeMs: Math.round(performance.now() - t0) },
    executions: executionsOf(partsDir),
    files,
  };
  await writeFileAtomic(files.summary, `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}
