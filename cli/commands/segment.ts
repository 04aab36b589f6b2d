import { existsSync, statSync } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { basename, extname, isAbsolute, join, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import sharp from 'sharp';
import { loadConfig } from '../../src/config.ts';
import { InputError, UserError } from '../../src/errors.ts';
import { nucleiGeoJson } from '../../src/imaging/geojson.ts';
import { instanceStats, instanceStatsCsv } from '../../src/imaging/instance-stats.ts';
import { readRgb, writeLabelsPng, writeRgbPng } from '../../src/imaging/io.ts';
import { traceOutlines } from '../../src/imaging/outlines.ts';
import { contourOverlay } from '../../src/imaging/overlay.ts';
import type { LabelImage } from '../../src/imaging/types.ts';
import { writeFileAtomic } from '../../src/io/atomic-write.ts';
import { loadSegmenter, MIN_INPUT_SIZE } from '../../src/model/infer.ts';
import { loadModel, SHIPPED_MODEL_DIR } from '../../src/model/model-dir.ts';
import { choiceList } from '../options.ts';
import { action } from '../run-action.ts';

/** The model segment uses, and how its outputs name it. */
interface ChosenModel {
  readonly dir: string;
  /** Registry version, or null for a folder given as a path. */
  readonly registry: { name: string; version: number; runId: string } | null;
}

/** A --model value naming a folder rather than a registry entry. */
const isPath = (ref: string) =>
  ref.includes('/') || ref.includes('\\') || ref.startsWith('.') || isAbsolute(ref) || existsSync(ref);

/**
 * --model as given (a folder, or NAME[@VERSION|@ALIAS] from the registry), else the most recently
 * set `default` alias in the configured store, else the shipped folder. The store is only opened
 * when it exists (DATABASE_URL set, or a PGlite folder under the home) and is not migrated here:
 * a store without the registry tables has no default.
 */
async function chooseModel(ref: string | undefined): Promise<ChosenModel> {
  if (ref !== undefined && isPath(ref)) return { dir: resolve(ref), registry: null };
  const config = loadConfig();
  if (!config.databaseUrl && !existsSync(join(config.home, 'pglite'))) {
    if (ref === undefined) return { dir: SHIPPED_MODEL_DIR, registry: null };
    throw new UserError(
      `--model ${ref}: no such folder, and no tracking store to look it up in (DATABASE_URL unset, no ${join(config.home, 'pglite')})`,
    );
  }
  const { openStorage } = await import('../../src/storage/index.ts');
  const registry = await import('../../src/tracking/registry.ts');
  let storage: Awaited<ReturnType<typeof openStorage>>;
  try {
    storage = await openStorage({
      databaseUrl: config.databaseUrl,
      home: config.home,
      migrate: ref !== undefined,
    });
  } catch (err) {
    if (ref !== undefined || !(err instanceof UserError)) throw err;
    // No --model: an unreachable store must not stop segmentation; the outputs name the model used.
    process.stderr.write(`nucleiflow: ${err.message}; using the shipped model\n`);
    return { dir: SHIPPED_MODEL_DIR, registry: null };
  }
  try {
    let target = ref;
    if (target === undefined) {
      const { latestDefaultAlias } = await import('../../src/tracking/queries.ts');
      const a = await latestDefaultAlias(storage.db).catch((err: unknown) => {
        // 42P01: the store predates the registry tables, so it has no default.
        if ((err as { code?: string; cause?: { code?: string } }).code === '42P01') return undefined;
        if ((err as { cause?: { code?: string } }).cause?.code === '42P01') return undefined;
        throw err;
      });
      if (!a) return { dir: SHIPPED_MODEL_DIR, registry: null };
      target = `${a.name}@${a.version}`;
    }
    const v = await registry.resolveModel(storage.db, target);
    return { dir: v.dir, registry: { name: v.name, version: v.version, runId: v.runId } };
  } finally {
    await storage.close();
  }
}

const FORMATS = ['png', 'tiff', 'geojson'] as const;
type Format = (typeof FORMATS)[number];

interface SegmentFlags {
  out: string;
  model?: string;
  format: Format[];
  overlay?: boolean;
  tta?: boolean;
  iterative?: boolean;
  mpp?: number;
  force?: boolean;
  gzip?: boolean;
  parallel?: number;
}

/**
 * Splits the arguments into images (segmented in one piece) and whole slides (the slide workflow): a folder
 * means its slide files; a file OpenSlide opens as a slide format is a slide, a plain TIFF/PNG/JPEG an image.
 */
async function sortInputs(args: readonly string[]): Promise<{ images: string[]; slides: string[] }> {
  const { openSlide } = await import('../../src/slide/index.ts');
  const { SLIDE_EXTENSIONS, slidesInFolder } = await import('../segment-slides.ts');
  const images: string[] = [];
  const slides: string[] = [];
  for (const a of args) {
    if (existsSync(a) && statSync(a).isDirectory()) {
      slides.push(...slidesInFolder(a));
      continue;
    }
    if (!SLIDE_EXTENSIONS.test(a)) {
      images.push(a);
      continue;
    }
    const slide = await openSlide(a);
    const plain = slide.vendor.startsWith('image/');
    slide.close();
    (plain ? images : slides).push(a);
  }
  return { images, slides };
}

const positive = (what: string) => (v: string) => {
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n))
    throw new InvalidArgumentError(`${what} must be a number > 0, got ${v}`);
  return n;
};

/** 16-bit grayscale TIFF of the label map, written atomically. */
async function writeLabelsTiff(path: string, labels: LabelImage): Promise<void> {
  const u16 = new Uint16Array(labels.data.length);
  for (let i = 0; i < u16.length; i++) {
    const v = labels.data[i]!;
    if (v > 65535) throw new InputError(path, `cannot store id ${v} in a 16-bit TIFF (ids must be 0..65535)`);
    u16[i] = v;
  }
  const buf = await sharp(u16, { raw: { width: labels.width, height: labels.height, channels: 1 } })
    .toColourspace('grey16')
    .tiff({ compression: 'deflate' })
    .toBuffer();
  await writeFileAtomic(path, buf);
}

/** Rejects inputs that are not RGB(A) colour images before decoding them fully. */
async function checkColour(file: string): Promise<void> {
  let channels: number | undefined;
  try {
    channels = (await sharp(file).metadata()).channels;
  } catch {
    return; // readRgb reports unreadable files with a precise message
  }
  if (channels !== undefined && channels < 3) {
    throw new InputError(
      file,
      `not an RGB image (${channels} channel${channels === 1 ? '' : 's'}); segment needs an H&E colour image`,
    );
  }
}

export function register(program: Command): void {
  program
    .command('segment')
    .description(
      'Segment nuclei in H&E images with the two-stage U-Net: label maps, QuPath GeoJSON, overlay and a per-nucleus CSV',
    )
    .argument('<image...>', `RGB images (TIFF, PNG or JPEG), at least ${MIN_INPUT_SIZE}x${MIN_INPUT_SIZE} px`)
    .requiredOption('--out <dir>', 'output folder (created if missing)')
    .option(
      '--model <model>',
      "registry model NAME[@VERSION|@ALIAS] or a model folder (default: the registry's `default` alias when the tracking store has one, else the folder shipped in models/cpu-60min-c256)",
    )
    .addOption(
      new Option('--format <list>', `comma-separated outputs: ${FORMATS.join(', ')}`)
        .argParser(choiceList(FORMATS))
        .default(['png'], 'png'),
    )
    .option('--overlay', 'also write <name>.overlay.png with nucleus contours')
    .option('--tta', 'average the nets over 8 flips/rotations (8x slower)')
    .option('--iterative', 're-estimate the nucleus size and post-process again')
    .option(
      '--mpp <microns>',
      "whole slides: microns per level-0 pixel for slides that record none (a slide's own value wins)",
      positive('--mpp'),
    )
    .option(
      '--force',
      'whole slides: segment again a slide already segmented with this model, discarding recorded regions',
    )
    .option('--gzip', 'whole slides: write <slide>.geojson.gz')
    .option(
      '--parallel <n>',
      'whole slides: region batches in flight across the workers (default 2)',
      positive('--parallel'),
    )
    .action(
      action(async (inputs: string[], f: SegmentFlags) => {
        const formats = f.format;
        const { images, slides } = await sortInputs(inputs);
        const chosen = await chooseModel(f.model);
        const modelDir = chosen.dir;
        await access(modelDir).catch(() => {
          throw new UserError(`model ${modelDir}: folder does not exist`);
        });
        const outDir = resolve(f.out);
        await mkdir(outDir, { recursive: true });
        // Slides are segmented by the workflow's workers; the nets are built here only for images.
        const segmenter = images.length > 0 ? await loadSegmenter(modelDir) : undefined;
        const { sha256 } = (segmenter?.model ?? (await loadModel(modelDir))).manifest;
        // What every output says made it: the registry version, or the folder and its weights' sha256.
        const model = chosen.registry
          ? { name: chosen.registry.name, version: chosen.registry.version, run: chosen.registry.runId }
          : { folder: modelDir, sha256: { seg: sha256.seg, dist: sha256.dist } };
        const modelLine = (
          chosen.registry
            ? `${chosen.registry.name}@${chosen.registry.version} (run ${chosen.registry.runId})`
            : `folder ${modelDir} (seg sha256 ${sha256.seg}, dist sha256 ${sha256.dist})`
        ).replace(/[\r\n]/g, ' ');
        process.stdout.write(`model: ${modelLine}\n`);
        try {
          for (const file of images) {
            await checkColour(file);
            const rgb = await readRgb(file);
            const t0 = performance.now();
            const r = await segmenter!.segment(rgb, file, { tta: f.tta, iterative: f.iterative });
            const stem = basename(file, extname(file));
            const stats = instanceStats(r.labels, rgb);
            if (formats.includes('png')) await writeLabelsPng(join(outDir, `${stem}.labels.png`), r.labels);
            if (formats.includes('tiff')) await writeLabelsTiff(join(outDir, `${stem}.labels.tif`), r.labels);
            if (formats.includes('geojson')) {
              const areas = new Map(stats.map((s) => [s.id, { area: s.area }]));
              await writeFileAtomic(
                join(outDir, `${stem}.geojson`),
                nucleiGeoJson(traceOutlines(r.labels), areas, model, stem),
              );
            }
            if (f.overlay)
              await writeRgbPng(join(outDir, `${stem}.overlay.png`), contourOverlay(rgb, r.labels));
            await writeFileAtomic(
              join(outDir, `${stem}.csv`),
              `# model: ${modelLine}\n${instanceStatsCsv(stats)}`,
            );
            const s = ((performance.now() - t0) / 1000).toFixed(2);
            process.stdout.write(`${file}: ${r.count} nuclei in ${s} s -> ${outDir}/${stem}.*\n`);
          }
        } finally {
          segmenter?.dispose();
        }
        if (slides.length > 0) {
          const { segmentSlides } = await import('../segment-slides.ts');
          const { modelMicronsPerPixel } = await import('../../src/model/model-dir.ts');
          const ok = await segmentSlides(slides, {
            outDir,
            model: {
              id: chosen.registry
                ? `${chosen.registry.name}@${chosen.registry.version}`
                : `folder:${sha256.seg.slice(0, 16)}`,
              dir: modelDir,
              micronsPerPixel: await modelMicronsPerPixel(modelDir),
              meta: model,
            },
            ...(f.mpp !== undefined ? { mpp: f.mpp } : {}),
            ...(f.force ? { force: true } : {}),
            ...(f.gzip ? { gzip: true } : {}),
            ...(f.parallel ? { parallel: Math.round(f.parallel) } : {}),
          });
          if (!ok) process.exitCode = 1;
        }
      }),
    );
}
