// Builds whole-slide test images from MoNuSeg, since none can be downloaded here: a mosaic of
// MoNuSeg images, each stain-normalised to one reference with the repo's Macenko code, laid on a
// white canvas with blank gaps between them, written by tools/python/make_test_slide.py as an
// Aperio-style JPEG-compressed tiled (256) pyramidal TIFF at 40x (MPP 0.2527) and a 2x-downsampled
// 20x twin (MPP 0.5054), and the same pyramid as a generic tiled TIFF with no pixel size; the ground truth is the mosaic of the instance labels, ids kept unique
// across tiles. Slides are cached under <cache>/test-slides/<key>, the key hashing the options and
// the code that makes them, so tests do not rebuild them. Coordinates are level-0 pixels of the 40x slide.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureToolsVenv, loadConfig, REPO_ROOT, requireDataDir } from '../src/config.ts';
import { readLabels, readRgb, writeLabelsPng } from '../src/imaging/io.ts';
import type { LabelImage, RgbImage } from '../src/imaging/types.ts';
import { modelMicronsPerPixel, SHIPPED_MODEL_DIR } from '../src/model/model-dir.ts';
import type { SlideModel } from '../src/slide/pipeline.ts';
import { fitMacenko, normalizeMacenko } from '../src/stain/macenko.ts';

const run = promisify(execFile);

export interface TestSlideOptions {
  /** MoNuSeg slides, row by row; their count must be cols * rows. */
  readonly slides?: readonly string[];
  readonly cols?: number;
  readonly rows?: number;
  /** Use only the top-left crop x crop pixels of each image (1000 = all of it). */
  readonly crop?: number;
  /** Blank pixels between images and around them (the canvas is then padded to a multiple of 64). */
  readonly gap?: number;
  /** The Macenko target every image is normalised to. */
  readonly reference?: string;
}

export interface MosaicTile {
  readonly slide: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  /** Added to the tile's own label ids in the mosaic's labels. */
  readonly idOffset: number;
}

export interface TestSlide {
  readonly dir: string;
  /** The 40x slide: levels 1, 4, 16; AppMag 40, MPP 0.2527. */
  readonly svs40: string;
  /** The 20x slide: the mosaic box-averaged 2x2, levels 1, 4, 16 of that; AppMag 20, MPP 0.5054. */
  readonly svs20: string;
  /** The 40x pyramid without Aperio description or resolution: OpenSlide's 'generic-tiff', no pixel size. */
  readonly genericTiff: string;
  /** The mosaic's instance labels, a 16-bit PNG at the 40x slide's level 0. */
  readonly labelsPng: string;
  readonly width: number;
  readonly height: number;
  readonly tiles: readonly MosaicTile[];
  /** The stain-normalised source mosaic the slides were encoded from (before JPEG), 40x level 0. */
  mosaic(): RgbImage;
  labels(): Promise<LabelImage>;
}

/** Three organs above, three below (liver, kidney, prostate; bladder, colon, stomach). */
const DEFAULT_SLIDES = [
  'TCGA-21-5784-01Z-00-DX1',
  'TCGA-B0-5698-01Z-00-DX1',
  'TCGA-G9-6362-01Z-00-DX1',
  'TCGA-DK-A2I6-01A-01-TS1',
  'TCGA-AY-A8YK-01A-01-TS1',
  'TCGA-KB-A93J-01A-01-TS1',
];

export const TEST_SLIDE_MPP_40X = 0.2527;
export const TEST_SLIDE_LEVELS = [1, 4, 16] as const;
const PAD = 64;
const SCRIPT = join(REPO_ROOT, 'tools', 'python', 'make_test_slide.py');
/** Files whose change must rebuild the slides. */
const CODE = [
  SCRIPT,
  join(REPO_ROOT, 'testing', 'test-slide.ts'),
  join(REPO_ROOT, 'src', 'stain', 'macenko.ts'),
  join(REPO_ROOT, 'src', 'stain', 'macenko-render.ts'),
];

function toolsPython(): string {
  return join(ensureToolsVenv(), 'bin', 'python');
}

interface Layout {
  width: number;
  height: number;
  tiles: MosaicTile[];
}

async function build(dir: string, o: Required<TestSlideOptions>): Promise<void> {
  const data = requireDataDir(loadConfig());
  const { cols, rows, crop, gap } = o;
  const width = Math.ceil((cols * crop + (cols + 1) * gap) / PAD) * PAD;
  const height = Math.ceil((rows * crop + (rows + 1) * gap) / PAD) * PAD;
  const target = fitMacenko(await readRgb(join(data, 'images', `${o.reference}.tif`)));
  const rgb = new Uint8Array(width * height * 3).fill(255);
  const ids = new Int32Array(width * height);
  const tiles: MosaicTile[] = [];
  let idOffset = 0;
  for (let t = 0; t < o.slides.length; t++) {
    const slide = o.slides[t]!;
    const [img, lab] = await Promise.all([
      readRgb(join(data, 'images', `${slide}.tif`)),
      readLabels(join(data, 'labels', `${slide}.png`)),
    ]);
    const norm = normalizeMacenko(img, target);
    const x0 = gap + (t % cols) * (crop + gap);
    const y0 = gap + Math.floor(t / cols) * (crop + gap);
    let maxId = 0;
    for (let y = 0; y < crop; y++) {
      rgb.set(norm.data.subarray(y * img.width * 3, (y * img.width + crop) * 3), ((y0 + y) * width + x0) * 3);
      for (let x = 0; x < crop; x++) {
        const v = lab.data[y * lab.width + x]!;
        if (v > 0) {
          ids[(y0 + y) * width + x0 + x] = v + idOffset;
          if (v > maxId) maxId = v;
        }
      }
    }
    tiles.push({ slide, x: x0, y: y0, width: crop, height: crop, idOffset });
    idOffset += maxId;
  }
  // A crop may leave gaps in the ids; they stay unique across tiles, which is what matters.
  writeFileSync(join(dir, 'mosaic.rgb'), rgb);
  await writeLabelsPng(join(dir, 'labels.png'), { width, height, data: ids });
  const python = toolsPython();
  const common = ['--raw', join(dir, 'mosaic.rgb'), '--width', String(width), '--height', String(height)];
  const levels = TEST_SLIDE_LEVELS.join(',');
  await run(python, [
    SCRIPT,
    ...common,
    '--out',
    join(dir, 'slide-40x.svs'),
    '--levels',
    levels,
    '--mag',
    '40',
    '--mpp',
    String(TEST_SLIDE_MPP_40X),
  ]);
  await run(python, [
    SCRIPT,
    ...common,
    '--out',
    join(dir, 'slide-20x.svs'),
    '--base-downsample',
    '2',
    '--levels',
    levels,
    '--mag',
    '20',
    '--mpp',
    String(2 * TEST_SLIDE_MPP_40X),
  ]);
  await run(python, [
    SCRIPT,
    ...common,
    '--out',
    join(dir, 'slide-generic.tif'),
    '--levels',
    levels,
    '--generic',
  ]);
  writeFileSync(join(dir, 'layout.json'), `${JSON.stringify({ width, height, tiles } satisfies Layout)}\n`);
}

/**
 * Returns the test slides for these options, building them on first use (a few seconds) and
 * reusing the cached files afterwards. Safe to call from parallel test files: each builds in its
 * own temporary folder and the first rename wins.
 */
export async function testSlide(opts: TestSlideOptions = {}): Promise<TestSlide> {
  const o: Required<TestSlideOptions> = {
    slides: opts.slides ?? DEFAULT_SLIDES,
    cols: opts.cols ?? 3,
    rows: opts.rows ?? 2,
    crop: opts.crop ?? 1000,
    gap: opts.gap ?? 200,
    reference: opts.reference ?? 'TCGA-A7-A13F-01Z-00-DX1',
  };
  if (o.slides.length !== o.cols * o.rows) {
    throw new RangeError(`testSlide: ${o.slides.length} slides for a ${o.cols}x${o.rows} mosaic`);
  }
  const h = createHash('sha256').update(JSON.stringify(o));
  for (const f of CODE) h.update(readFileSync(f));
  const root = join(loadConfig().cacheDir, 'test-slides');
  const dir = join(root, h.digest('hex').slice(0, 16));
  if (!existsSync(join(dir, 'layout.json'))) {
    const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
    mkdirSync(tmp, { recursive: true });
    try {
      await build(tmp, o);
      try {
        renameSync(tmp, dir);
      } catch (err) {
        // A parallel build got there first (the folder is only ever renamed in complete).
        if (!existsSync(join(dir, 'layout.json'))) throw err;
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const layout = JSON.parse(readFileSync(join(dir, 'layout.json'), 'utf8')) as Layout;
  return {
    dir,
    svs40: join(dir, 'slide-40x.svs'),
    svs20: join(dir, 'slide-20x.svs'),
    genericTiff: join(dir, 'slide-generic.tif'),
    labelsPng: join(dir, 'labels.png'),
    width: layout.width,
    height: layout.height,
    tiles: layout.tiles,
    mosaic: () => ({
      width: layout.width,
      height: layout.height,
      data: new Uint8Array(readFileSync(join(dir, 'mosaic.rgb'))),
    }),
    labels: () => readLabels(join(dir, 'labels.png')),
  };
}

/** A small slide with no margins, so tissue touches every edge (shared by the slide tests). */
export const EDGE_SLIDE: TestSlideOptions = {
  slides: ['TCGA-21-5784-01Z-00-DX1', 'TCGA-AY-A8YK-01A-01-TS1'],
  cols: 2,
  rows: 1,
  crop: 512,
  gap: 0,
};

/** The shipped model folder as the slide pipeline names it in tests and benchmarks. */
export async function shippedSlideModel(): Promise<SlideModel> {
  return {
    id: 'shipped',
    dir: SHIPPED_MODEL_DIR,
    micronsPerPixel: await modelMicronsPerPixel(SHIPPED_MODEL_DIR),
    meta: { folder: 'shipped' },
  };
}
