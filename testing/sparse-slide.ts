// Large, mostly blank Aperio-style test slides for memory tests: a white canvas of `size` x `size` level-0 px at
// 40x (MPP 0.2527, levels 1, 4, 16, JPEG tiles of 256) with a few 512 x 512 MoNuSeg crops placed at fixed
// level-0 positions, the same whatever the size, so slides of different area hold the same tissue. Written
// tile by tile by tools/python/make_sparse_slide.py and cached under <cache>/test-slides/sparse-<key>.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureToolsVenv, loadConfig, REPO_ROOT, requireDataDir } from '../src/config.ts';
import { readRgb } from '../src/imaging/io.ts';
import { SLIDE_REGION_DEFAULTS } from '../src/slide/pipeline.ts';
import { TEST_SLIDE_MPP_40X } from './test-slide.ts';

const run = promisify(execFile);
const SCRIPT = join(REPO_ROOT, 'tools', 'python', 'make_sparse_slide.py');
const CODE = [
  SCRIPT,
  join(REPO_ROOT, 'tools', 'python', 'make_test_slide.py'),
  join(REPO_ROOT, 'testing', 'sparse-slide.ts'),
];

export const SPARSE_PIECE = 512;
/**
 * Where the crops go: C k + 192 with C the default core (SLIDE_REGION_DEFAULTS: 1408 px, scale 1 at the shipped
 * model's 0.2527 um/px), so each crop lies inside one core and the tissue covers 4 regions. Multiples of 64:
 * aligned to every level.
 */
const C = SLIDE_REGION_DEFAULTS.core;
export const SPARSE_PIECES = [
  { slide: 'TCGA-21-5784-01Z-00-DX1', x: C * 2 + 192, y: C * 2 + 192 },
  { slide: 'TCGA-B0-5698-01Z-00-DX1', x: C * 11 + 192, y: C * 2 + 192 },
  { slide: 'TCGA-DK-A2I6-01A-01-TS1', x: C * 2 + 192, y: C * 11 + 192 },
  { slide: 'TCGA-KB-A93J-01A-01-TS1', x: C * 11 + 192, y: C * 11 + 192 },
] as const;

/** The slide file for a `size` x `size` canvas (a multiple of 4096), building it on first use. */
export async function sparseSlide(size: number): Promise<string> {
  if (!(Number.isInteger(size) && size % 4096 === 0 && size >= 16384))
    throw new RangeError(`sparseSlide: size must be a multiple of 4096, >= 16384, got ${size}`);
  const h = createHash('sha256').update(JSON.stringify({ size, SPARSE_PIECES, SPARSE_PIECE }));
  for (const f of CODE) h.update(readFileSync(f));
  const dir = join(loadConfig().cacheDir, 'test-slides', `sparse-${h.digest('hex').slice(0, 16)}`);
  const file = join(dir, `sparse-${size}.svs`);
  if (existsSync(file)) return file;
  const data = requireDataDir(loadConfig());
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true });
  try {
    const args = ['--width', String(size), '--height', String(size), '--mpp', String(TEST_SLIDE_MPP_40X)];
    for (const [k, p] of SPARSE_PIECES.entries()) {
      const img = await readRgb(join(data, 'images', `${p.slide}.tif`));
      const crop = new Uint8Array(SPARSE_PIECE * SPARSE_PIECE * 3);
      for (let y = 0; y < SPARSE_PIECE; y++)
        crop.set(
          img.data.subarray(y * img.width * 3, (y * img.width + SPARSE_PIECE) * 3),
          y * SPARSE_PIECE * 3,
        );
      const raw = join(tmp, `piece-${k}.rgb`);
      writeFileSync(raw, crop);
      args.push('--piece', `${raw},${p.x},${p.y},${SPARSE_PIECE},${SPARSE_PIECE}`);
    }
    await run(
      join(ensureToolsVenv(), 'bin', 'python'),
      [SCRIPT, ...args, '--out', join(tmp, `sparse-${size}.svs`)],
      {
        maxBuffer: 1 << 24,
      },
    );
    for (const f of [0, 1, 2, 3]) rmSync(join(tmp, `piece-${f}.rgb`));
    try {
      renameSync(tmp, dir);
    } catch (err) {
      if (!existsSync(file)) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return file;
}
