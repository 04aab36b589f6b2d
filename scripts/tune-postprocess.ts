// Chooses a model's post-processing parameters on its own TRAINING images (never the test split) and stores them in model.json.
//
// Why each knob: stage 1 learns eroded targets (touching borders removed, 1 px erosion), so the 0.5
// level set of its probability lies inside the true outline and a lower threshold restores it; the
// predicted distance maps are noisier than ideal ones, so the smoothing (sigma = scale * mean
// radius) and the seed spacing (minDistance = scale * mean radius) that split touching nuclei
// best differ from the values picked on ideal inputs; growing the final instances by a few px
// (expand) is the other way to undo the target erosion, one that keeps the threshold high enough
// not to merge neighbours: a high threshold plus growth acts like an opening that cuts the thin
// necks between touching nuclei.
// The grid (480 settings, ~16 minutes) was fixed on 2026-11-26 before the seed-3 model existed, after
// sigma 0.7 r and seed spacing 0.75 r won the previous grid at the top of their ranges; so it reaches
// to 1.0 r and 1.25 r. Left out, because none was in the top 5 of the 360-setting grid that
// first allowed growth (cpu-60min-nodrop-s2): thresholds under 0.7, sigma 0.4 r and seed spacing
// 0.25 r (models trained with dropout, without growth, preferred those), and a seed threshold
// (peakThreshold 0.3), never in any top 5. The library defaults are scored as one extra row outside the
// selection, so each model records what tuning gained on its training images.
// The nets run once per image; the grid then only repeats the post-processing.
// Usage: node --import tsx scripts/tune-postprocess.ts [--model models/cpu-60min-c256-s2-epyc] [--grid full|coarse] [--dry-run]
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, REPO_ROOT, requireDataDir } from '../src/config.ts';
import { kumarSplit } from '../src/data/manifest.ts';
import { readLabels, readRgb } from '../src/imaging/io.ts';
import type { FloatImage, LabelImage } from '../src/imaging/types.ts';
import { writeFileAtomic } from '../src/io/atomic-write.ts';
import { evaluate } from '../src/metrics/index.ts';
import { loadSegmenter } from '../src/model/infer.ts';
import type { TunedPostprocess } from '../src/model/model-dir.ts';
import { POSTPROCESS_DEFAULTS, postprocess } from '../src/postprocess/pipeline.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/cpu-60min-c256-s2-epyc' },
    'dry-run': { type: 'boolean', default: false },
    grid: { type: 'string', default: 'full' },
  },
});
const GRIDS = {
  full: {
    threshold: [0.97, 0.95, 0.9, 0.85, 0.8, 0.7],
    sigmaScale: [0.55, 0.7, 0.85, 1.0],
    minDistanceScale: [0.5, 0.75, 1.0, 1.25],
    expand: [0, 1, 2, 3, 4],
  },
  // 48 of the full grid's settings around the earlier shipped model cpu-60min-nodrop-s2's top 5 (all threshold
  // 0.9 and expand 2; sigma 0.55-1.0 r, seed spacing 1.0-1.25 r), for a CPU where the full grid
  // takes over half an hour.
  coarse: {
    threshold: [0.95, 0.9, 0.85, 0.8],
    sigmaScale: [0.7, 1.0],
    minDistanceScale: [0.75, 1.25],
    expand: [1, 2, 3],
  },
} as const;
if (args.grid !== 'full' && args.grid !== 'coarse') {
  throw new Error(`--grid must be full or coarse, got '${args.grid}'`);
}
const GRID = GRIDS[args.grid];

const modelDir = resolve(REPO_ROOT, args.model!);
const split = await kumarSplit(requireDataDir(loadConfig()));
const seg = await loadSegmenter(modelDir);
const cached: { gt: LabelImage; foreground: FloatImage; distance: FloatImage }[] = [];
for (const s of split.train) {
  const r = await seg.segment(await readRgb(s.imagePath), s.imagePath);
  cached.push({ gt: await readLabels(s.labelPath!), foreground: r.foreground, distance: r.distance });
  process.stderr.write(`nets: ${s.id}\n`);
}
seg.dispose();

interface Setting {
  readonly threshold: number;
  readonly sigmaScale: number;
  readonly minDistanceScale: number;
  readonly expand: number;
}
interface Row extends Setting {
  readonly aji: number;
}

/** Mean AJI of one setting over the cached training images. */
function score(c: Setting): Row {
  let sum = 0;
  for (const im of cached) {
    const labels = postprocess({
      foreground: im.foreground,
      distance: im.distance,
      threshold: c.threshold,
      sigmaOptions: { scale: c.sigmaScale },
      minDistanceScale: c.minDistanceScale,
      expand: c.expand,
    }).labels;
    sum += evaluate(im.gt, labels).aji;
  }
  return { ...c, aji: sum / cached.length };
}

const combos: Setting[] = GRID.threshold.flatMap((threshold) =>
  GRID.sigmaScale.flatMap((sigmaScale) =>
    GRID.minDistanceScale.flatMap((minDistanceScale) =>
      GRID.expand.map((expand) => ({ threshold, sigmaScale, minDistanceScale, expand })),
    ),
  ),
);
const t0 = Date.now();
const rows: Row[] = [];
for (const [k, c] of combos.entries()) {
  const row = score(c);
  rows.push(row);
  process.stderr.write(
    `[${k + 1}/${combos.length}] ${describe(row)} AJI ${row.aji.toFixed(4)} (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`,
  );
}
rows.sort((a, b) => b.aji - a.aji);
const best = rows[0]!;
const defaults = score(POSTPROCESS_DEFAULTS);
const chosen: TunedPostprocess = {
  threshold: best.threshold,
  sigmaScale: best.sigmaScale,
  minDistanceScale: best.minDistanceScale,
  expand: best.expand,
  chosenOn:
    `${args.grid} grid of ${rows.length} settings, mean AJI on the ${cached.length} Kumar training images ` +
    `(scripts/tune-postprocess.ts): best ${best.aji.toFixed(4)}; library defaults (${describe(defaults)}) ${defaults.aji.toFixed(4)}; ` +
    `top 5: ${rows
      .slice(0, 5)
      .map((r) => `${describe(r)} ${r.aji.toFixed(4)}`)
      .join('; ')}`,
};
if (!args['dry-run']) {
  const file = join(modelDir, 'model.json');
  const manifest = JSON.parse(readFileSync(file, 'utf8'));
  manifest.postprocess = chosen;
  await writeFileAtomic(file, `${JSON.stringify(manifest, null, 2)}\n`);
}
process.stdout.write(`${JSON.stringify({ chosen, defaults, top: rows.slice(0, 10) }, null, 2)}\n`);

function describe(r: Setting): string {
  return `t=${r.threshold} sigma=${r.sigmaScale}r minDist=${r.minDistanceScale}r expand=${r.expand}`;
}
