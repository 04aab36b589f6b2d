// Evaluates a shipped model on the 14 Kumar test images (Table 1 of Mahbod et al., ISBI 2019) and writes its card, docs/results.md and learning curves.
//
// Usage: node --import tsx scripts/evaluate-model.ts [--model models/cpu-60min-c256-s2-epyc] [--run-dir <checkpoints>]
//        [--commit <training code commit>] [--no-docs] [--extra <summary.json>...]
//        [--tta | --defaults | --summary [--label <text>] [--compute <text>]]   (summary JSON on stdout only)
// Scores: per-image Dice (foreground), F1 (detection, IoU > 0.5) and AJI from src/metrics; averages
// are plain means over images, as in the paper's Table 1.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, hostname, totalmem } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, REPO_ROOT, requireDataDir } from '../src/config.ts';
import { kumarSplit, type Slide } from '../src/data/manifest.ts';
import { readLabels, readRgb } from '../src/imaging/io.ts';
import { writeFileAtomic } from '../src/io/atomic-write.ts';
import {
  type Aggregate,
  aggregate,
  type EvalResult,
  type EvalTotals,
  evaluateDetailed,
} from '../src/metrics/index.ts';
import { PAPER_AJI } from '../src/metrics/paper.ts';
import { inSubset, perSubset } from '../src/metrics/subsets.ts';
import { type EpochMetrics, loadCheckpoint } from '../src/model/checkpoint.ts';
import { loadSegmenter } from '../src/model/infer.ts';
import type { TunedPostprocess } from '../src/model/model-dir.ts';
import type { TrainingSchedule } from '../src/model/schedule.ts';
import { type StageRecord, stageRecord } from '../src/model/two-stage.ts';
import { POSTPROCESS_DEFAULTS as D } from '../src/postprocess/pipeline.ts';
import { imageResultRow } from '../src/tracking/index.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/cpu-60min-c256-s2-epyc' },
    'run-dir': { type: 'string' },
    commit: { type: 'string' },
    'no-docs': { type: 'boolean', default: false },
    'docs-dir': { type: 'string', default: 'docs' },
    'max-images': { type: 'string' },
    /** Evaluate with 8-view test-time augmentation and only print the summary JSON (no card, no docs). */
    tta: { type: 'boolean', default: false },
    /** Evaluate with the library's post-processing defaults instead of the model's tuned ones; summary JSON only. */
    defaults: { type: 'boolean', default: false },
    /** Evaluate as the model stands and only print the summary JSON (e.g. a model that is compared, not shipped). */
    summary: { type: 'boolean', default: false },
    /** Label and training-compute text of a printed summary (defaults describe --tta / --defaults). */
    label: { type: 'string' },
    compute: { type: 'string' },
    /** Summary JSON files ({label, seconds, seen, unseen, all}; e.g. from a --tta run) added to results.md as secondary rows. */
    extra: { type: 'string', multiple: true },
    /** How busy the machine was during training (card and results.md). */
    'machine-note': { type: 'string', default: 'idle apart from the training run' },
    /** Anything the reader must know about when the post-processing was chosen (results.md). */
    'tuning-note': { type: 'string', default: '' },
    /** What the other rows say about the verdict, e.g. the spread over seeds of the same recipe (results.md). */
    'result-note': { type: 'string', default: '' },
  },
});

const PYTORCH_CALIBRATION_AJI = 0.572;
/** Overrides every tunable field with the library default (src/postprocess/pipeline.ts). */
const LIBRARY_DEFAULTS = {
  threshold: D.threshold,
  sigmaOptions: { scale: D.sigmaScale },
  minDistanceScale: D.minDistanceScale,
  peakThreshold: undefined,
  expand: D.expand,
};

interface Row extends EvalResult {
  totals: EvalTotals;
  id: string;
  organ: string;
  subset: 'seen' | 'unseen';
  seconds: number;
}

const config = loadConfig();
const dataDir = requireDataDir(config);
const modelDir = resolve(REPO_ROOT, args.model!);
const name = modelDir.split('/').pop()!;
const runDir = resolve(args['run-dir'] ?? join(config.cacheDir, 'runs', name));
const split = await kumarSplit(dataDir);
const segmenter = await loadSegmenter(modelDir);
const rows: Row[] = [];
const evalStart = performance.now();
for (const [subset, slides] of [
  ['seen', split.testSeen],
  ['unseen', split.testUnseen],
] as ['seen' | 'unseen', Slide[]][]) {
  for (const s of slides.slice(0, args['max-images'] ? Number(args['max-images']) : slides.length)) {
    const rgb = await readRgb(s.imagePath);
    const gt = await readLabels(s.labelPath!);
    const t0 = performance.now();
    const r = await segmenter.segment(rgb, s.imagePath, {
      tta: args.tta,
      ...(args.defaults ? { postprocess: LIBRARY_DEFAULTS } : {}),
    });
    const seconds = (performance.now() - t0) / 1000;
    const e = evaluateDetailed(gt, r.labels);
    rows.push({ ...e, id: s.id, organ: s.organ, subset, seconds });
    process.stderr.write(
      `${s.id} ${s.organ.padEnd(9)} dice ${e.dice.toFixed(4)} f1 ${e.f1.toFixed(4)} aji ${e.aji.toFixed(4)} (${seconds.toFixed(1)} s)\n`,
    );
  }
}
segmenter.dispose();
const evalSeconds = (performance.now() - evalStart) / 1000;
const means = perSubset(rows, aggregate);
const pick = (a: Aggregate) => ({
  dice: a.mean.dice,
  f1: a.mean.f1,
  aji: a.mean.aji,
  ajiPlus: a.mean.ajiPlus,
  pq: a.mean.pq,
  pooledAji: a.pooled.aji,
});
if (args.tta || args.defaults || args.summary) {
  const summary = {
    label:
      args.label ??
      (args.tta
        ? 'same model, 8-view test-time augmentation (`segment --tta`)'
        : args.defaults
          ? `same model, library post-processing defaults (threshold ${D.threshold}, sigma ${D.sigmaScale} r, seed spacing ${D.minDistanceScale} r, no growth; no tuning)`
          : `\`${name}\` with its tuned post-processing`),
    ...(args.compute === undefined ? {} : { compute: args.compute }),
    seconds: Math.round(evalSeconds),
    seen: pick(means.seen),
    unseen: pick(means.unseen),
    all: pick(means.all),
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exit(0);
}
type Summary = {
  label: string;
  /** Training-compute column; default: "same model" and the evaluation time. */
  compute?: string;
  seconds: number;
  seen: ReturnType<typeof pick>;
  unseen: ReturnType<typeof pick>;
  all: ReturnType<typeof pick>;
};
const extras = (args.extra ?? []).map(
  (f) => JSON.parse(readFileSync(f, 'utf8').trim().split('\n').pop()!) as Summary,
);

const modelJson = JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8')) as {
  training?: Record<string, unknown> & {
    schedule?: string;
    seed?: number;
    referenceSelection?: string;
    // Models trained before step budgets recorded their time budget in these two fields.
    schedules?: Record<'seg' | 'dist', Partial<TrainingSchedule> & { budgetWallSeconds?: number }>;
    runs?: { seg: StageRecord | null; dist: StageRecord | null };
  };
  dtype: string;
  postprocess?: TunedPostprocess;
};
// Training provenance: the checkpoints in the cache, else the run record model.json carries.
const runRecord = async (stage: 'seg' | 'dist'): Promise<StageRecord | null> => {
  const c = await loadCheckpoint(join(runDir, stage));
  return c ? stageRecord(c.header) : (modelJson.training?.runs?.[stage] ?? null);
};
const seg = await runRecord('seg');
const dist = await runRecord('dist');
const stageInfo = (r: StageRecord | null) =>
  r
    ? {
        epochs: r.epochs,
        steps: r.steps,
        wallSeconds: r.wallSeconds,
        machineSeconds: r.machineSeconds,
        finalLoss: r.history.at(-1)?.loss,
        finalValLoss: r.history.at(-1)?.valLoss,
        lrLevels: [...new Set(r.history.map((h) => h.lr))],
        peakRssMB: Math.max(...r.history.map((h) => h.rssMB)),
      }
    : null;
const tuned = modelJson.postprocess;
const tunedText = tuned
  ? `stage-1 threshold ${tuned.threshold ?? D.threshold}, sigma ${tuned.sigmaScale ?? D.sigmaScale} x mean radius, seed spacing ${tuned.minDistanceScale ?? D.minDistanceScale} x mean radius, seed threshold ${tuned.peakThreshold ?? 'none'}, instances grown by ${tuned.expand ?? D.expand} px`
  : `library defaults (threshold ${D.threshold}, sigma ${D.sigmaScale} x mean radius, seed spacing ${D.minDistanceScale} x mean radius)`;
const referenceText =
  modelJson.training?.referenceSelection === 'first'
    ? 'Macenko to the first training slide (manifest order)'
    : "Macenko to the training slide whose nuclei and background grey-level histograms differ most (the paper's rule, `nucleiflow reference`)";
// Without the checkpoints (another machine, a cleared cache) the provenance of an earlier card is kept.
const previousCard = (() => {
  try {
    return JSON.parse(readFileSync(join(modelDir, 'card.json'), 'utf8')) as {
      training?: { seg: StageInfo; dist: StageInfo; command?: string };
      codeCommit?: string;
      machine?: { note?: string };
    };
  } catch {
    return undefined;
  }
})();
type StageInfo = NonNullable<ReturnType<typeof stageInfo>>;
const segMaybe = stageInfo(seg) ?? previousCard?.training?.seg;
const distMaybe = stageInfo(dist) ?? previousCard?.training?.dist;
if (!segMaybe || !distMaybe) {
  throw new Error(
    `no checkpoints in ${runDir}, no run record in model.json and no earlier card.json in ${modelDir}: training provenance unknown`,
  );
}
/** Stage-1 schedule as the model recorded it. */
const trainedSeg = { ...modelJson.training?.schedules?.seg };
/** Crop size and steps per epoch the model was trained with (both stages use the same). */
const crop = { size: trainedSeg.inputSize ?? 512, stepsPerEpoch: trainedSeg.stepsPerEpoch ?? 32 };
/** Steps at the model's crop size counted in 1024x1024 steps (the paper's), by pixels. */
const paperSteps = (steps: number) => steps * (crop.size / 1024) ** 2;
const commit =
  args.commit ??
  (seg ? undefined : previousCard?.codeCommit) ??
  execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
const segInfo: StageInfo = segMaybe;
const distInfo: StageInfo = distMaybe;
const card = {
  name,
  method:
    'Two-stage U-Net (Mahbod et al., ISBI 2019): segmentation U-Net on modified GT + normalised distance-map U-Net, marker-controlled watershed',
  data: {
    dataset: 'MoNuSeg 2018 training set (Kumar et al., IEEE TMI 2017), 1000x1000 px at 40x',
    split: 'Kumar 2017: 16 train / 8 same-organ test / 6 different-organ test (manifest.csv split_kumar)',
    train: modelJson.training?.trainSlides,
    testSeen: split.testSeen.map((s) => s.id),
    testUnseen: split.testUnseen.map((s) => s.id),
  },
  config: modelJson.training,
  weights: { dtype: modelJson.dtype, paramsPerNet: 1_941_105 },
  seed: modelJson.training?.seed,
  training: {
    seg: segInfo,
    dist: distInfo,
    totalWallMinutes:
      segInfo && distInfo ? +((segInfo.wallSeconds + distInfo.wallSeconds) / 60).toFixed(1) : null,
    totalMachineMinutes:
      segInfo && distInfo ? +((segInfo.machineSeconds + distInfo.machineSeconds) / 60).toFixed(1) : null,
    command: trainCommand(),
  },
  machine: {
    hostname: hostname(),
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    note: `${args['machine-note']}; machine time = process CPU time / cores`,
  },
  codeCommit: commit,
  evaluation: {
    command: `node --import tsx scripts/evaluate-model.ts --model ${relative(REPO_ROOT, modelDir)}`,
    postprocess: `src/postprocess/pipeline.ts postprocess() with the model's tuned parameters (${tunedText}; min size 20), no TTA, whole image in one tile`,
    seconds: Math.round(evalSeconds),
    perImage: rows.map((r) => ({
      ...imageResultRow({ id: r.id, organ: r.organ, subset: r.subset }, r),
      seconds: +r.seconds.toFixed(2),
    })),
    seen: pick(means.seen),
    unseen: pick(means.unseen),
    all: pick(means.all),
    paperAji: PAPER_AJI,
    pytorchCalibrationAji: PYTORCH_CALIBRATION_AJI,
  },
};
await writeFileAtomic(join(modelDir, 'card.json'), `${JSON.stringify(card, null, 2)}\n`);
process.stderr.write(`card written to ${join(modelDir, 'card.json')}\n`);
process.stdout.write(
  `${JSON.stringify({ seen: card.evaluation.seen, unseen: card.evaluation.unseen, all: card.evaluation.all })}\n`,
);

if (!args['no-docs']) {
  const history = [...(seg?.history ?? []), ...(dist?.history ?? [])];
  const docs = resolve(REPO_ROOT, args['docs-dir']!);
  // Curves need a per-epoch history (checkpoints or model.json); without one the existing figure stays.
  if (history.length > 0) await writeFileAtomic(join(docs, 'learning-curves.svg'), curvesSvg(history));
  await writeFileAtomic(join(docs, 'results.md'), resultsMd());
  process.stderr.write('docs/results.md and docs/learning-curves.svg written\n');
}

/**
 * The command that trained the model, as its earlier card recorded it (the `train` flags of that
 * commit; today the recipe is a spec: `nucleiflow run cpu-60min-c256`).
 */
function trainCommand(): string {
  return previousCard?.training?.command ?? 'unknown (no earlier card.json)';
}

/** Wall-clock budget of a time-budget stage in minutes; undefined for an epoch schedule. */
function budgetWallMinutes(stage: 'seg' | 'dist'): number | undefined {
  const w = modelJson.training?.schedules?.[stage]?.budgetWallSeconds;
  return w === undefined ? undefined : w / 60;
}

function pct(x: number): string {
  return (100 * x).toFixed(2);
}

function resultsMd(): string {
  const line = (r: Row) => `| ${r.organ} | ${r.id} | ${pct(r.dice)} | ${pct(r.f1)} | ${pct(r.aji)} |`;
  const avg = (label: string, a: Aggregate) =>
    `| **${label}** | | **${pct(a.mean.dice)}** | **${pct(a.mean.f1)}** | **${pct(a.mean.aji)}** |`;
  const s = segInfo;
  const d = distInfo;
  const diff = means.all.mean.aji - PYTORCH_CALIBRATION_AJI;
  return `# Results: two-stage U-Net on the Kumar test split

Model \`models/${name}\` (shipped, ${modelJson.dtype} weights), trained by this code base on the 16 Kumar
training images with the \`cpu-60min\` schedule, evaluated on the 14 Kumar test images (8 from the training
organs, 6 from organs never seen in training). All numbers below were measured on this machine with:

\`\`\`
${card.training.command}
${card.evaluation.command}
\`\`\`

Scores in percent, per image as in Table 1 of Mahbod et al. (ISBI 2019): Dice = foreground Dice, F1 =
detection F1 (a predicted nucleus matches a GT nucleus at IoU > 0.5), AJI = Aggregated Jaccard Index
(MoNuSeg rule). Averages are means over images.

## Per image

| Organ | Image | Dice | F1 | AJI |
|---|---|---|---|---|
${inSubset(rows, 'seen').map(line).join('\n')}
${avg('Same organs (8)', means.seen)}
${inSubset(rows, 'unseen').map(line).join('\n')}
${avg('Different organs (6)', means.unseen)}
${avg('All (14)', means.all)}

## Against the paper and the PyTorch calibration

| | AJI all | AJI same organs | AJI different organs | training compute |
|---|---|---|---|---|
| Mahbod et al. 2019 (paper, Table 1) | 56.87 | 56.68 | 57.13 | 240 + 120 epochs at 1024x1024 |
| PyTorch, same method, 60 min on this machine (issue 4 calibration) | 57.2 | - | - | 40 + 20 min, 512x512 crops, batch 2 |
| **NucleiFlow \`${name}\` (this model)** | **${pct(means.all.mean.aji)}** | **${pct(means.seen.mean.aji)}** | **${pct(means.unseen.mean.aji)}** | ${(s.machineSeconds / 60).toFixed(1)} + ${(d.machineSeconds / 60).toFixed(1)} min machine time, ${(s.wallSeconds / 60).toFixed(1)} + ${(d.wallSeconds / 60).toFixed(1)} min wall |
${extras.map((x) => `| ${x.label} | ${pct(x.all.aji)} | ${pct(x.seen.aji)} | ${pct(x.unseen.aji)} | ${x.compute ?? `same model, evaluation ${x.seconds} s for 14 images`} |\n`).join('')}
Difference to the PyTorch calibration: **${diff >= 0 ? '+' : ''}${(100 * diff).toFixed(2)} AJI points** (${pct(means.all.mean.aji)} vs 57.20);
to the paper: ${(100 * (means.all.mean.aji - PAPER_AJI.all)) >= 0 ? '+' : ''}${(100 * (means.all.mean.aji - PAPER_AJI.all)).toFixed(2)} points.
${
  diff >= 0
    ? `**The model beats the PyTorch calibration by ${(100 * diff).toFixed(2)} AJI points with ${((s.machineSeconds + d.machineSeconds) / 60).toFixed(1)} machine-minutes (${((s.wallSeconds + d.wallSeconds) / 60).toFixed(1)} wall-minutes) of training against the calibration's 60.**`
    : `**The model does not beat the PyTorch calibration** (the issue asks for AJI >= 57 and to beat the calibration's 57.2), with ${((s.wallSeconds + d.wallSeconds) / 60).toFixed(1)} wall-minutes of training against the calibration's 60.`
}${args['result-note'] ? `\n${args['result-note']}` : ''}
Post-processing: ${tunedText}, chosen by \`scripts/tune-postprocess.ts\` on the 16 *training* images only (a grid
of settings; the mean training AJI of the best ones is recorded in \`model.json\`); the test images play no part in
the choice.${args['tuning-note'] ? ` ${args['tuning-note']}` : ''} Stage 1 learns eroded targets, so its 0.5 level set lies inside the nucleus outline (a lower threshold or growing the
final instances by the erosion radius restores it); the predicted
distance maps are noisier than ideal ones, which is why the smoothing and seed spacing are tuned too.
Other scores of this model (means over the 14 images): AJI+ ${pct(means.all.mean.ajiPlus)}, PQ ${pct(means.all.mean.pq)}; AJI pooled over all
images as one ${means.all.pooled.aji === null ? '-' : pct(means.all.pooled.aji)}.

## What was trained: \`cpu-60min\` against the paper's schedule

| | paper | cpu-60min (this model) |
|---|---|---|
| input | whole 1000x1000 image resized to 1024x1024, batch 2 | random ${crop.size}x${crop.size} crops (no resize, same pixel scale as inference), batch 2 |
| epoch | 8 steps (16 images) | ${crop.stepsPerEpoch} steps (${2 * crop.stepsPerEpoch} crops, ${(2 * crop.stepsPerEpoch) / 16} per training image) |
| stage 1 (segmentation) | 240 epochs = 1,920 steps at 1024^2; lr 1e-3, x0.4 at epochs 80, 160 | ${s.epochs} epochs = ${s.steps} steps at ${crop.size}^2; lr 1e-3, x0.4 at 1/3 and 2/3 of a ${budgetWallMinutes('seg') ?? '?'}-minute budget (${(s.wallSeconds / 60).toFixed(1)} min wall, ${(s.machineSeconds / 60).toFixed(1)} min machine time) |
| stage 2 (distance) | 120 epochs = 960 steps at 1024^2, from scratch; drop at 60 | ${d.epochs} epochs = ${d.steps} steps at ${crop.size}^2, initialised from the stage-1 weights; x0.4 at half of a ${budgetWallMinutes('dist') ?? '?'}-minute budget (${(d.wallSeconds / 60).toFixed(1)} min wall) |
| pixels seen (in 1024^2-step units) | 1,920 + 960 | ${paperSteps(s.steps).toFixed(0)} + ${paperSteps(d.steps).toFixed(0)} |
| augmentation | HED colour + rot90/flip | HED (scale 0.05, bias 0.005) + rot90/flip, seeded |
| dropout | as the paper's U-Net | ${modelJson.training?.schedules?.seg?.dropout === false ? 'off (`--no-dropout`; same layers and parameter count)' : 'on'} |
| stain normalisation | Macenko to a reference chosen by grey-level histograms | ${referenceText} |
| lr levels actually used | 1e-3, 4e-4, 1.6e-4 | seg ${s.lrLevels.map((x) => x.toExponential(1)).join(', ')}; dist ${d.lrLevels.map((x) => x.toExponential(1)).join(', ')} |

What was cut: ${(100 * (1 - (paperSteps(s.steps) + paperSteps(d.steps)) / 2880)).toFixed(0)}% of the paper's training pixels; the epoch count follows from the
time budget, not from the paper. Machine during training: ${args['machine-note']}; the run's process used
${(((s.machineSeconds + d.machineSeconds) / (s.wallSeconds + d.wallSeconds)) * 100).toFixed(0)}% of the 2 cores on average (machine time = process CPU time / cores).

Learning curves (training loss per epoch, inference-mode loss on fixed ${crop.size}x${crop.size} centre crops of four training
slides, one per organ — there is no held-out training data, the paper trains on all 16; lr on the right axis):

![learning curves](learning-curves.svg)

## Reproduce

1. \`${card.training.command}\` — checkpoints every epoch under \`~/.cache/nucleiflow/runs/${name}/\`; rerunning the same
   command after an interruption resumes from the last epoch.
2. \`node --import tsx scripts/tune-postprocess.ts --model models/${name}\` — chooses the post-processing on the training images.
3. \`${card.evaluation.command} --tta > tta.json\` and \`--defaults > defaults.json\` (the secondary rows); then
   \`${card.evaluation.command} --extra <summary.json>...\` — writes \`models/${name}/card.json\`, this file and the curves.

Evaluation took ${card.evaluation.seconds} s for 14 images (${(evalSeconds / 14).toFixed(1)} s per image,
stain normalisation + both nets + post-processing). Training code: commit \`${commit.slice(0, 7)}\`.
`;
}

function curvesSvg(h: EpochMetrics[]): string {
  const W = 900;
  const H = 360;
  const panels = (['seg', 'dist'] as const).map((stage, i) => ({
    stage,
    x0: 60 + i * 430,
    data: h.filter((m) => m.stage === stage),
  }));
  const parts: string[] = [];
  for (const p of panels) {
    if (p.data.length === 0) continue;
    const pw = 360;
    const ph = 260;
    const y0 = 40;
    const losses = p.data.flatMap((m) => [m.loss, m.valLoss ?? m.loss]);
    const lo = Math.min(...losses);
    const hi = Math.max(...losses);
    const n = p.data.length;
    const sx = (e: number) => p.x0 + ((e - 1) / Math.max(1, n - 1)) * pw;
    const sy = (v: number) => y0 + ph - ((v - lo) / (hi - lo || 1)) * ph;
    const lrMax = Math.max(...p.data.map((m) => m.lr));
    const sl = (v: number) => y0 + ph - (v / lrMax) * ph;
    const path = (f: (m: EpochMetrics) => number) =>
      p.data.map((m, i) => `${i ? 'L' : 'M'}${sx(m.epoch).toFixed(1)},${f(m).toFixed(1)}`).join(' ');
    parts.push(
      `<rect x="${p.x0}" y="${y0}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`,
      `<text x="${p.x0 + pw / 2}" y="25" text-anchor="middle" font-size="14">${p.stage === 'seg' ? 'stage 1: segmentation (0.5 BCE + Dice)' : 'stage 2: distance map (MSE)'}</text>`,
      `<path d="${path((m) => sy(m.loss))}" fill="none" stroke="#1f77b4" stroke-width="2"/>`,
      `<path d="${path((m) => sy(m.valLoss ?? m.loss))}" fill="none" stroke="#ff7f0e" stroke-width="2"/>`,
      `<path d="${path((m) => sl(m.lr))}" fill="none" stroke="#2ca02c" stroke-dasharray="4 3"/>`,
      `<text x="${p.x0 - 5}" y="${y0 + 4}" text-anchor="end" font-size="11">${hi.toFixed(3)}</text>`,
      `<text x="${p.x0 - 5}" y="${y0 + ph}" text-anchor="end" font-size="11">${lo.toFixed(3)}</text>`,
      `<text x="${p.x0}" y="${y0 + ph + 16}" font-size="11">epoch 1</text>`,
      `<text x="${p.x0 + pw}" y="${y0 + ph + 16}" text-anchor="end" font-size="11">epoch ${n} (${p.data.at(-1)!.steps} steps)</text>`,
      `<text x="${p.x0 + pw + 4}" y="${y0 + 4}" font-size="10" fill="#2ca02c">${lrMax.toExponential(0)}</text>`,
    );
  }
  parts.push(
    `<text x="60" y="${H - 20}" font-size="12"><tspan fill="#1f77b4">— training loss</tspan>   <tspan fill="#ff7f0e">— validation loss (fixed crops, no dropout)</tspan>   <tspan fill="#2ca02c">- - learning rate</tspan></text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`;
}
