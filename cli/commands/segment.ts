import { access, mkdir } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import sharp from 'sharp';
import { REPO_ROOT } from '../../src/config.ts';
import { InputError, UserError } from '../../src/errors.ts';
import { traceContours } from '../../src/imaging/contours.ts';
import { nucleiGeoJson } from '../../src/imaging/geojson.ts';
import { instanceStats, instanceStatsCsv } from '../../src/imaging/instance-stats.ts';
import { readRgb, writeLabelsPng, writeRgbPng } from '../../src/imaging/io.ts';
import { contourOverlay } from '../../src/imaging/overlay.ts';
import type { LabelImage } from '../../src/imaging/types.ts';
import { writeFileAtomic } from '../../src/io/atomic-write.ts';
import { loadSegmenter, MIN_INPUT_SIZE } from '../../src/model/infer.ts';
import { choiceList } from '../options.ts';
import { action } from '../run-action.ts';

/** The model shipped in the repository; `nucleiflow segment` uses it when --model is not given. */
export const DEFAULT_MODEL = join(REPO_ROOT, 'models', 'cpu-60min-c256-s2-epyc');

const FORMATS = ['png', 'tiff', 'geojson'] as const;
type Format = (typeof FORMATS)[number];

interface SegmentFlags {
  out: string;
  model?: string;
  format: Format[];
  overlay?: boolean;
  tta?: boolean;
  iterative?: boolean;
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
      'Segment nuclei in H&E images with the two-stage U-Net: label maps, QuPath GeoJSON, overlay and a per-nucleus CSV',
    )
    .argument('<image...>', `RGB images (TIFF, PNG or JPEG), at least ${MIN_INPUT_SIZE}x${MIN_INPUT_SIZE} px`)
    .requiredOption('--out <dir>', 'output folder (created if missing)')
    .option('--model <dir>', 'model folder (default: the model shipped in models/)')
    .addOption(
      new Option('--format <list>', `comma-separated outputs: ${FORMATS.join(', ')}`)
        .argParser(choiceList(FORMATS))
        .default(['png'], 'png'),
    )
    .option('--overlay', 'also write <name>.overlay.png with nucleus contours')
    .option('--tta', 'average the nets over 8 flips/rotations (8x slower)')
    .option('--iterative', 're-estimate the nucleus size and post-process again')
    .action(
      action(async (images: string[], f: SegmentFlags) => {
        const formats = f.format;
        const modelDir = resolve(f.model ?? DEFAULT_MODEL);
        await access(modelDir).catch(() => {
          throw new UserError(`model ${modelDir}: folder does not exist`);
        });
        const outDir = resolve(f.out);
        await mkdir(outDir, { recursive: true });
        const segmenter = await loadSegmenter(modelDir);
        try {
          for (const file of images) {
            await checkColour(file);
            const rgb = await readRgb(file);
            const t0 = performance.now();
            const r = await segmenter.segment(rgb, file, { tta: f.tta, iterative: f.iterative });
            const stem = basename(file, extname(file));
            const stats = instanceStats(r.labels, rgb);
            if (formats.includes('png')) await writeLabelsPng(join(outDir, `${stem}.labels.png`), r.labels);
            if (formats.includes('tiff')) await writeLabelsTiff(join(outDir, `${stem}.labels.tif`), r.labels);
            if (formats.includes('geojson')) {
              const areas = new Map(stats.map((s) => [s.id, { area: s.area }]));
              await writeFileAtomic(
                join(outDir, `${stem}.geojson`),
                nucleiGeoJson(traceContours(r.labels), areas),
              );
            }
            if (f.overlay)
              await writeRgbPng(join(outDir, `${stem}.overlay.png`), contourOverlay(rgb, r.labels));
            await writeFileAtomic(join(outDir, `${stem}.csv`), instanceStatsCsv(stats));
            const s = ((performance.now() - t0) / 1000).toFixed(2);
            process.stdout.write(`${file}: ${r.count} nuclei in ${s} s -> ${outDir}/${stem}.*\n`);
          }
        } finally {
          segmenter.dispose();
        }
      }),
    );
}
