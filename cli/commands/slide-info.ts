import type { Command } from 'commander';
import { openSlide, type Slide } from '../../src/slide/index.ts';
import { action } from '../run-action.ts';

/** slide-info decodes the smallest level when it has at most this many pixels (4096 x 4096). */
const SMALLEST_LEVEL_CHECK_PIXELS = 4096 * 4096;

interface SlideInfoOptions {
  json?: boolean;
}

/** What `slide-info --json` prints: absent metadata is null. */
export interface SlideInfo {
  path: string;
  vendor: string;
  levels: { width: number; height: number; downsample: number }[];
  mpp: { x: number; y: number } | null;
  objectivePower: number | null;
}

export function slideInfo(s: Slide): SlideInfo {
  return {
    path: s.path,
    vendor: s.vendor,
    levels: s.levels.map((l) => ({ width: l.width, height: l.height, downsample: l.downsample })),
    mpp: s.mpp ? { x: s.mpp.x, y: s.mpp.y } : null,
    objectivePower: s.objectivePower ?? null,
  };
}

function formatText(i: SlideInfo): string {
  const lines = [
    `slide      ${i.path}`,
    `vendor     ${i.vendor}`,
    `mpp        ${i.mpp ? `${i.mpp.x} x ${i.mpp.y} microns per pixel (level 0)` : 'unknown (the file records no pixel size)'}`,
    `objective  ${i.objectivePower === null ? 'unknown' : `${i.objectivePower}x`}`,
    `levels     ${i.levels.length}`,
    ...i.levels.map(
      (l, k) =>
        `  ${String(k).padEnd(3)} ${`${l.width} x ${l.height}`.padEnd(16)} downsample ${Number(l.downsample.toFixed(4))}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

export function register(program: Command): void {
  program
    .command('slide-info')
    .description(
      'Describe a whole-slide image (Aperio SVS, tiled/pyramidal TIFF, NDPI, MIRAX, Philips, Ventana and the other ' +
        'formats OpenSlide reads) or a plain TIFF/PNG/JPEG: vendor, pyramid levels, microns per pixel, objective power',
    )
    .argument('<slide>', 'slide or image file (for MIRAX, the .mrxs file beside its folder)')
    .option(
      '--json',
      'print one JSON object: path, vendor, levels [{width, height, downsample}], mpp {x, y} | null, objectivePower | null',
    )
    .action(
      action(async (path: string, opts: SlideInfoOptions) => {
        const slide = await openSlide(path);
        try {
          // Reading the smallest level whole is cheap and finds damaged tile data there; damage
          // elsewhere shows when those regions are read.
          const last = slide.levels.length - 1;
          const small = slide.levels[last]!;
          if (small.width * small.height <= SMALLEST_LEVEL_CHECK_PIXELS) {
            await slide.readRegion({ x: 0, y: 0, level: last, width: small.width, height: small.height });
          }
          const info = slideInfo(slide);
          process.stdout.write(opts.json ? `${JSON.stringify(info)}\n` : formatText(info));
        } finally {
          slide.close();
        }
      }),
    );
}
