import { access, mkdir } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import sharp from 'sharp';
import { InputError, UserError } from '../../src/errors.ts';
import { nucleiGeoJson } from '../../src/imaging/geojson.ts';
import { instanceStats, instanceStatsCsv } from '../../src/imaging/instance-stats.ts';
import { readRgb, writeLabelsPng, writeRgbPng } from '../../src/imaging/io.ts';
import { traceOutlines } from '../../src/imaging/outlines.ts';
import { contourOverlay } from '../../src/imaging/overlay.ts';
import type { LabelImage } from '../../src/imaging/types.ts';
import { writeFileAtomic } from '../../src/io/atomic-write.ts';
import { loadSegmenter, MIN_INPUT_SIZE } from '../../src/model/infer.ts';
import { loadModel } from '../../src/model/model-dir.ts';
import { chooseModel } from '../choose-model.ts';
import { choiceList, positiveInt, positiveNumber } from '../options.ts';
import { action } from '../run-action.ts';
import { sortInputs } from '../segment-inputs.ts';

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
      'Segment nuclei in H&E images and whole slides with the two-stage U-Net: label maps, QuPath GeoJSON, overlay and a per-nucleus CSV (slides: GeoJSON, CSV, summary and thumbnail)',
    )
    .argument(
      '<input...>',
      `H&E images (TIFF, PNG or JPEG, at least ${MIN_INPUT_SIZE}x${MIN_INPUT_SIZE} px, segmented in one piece), whole slides (any format OpenSlide reads: SVS, tiled TIFF, NDPI, MRXS, ...; segmented region by region on the workers) or folders of either`,
    )
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
      positiveNumber,
    )
    .option(
      '--force',
      'whole slides: segment again a slide already segmented with this model, discarding recorded regions',
    )
    .option('--gzip', 'whole slides: write <slide>.geojson.gz')
    .option(
      '--parallel <n>',
      'whole slides: region batches in flight across the workers (default 2)',
      positiveInt,
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
            ...(f.parallel ? { parallel: f.parallel } : {}),
          });
          if (!ok) process.exitCode = 1;
        }
      }),
    );
}
