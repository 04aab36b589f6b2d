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
// The grids (src/postprocess/grid.ts FULL_GRID, 480 settings, ~16 minutes; COARSE_GRID, 48) and the
// scoring (src/postprocess/tune.ts) are the library's, the same the workflow's tunePostprocess activity
// runs; this script applies them to a model folder. The library defaults are scored as one extra row
// outside the selection, so each model records what tuning gained on its training images.
// The nets run once per image; the grid then only repeats the post-processing.
// Usage: node --import tsx scripts/tune-postprocess.ts [--model DIR (default: the shipped model folder)] [--grid full|coarse] [--dry-run]
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, REPO_ROOT, requireDataDir } from '../src/config.ts';
import { kumarSplit } from '../src/data/manifest.ts';
import { readLabels, readRgb } from '../src/imaging/io.ts';
import { writeFileAtomic } from '../src/io/atomic-write.ts';
import { loadSegmenter } from '../src/model/infer.ts';
import { SHIPPED_MODEL_DIR, type TunedPostprocess } from '../src/model/model-dir.ts';
import { COARSE_GRID, FULL_GRID, type PostprocessSetting } from '../src/postprocess/grid.ts';
import { POSTPROCESS_DEFAULTS } from '../src/postprocess/pipeline.ts';
import { scoreSetting, type TuningImage, tunePostprocess } from '../src/postprocess/tune.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: relative(REPO_ROOT, SHIPPED_MODEL_DIR) },
    'dry-run': { type: 'boolean', default: false },
    grid: { type: 'string', default: 'full' },
  },
});
if (args.grid !== 'full' && args.grid !== 'coarse') {
  throw new Error(`--grid must be full or coarse, got '${args.grid}'`);
}
const GRID = args.grid === 'full' ? FULL_GRID : COARSE_GRID;

const modelDir = resolve(REPO_ROOT, args.model!);
const split = await kumarSplit(requireDataDir(loadConfig()));
const seg = await loadSegmenter(modelDir);
const cached: TuningImage[] = [];
for (const s of split.train) {
  const r = await seg.segment(await readRgb(s.imagePath), s.imagePath);
  cached.push({
    id: s.id,
    gt: await readLabels(s.labelPath!),
    foreground: r.foreground,
    distance: r.distance,
  });
  process.stderr.write(`nets: ${s.id}\n`);
}
seg.dispose();

const t0 = Date.now();
const { scores } = await tunePostprocess(cached, GRID, {
  onSetting: (row, k, total) => {
    process.stderr.write(
      `[${k + 1}/${total}] ${describe(row.setting)} AJI ${row.aji.toFixed(4)} (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`,
    );
  },
});
// Best mean AJI first; the sort is stable, so equal scores keep grid order and the first is tunePostprocess's choice.
const rows = [...scores].sort((a, b) => b.aji - a.aji);
const best = rows[0]!;
const defaults = scoreSetting(POSTPROCESS_DEFAULTS, cached);
const chosen: TunedPostprocess = {
  ...best.setting,
  chosenOn:
    `${args.grid} grid of ${rows.length} settings, mean AJI on the ${cached.length} Kumar training images ` +
    `(scripts/tune-postprocess.ts): best ${best.aji.toFixed(4)}; library defaults (${describe(defaults.setting)}) ${defaults.aji.toFixed(4)}; ` +
    `top 5: ${rows
      .slice(0, 5)
      .map((r) => `${describe(r.setting)} ${r.aji.toFixed(4)}`)
      .join('; ')}`,
};
if (!args['dry-run']) {
  const file = join(modelDir, 'model.json');
  const manifest = JSON.parse(readFileSync(file, 'utf8'));
  manifest.postprocess = chosen;
  await writeFileAtomic(file, `${JSON.stringify(manifest, null, 2)}\n`);
}
const flat = (r: (typeof rows)[number]) => ({ ...r.setting, aji: r.aji, dice: r.dice, f1: r.f1 });
process.stdout.write(
  `${JSON.stringify({ chosen, defaults: flat(defaults), top: rows.slice(0, 10).map(flat) }, null, 2)}\n`,
);

function describe(r: PostprocessSetting): string {
  return `t=${r.threshold} sigma=${r.sigmaScale}r minDist=${r.minDistanceScale}r expand=${r.expand}`;
}
