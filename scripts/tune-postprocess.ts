// Chooses a model's post-processing parameters on its own TRAINING images (never the test split) and stores them in model.json.
//
// Why each knob: stage 1 learns eroded targets (touching borders removed, 1 px erosion), so the 0.5
// level set of its probability lies inside the true outline and a lower threshold restores it; the
// predicted distance maps are noisier than ideal ones, so the smoothing (sigma = scale * mean
// radius) and the seed spacing (minDistance = scale * mean radius) that split touching nuclei
// best differ from the values picked on ideal inputs; growing the final instances by a few px
// (expand) is the other way to undo the target erosion, one that keeps the threshold high enough
// not to merge neighbours: a high threshold plus growth acts like an opening that cuts the thin
// necks between touching nuclei. Left out to keep the run near 12 minutes, because they were never
// among the best in the earlier grids (three models, up to 432 settings): a seed threshold
// (peakThreshold 0.3), sigma 0.25 r and thresholds under 0.5.
// The nets run once per image; the grid then only repeats the post-processing.
// Usage: node --import tsx scripts/tune-postprocess.ts [--model models/cpu-60min-nodrop-s2] [--dry-run]
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
    model: { type: 'string', default: 'models/cpu-60min-nodrop-s2' },
    'dry-run': { type: 'boolean', default: false },
  },
});
const GRID = {
  threshold: [0.97, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5],
  sigmaScale: [0.4, 0.55, 0.7],
  minDistanceScale: [0.25, 0.5, 0.75],
  peakThreshold: [undefined] as (number | undefined)[],
  expand: [0, 1, 2, 3, 4],
};

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

interface Row extends TunedPostprocess {
  aji: number;
}
const rows: Row[] = [];
const combos = GRID.threshold.flatMap((threshold) =>
  GRID.sigmaScale.flatMap((sigmaScale) =>
    GRID.minDistanceScale.flatMap((minDistanceScale) =>
      GRID.peakThreshold.flatMap((peakThreshold) =>
        GRID.expand.map((expand) => ({ threshold, sigmaScale, minDistanceScale, peakThreshold, expand })),
      ),
    ),
  ),
);
const t0 = Date.now();
for (const [k, c] of combos.entries()) {
  let sum = 0;
  for (const im of cached) {
    const labels = postprocess({
      foreground: im.foreground,
      distance: im.distance,
      threshold: c.threshold,
      sigmaOptions: { scale: c.sigmaScale },
      minDistanceScale: c.minDistanceScale,
      expand: c.expand,
      ...(c.peakThreshold === undefined ? {} : { peakThreshold: c.peakThreshold }),
    }).labels;
    sum += evaluate(im.gt, labels).aji;
  }
  const row: Row = { ...c, aji: sum / cached.length };
  rows.push(row);
  process.stderr.write(
    `[${k + 1}/${combos.length}] ${describe(row)} AJI ${row.aji.toFixed(4)} (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`,
  );
}
rows.sort((a, b) => b.aji - a.aji);
const best = rows[0]!;
const defaults = rows.find(
  (r) =>
    r.threshold === POSTPROCESS_DEFAULTS.threshold &&
    r.sigmaScale === POSTPROCESS_DEFAULTS.sigmaScale &&
    r.minDistanceScale === POSTPROCESS_DEFAULTS.minDistanceScale &&
    r.expand === POSTPROCESS_DEFAULTS.expand &&
    r.peakThreshold === undefined,
);
const chosen: TunedPostprocess = {
  threshold: best.threshold!,
  sigmaScale: best.sigmaScale!,
  minDistanceScale: best.minDistanceScale!,
  ...(best.peakThreshold === undefined ? {} : { peakThreshold: best.peakThreshold }),
  expand: best.expand!,
  chosenOn:
    `grid of ${rows.length} settings, mean AJI on the ${cached.length} Kumar training images ` +
    `(scripts/tune-postprocess.ts): best ${best.aji.toFixed(4)}; library defaults ${defaults?.aji.toFixed(4) ?? '-'}; ` +
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
process.stdout.write(`${JSON.stringify({ chosen, top: rows.slice(0, 10) }, null, 2)}\n`);

function describe(r: TunedPostprocess): string {
  return `t=${r.threshold} sigma=${r.sigmaScale}r minDist=${r.minDistanceScale}r peak>${r.peakThreshold ?? '-'} expand=${r.expand ?? 0}`;
}
