// Which net limits a model: the post-processing is fed each net's output or the ground truth in its place
// (stage-1 foreground x stage-2 distance map, four rows), and the instances are scored against the ground truth.
//
// Runs on the TRAINING images by default, so looking at it never touches the test split. The ground-truth
// foreground is the binary instance mask (labels > 0); the ground-truth distance map is the stage-2 target
// (src/groundtruth/distance-targets.ts). Each row is post-processed twice: with the model's tuned parameters
// (model.json; chosen for its noisy maps, where wide smoothing and seed spacing pay) and with the library
// defaults (chosen on ideal maps). Rows with the ground-truth foreground never grow the instances: growth
// undoes the eroded outline the stage-1 net learns, which the ground-truth mask does not have.
// Usage: node --import tsx scripts/oracle-ablation.ts [--model DIR (default: the shipped model folder)] [--split train|test]
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, REPO_ROOT, requireDataDir } from '../src/config.ts';
import { kumarSplit } from '../src/data/manifest.ts';
import { distanceTargets } from '../src/groundtruth/distance-targets.ts';
import { readLabels, readRgb } from '../src/imaging/io.ts';
import type { LabelImage, MaskImage } from '../src/imaging/types.ts';
import { evaluate } from '../src/metrics/index.ts';
import { loadSegmenter } from '../src/model/infer.ts';
import { SHIPPED_MODEL_DIR, tunedOptions } from '../src/model/model-dir.ts';
import {
  POSTPROCESS_DEFAULTS as D,
  type PostprocessOptions,
  postprocess,
} from '../src/postprocess/pipeline.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: relative(REPO_ROOT, SHIPPED_MODEL_DIR) },
    split: { type: 'string', default: 'train' },
  },
});
if (args.split !== 'train' && args.split !== 'test') {
  throw new Error(`--split must be train or test, got '${args.split}'`);
}

const split = await kumarSplit(requireDataDir(loadConfig()));
const slides = args.split === 'train' ? split.train : [...split.testSeen, ...split.testUnseen];
const seg = await loadSegmenter(resolve(REPO_ROOT, args.model!));
const SETTINGS: readonly PostprocessOptions[] = [
  tunedOptions(seg.model.manifest.postprocess),
  {
    threshold: D.threshold,
    sigmaOptions: { scale: D.sigmaScale },
    minDistanceScale: D.minDistanceScale,
    expand: D.expand,
  },
];

type Source = 'predicted' | 'ground truth';
const ROWS: readonly [Source, Source][] = [
  ['predicted', 'predicted'],
  ['ground truth', 'predicted'],
  ['predicted', 'ground truth'],
  ['ground truth', 'ground truth'],
];
const sums = ROWS.map(() => SETTINGS.map(() => ({ aji: 0, dice: 0, f1: 0 })));

for (const s of slides) {
  const gt = await readLabels(s.labelPath!);
  const r = await seg.segment(await readRgb(s.imagePath), s.imagePath);
  const gtMask = binaryMask(gt);
  const gtDistance = distanceTargets(gt);
  const parts: string[] = [];
  for (const [k, [fg, dist]] of ROWS.entries()) {
    const oracleFg = fg === 'ground truth';
    for (const [j, opts] of SETTINGS.entries()) {
      const labels = postprocess({
        ...opts,
        ...(oracleFg ? { expand: 0 } : {}),
        foreground: oracleFg ? gtMask : r.foreground,
        distance: dist === 'ground truth' ? gtDistance : r.distance,
      }).labels;
      const e = evaluate(gt, labels);
      const sum = sums[k]![j]!;
      sum.aji += e.aji;
      sum.dice += e.dice;
      sum.f1 += e.f1;
      parts.push(e.aji.toFixed(3));
    }
  }
  process.stderr.write(`${s.id} AJI by row, model's / defaults: ${parts.join(' ')}\n`);
}
seg.dispose();

const n = slides.length;
const t = tunedOptions(seg.model.manifest.postprocess);
const cell = (k: number, j: number) => {
  const x = sums[k]![j]!;
  return `${(x.aji / n).toFixed(3)} | ${(x.dice / n).toFixed(3)} | ${(x.f1 / n).toFixed(3)}`;
};
const out = [
  `Model ${args.model}, ${n} Kumar ${args.split === 'train' ? 'training' : 'test'} images, means over images.`,
  `Model's post-processing: threshold ${t.threshold ?? D.threshold}, sigma ${t.sigmaOptions?.scale ?? D.sigmaScale} r, ` +
    `seed spacing ${t.minDistanceScale ?? D.minDistanceScale} r, growth ${t.expand ?? D.expand} px (none with the ground-truth foreground); ` +
    `library defaults: threshold ${D.threshold}, sigma ${D.sigmaScale} r, seed spacing ${D.minDistanceScale} r, no growth.`,
  '',
  "| foreground (stage 1) | distance map (stage 2) | AJI, model's | Dice | F1 | AJI, defaults | Dice | F1 |",
  '|---|---|---|---|---|---|---|---|',
  ...ROWS.map(([fg, dist], k) => `| ${fg} | ${dist} | ${cell(k, 0)} | ${cell(k, 1)} |`),
];
process.stdout.write(`${out.join('\n')}\n`);

function binaryMask(labels: LabelImage): MaskImage {
  const m = new Uint8Array(labels.data.length);
  for (let i = 0; i < m.length; i++) m[i] = labels.data[i] !== 0 ? 1 : 0;
  return { width: labels.width, height: labels.height, data: m };
}
