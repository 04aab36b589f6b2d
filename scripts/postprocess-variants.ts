// Is the post-processing the limit? Scores three alternatives to the tuned chain of Mahbod et al. 2019 on a model's outputs.
//
// Each variant keeps the model's tuned chain (model.json) and changes one idea, with the nets run
// once per image:
//   growth within p > t: the final growth by `expand` px keeps only pixels where the stage-1
//     probability exceeds t (a confident net should bound the growth);
//   hysteresis: no uniform growth; the instances flood the low mask p > t over -p (watershed), a
//     two-threshold scheme where the high threshold only separates the nuclei;
//   distance cores: markers are the 8-connected components of smoothed distance > tau instead of
//     the peaks of the smoothed map (the "dynamic"/core rule of distance-regression methods,
//     Naylor et al., IEEE TMI 2018), sigma = scale * mean radius.
// Runs on the TRAINING images by default, so nothing here looks at the test split.
// Usage: node --import tsx scripts/postprocess-variants.ts [--model DIR (default: the shipped model folder)] [--tta]
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, REPO_ROOT, requireDataDir } from '../src/config.ts';
import { kumarSplit } from '../src/data/manifest.ts';
import { instanceBoxes } from '../src/imaging/instance-boxes.ts';
import { readLabels, readRgb } from '../src/imaging/io.ts';
import type { FloatImage, LabelImage } from '../src/imaging/types.ts';
import { evaluate } from '../src/metrics/index.ts';
import { loadSegmenter } from '../src/model/infer.ts';
import { SHIPPED_MODEL_DIR, tunedOptions } from '../src/model/model-dir.ts';
import { connectedComponents } from '../src/postprocess/connected-components.ts';
import { expandLabels } from '../src/postprocess/expand-labels.ts';
import { fillHolesPerInstance } from '../src/postprocess/fill-holes.ts';
import { binarise, type PostprocessOptions, postprocess } from '../src/postprocess/pipeline.ts';
import { relabelByFirstPixel } from '../src/postprocess/relabel.ts';
import { removeSmallInstances } from '../src/postprocess/remove-small.ts';
import { watershed } from '../src/postprocess/watershed.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: relative(REPO_ROOT, SHIPPED_MODEL_DIR) },
    tta: { type: 'boolean', default: false },
  },
});

interface Cached {
  readonly gt: LabelImage;
  readonly foreground: FloatImage;
  readonly distance: FloatImage;
  /** The tuned chain's instances. */
  readonly tuned: LabelImage;
  /** The tuned chain without growth: hysteresis floods from these. */
  readonly ungrown: LabelImage;
  /** The same before hole filling: which pixels the growth added. */
  readonly ungrownUnfilled: LabelImage;
}
const split = await kumarSplit(requireDataDir(loadConfig()));
const seg = await loadSegmenter(resolve(REPO_ROOT, args.model!));
const tuned = tunedOptions(seg.model.manifest.postprocess);
const images: Cached[] = [];
for (const s of split.train) {
  const r = await seg.segment(await readRgb(s.imagePath), s.imagePath, { tta: args.tta });
  const maps = { foreground: r.foreground, distance: r.distance };
  images.push({
    gt: await readLabels(s.labelPath!),
    ...maps,
    tuned: postprocess({ ...tuned, ...maps }).labels,
    ungrown: postprocess({ ...tuned, expand: 0, ...maps }).labels,
    ungrownUnfilled: postprocess({ ...tuned, expand: 0, fillHoles: false, ...maps }).labels,
  });
  process.stderr.write(`nets: ${s.id}\n`);
}
seg.dispose();

/** Hole filling and renumbering, as the chain ends. */
function finish(labels: LabelImage): LabelImage {
  const stats = instanceBoxes(labels, 'postprocess-variants');
  fillHolesPerInstance(labels, true, stats);
  relabelByFirstPixel(labels, stats);
  return labels;
}

function growthWithin(im: Cached, t: number): LabelImage {
  const d = im.tuned.data.slice();
  const core = im.ungrownUnfilled.data;
  for (let i = 0; i < d.length; i++) if (core[i] === 0 && im.foreground.data[i]! <= t) d[i] = 0;
  return finish({ width: im.tuned.width, height: im.tuned.height, data: d });
}

function hysteresis(im: Cached, t: number): LabelImage {
  return finish(watershed(im.foreground, im.ungrown, binarise(im.foreground, t), { negate: true }));
}

function distanceCores(im: Cached, tau: number, sigmaScale: number): LabelImage {
  const r = postprocess({
    ...tuned,
    sigmaOptions: { scale: sigmaScale },
    foreground: im.foreground,
    distance: im.distance,
    keepIntermediates: true,
  });
  const { smoothed, components } = r.intermediates!;
  const n = smoothed.data.length;
  const cores = new Uint8Array(n);
  for (let i = 0; i < n; i++) cores[i] = components.data[i] !== 0 && smoothed.data[i]! > tau ? 1 : 0;
  const markers = connectedComponents({ width: smoothed.width, height: smoothed.height, data: cores }, 8);
  // A component without a core keeps its peak-rule seed, so no nucleus is lost (as the chain does).
  const seeds = markers.labels.data;
  let nComponents = 0;
  for (let i = 0; i < n; i++) if (components.data[i]! > nComponents) nComponents = components.data[i]!;
  const hasCore = new Uint8Array(nComponents + 1);
  for (let i = 0; i < n; i++) if (seeds[i] !== 0) hasCore[components.data[i]!] = 1;
  let next = markers.count;
  for (let i = 0; i < n; i++) {
    if (r.markers.data[i] !== 0 && hasCore[components.data[i]!] === 0) seeds[i] = ++next;
  }
  const labels = watershed(smoothed, markers.labels, r.mask, { negate: true });
  const stats = instanceBoxes(labels, 'postprocess-variants');
  removeSmallInstances(labels, tuned.minSize ?? 20, stats);
  if (tuned.expand) expandLabels(labels, tuned.expand, { inPlace: true, stats });
  return finish(labels);
}

const VARIANTS: readonly [string, (im: Cached) => LabelImage][] = [
  [`tuned chain (${describe(tuned)})`, (im) => im.tuned],
  ...[0.3, 0.5].map((t): [string, (im: Cached) => LabelImage] => [
    `growth within p > ${t}`,
    (im) => growthWithin(im, t),
  ]),
  ...[0.3, 0.5].map((t): [string, (im: Cached) => LabelImage] => [
    `hysteresis into p > ${t}`,
    (im) => hysteresis(im, t),
  ]),
  ...[0.25, 0.5].flatMap((s) =>
    [0.3, 0.45, 0.6].map((tau): [string, (im: Cached) => LabelImage] => [
      `distance cores > ${tau}, sigma ${s} r`,
      (im) => distanceCores(im, tau, s),
    ]),
  ),
];

process.stdout.write(
  `| variant (${images.length} training images${args.tta ? ', 8-view TTA' : ''}) | mean AJI |\n|---|---|\n`,
);
for (const [name, run] of VARIANTS) {
  let sum = 0;
  for (const im of images) sum += evaluate(im.gt, run(im)).aji;
  process.stdout.write(`| ${name} | ${(sum / images.length).toFixed(4)} |\n`);
}

function describe(o: PostprocessOptions): string {
  return `t=${o.threshold} sigma=${o.sigmaOptions?.scale}r seeds=${o.minDistanceScale}r expand=${o.expand}`;
}
