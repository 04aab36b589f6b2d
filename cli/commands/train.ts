import { appendFile, mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { loadConfig, REPO_ROOT, requireDataDir } from '../../src/config.ts';
import { UserError } from '../../src/errors.ts';
import type { Stage } from '../../src/model/batch.ts';
import { SCHEDULES, type TrainingSchedule } from '../../src/model/schedule.ts';
import { type TwoStageOptions, trainTwoStage } from '../../src/model/two-stage.ts';
import { integer, nonNegativeInt, nonNegativeNumber, positiveInt, positiveNumber } from '../options.ts';
import { action } from '../run-action.ts';

const STAGES = { seg: ['seg'], dist: ['dist'], both: ['seg', 'dist'] } as const satisfies Record<
  string,
  readonly Stage[]
>;

export interface TrainFlags {
  stage: keyof typeof STAGES;
  schedule: string;
  seed: number;
  name?: string;
  runDir?: string;
  out?: string;
  erosion: boolean;
  hed: number;
  flipRotate: boolean;
  stainNormalisation: boolean;
  distInit: 'seg' | 'scratch';
  reference: 'paper' | 'first';
  maxTrainImages?: number;
  segEpochs?: number;
  distEpochs?: number;
  stepsPerEpoch?: number;
  inputSize?: number;
  segMinutes?: number;
  distMinutes?: number;
  dropout: boolean;
  progress?: boolean;
}

/** Time-budget schedules and their stage-1 / stage-2 wall minutes, for the help and the errors. */
const BUDGETS = Object.entries(SCHEDULES)
  .filter(([, s]) => s.seg.budgetWallSeconds !== undefined)
  .map(([k, s]) => ({ name: k, seg: s.seg.budgetWallSeconds! / 60, dist: s.dist.budgetWallSeconds! / 60 }));

function override(
  s: TrainingSchedule,
  epochs: number | undefined,
  minutes: { flag: string; value: number | undefined },
  f: TrainFlags,
): TrainingSchedule {
  const e = epochs ?? s.epochs;
  const scale = e / s.epochs;
  // An explicit epoch count switches a time-budget schedule to plain epoch mode.
  const { budgetSeconds, budgetWallSeconds, ...rest } = s;
  if (minutes.value !== undefined && (budgetSeconds === undefined || epochs !== undefined)) {
    throw new UserError(
      `--${minutes.flag} sets the time budget of a time-budget schedule (${BUDGETS.map((b) => b.name).join(', ')}); it cannot be combined with an epoch schedule or an epoch count`,
    );
  }
  const budget =
    minutes.value !== undefined
      ? { budgetSeconds: minutes.value * 60, budgetWallSeconds: minutes.value * 60 }
      : { budgetSeconds, budgetWallSeconds };
  return {
    ...rest,
    ...(epochs === undefined && budgetSeconds !== undefined ? budget : {}),
    ...(f.dropout ? {} : { dropout: false }),
    epochs: e,
    inputSize: f.inputSize ?? s.inputSize,
    stepsPerEpoch: f.stepsPerEpoch ?? s.stepsPerEpoch,
    // Shortened runs keep their lr drops at the same fractions of the run.
    lrSchedule: { ...s.lrSchedule, every: Math.max(1, Math.round(s.lrSchedule.every * scale)) },
  };
}

/** What the flags ask trainTwoStage for: the recipe, without the paths, logging and provenance. */
export type TrainRecipe = Pick<
  TwoStageOptions,
  | 'stages'
  | 'seed'
  | 'schedules'
  | 'stainNormalisation'
  | 'referenceSelection'
  | 'hed'
  | 'flipRotate'
  | 'groundTruth'
  | 'distInit'
  | 'maxTrainImages'
>;

export function trainRecipe(f: TrainFlags): TrainRecipe {
  const base = SCHEDULES[f.schedule]!;
  return {
    stages: [...STAGES[f.stage]],
    seed: f.seed,
    schedules: {
      seg: override(base.seg, f.segEpochs, { flag: 'seg-minutes', value: f.segMinutes }, f),
      dist: override(base.dist, f.distEpochs, { flag: 'dist-minutes', value: f.distMinutes }, f),
    },
    stainNormalisation: f.stainNormalisation,
    referenceSelection: f.reference,
    hed: f.hed > 0 ? { scale: f.hed, bias: f.hed / 10 } : null,
    flipRotate: f.flipRotate,
    groundTruth: f.erosion ? {} : { enabled: false },
    distInit: f.distInit,
    maxTrainImages: f.maxTrainImages,
  };
}

export function register(program: Command): void {
  program
    .command('train')
    .description(
      'Train the two U-Nets (segmentation, then distance map) on the Kumar training split, with a checkpoint every epoch; rerunning the same command resumes',
    )
    .addOption(new Option('--stage <stage>', 'stages to train').choices(Object.keys(STAGES)).default('both'))
    .addOption(
      new Option('--schedule <name>', 'training schedule')
        .choices(Object.keys(SCHEDULES))
        .default('cpu-60min'),
    )
    .option('--seed <n>', 'run seed (initialisation, sampling, augmentation, dropout)', nonNegativeInt, 1)
    .option('--name <name>', 'run and model name (default <schedule>-s<seed>)')
    .option('--run-dir <dir>', 'checkpoint folder (default <cache>/runs/<name>)')
    .option('--out <dir>', 'model folder written when both stages are done (default models/<name>)')
    .addOption(
      new Option(
        '--reference <rule>',
        'stain reference: paper (largest nuclei/background histogram difference) or first (first training slide)',
      )
        .choices(['paper', 'first'])
        .default('paper'),
    )
    .option('--no-erosion', 'stage-1 targets without the paper ground-truth modification (ablation)')
    .option(
      '--hed <scale>',
      'HED colour jitter scale (bias = scale / 10); 0 turns it off',
      nonNegativeNumber,
      0.05,
    )
    .option('--no-flip-rotate', 'no rot90/flip augmentation')
    .option('--no-stain-normalisation', 'train on raw colours')
    .addOption(
      new Option('--dist-init <how>', 'stage-2 initialisation: seg (trained stage-1 weights) or scratch')
        .choices(['seg', 'scratch'])
        .default('seg'),
    )
    .option('--max-train-images <n>', 'use only the first N training slides', positiveInt)
    .option(
      '--seg-epochs <n>',
      'override the schedule epochs of stage 1 (lr drops scale with it)',
      positiveInt,
    )
    .option('--dist-epochs <n>', 'override the schedule epochs of stage 2', positiveInt)
    .option('--steps-per-epoch <n>', 'override steps per epoch', positiveInt)
    .option('--input-size <px>', 'override the crop size', integer({ min: 16, multipleOf: 16 }))
    .option(
      '--seg-minutes <m>',
      `time budget of stage 1 in minutes (time-budget schedules; ${BUDGETS.map((b) => `${b.name}: ${b.seg}`).join(', ')}); the lr drops at the same fractions of it`,
      positiveNumber,
    )
    .option(
      '--dist-minutes <m>',
      `time budget of stage 2 in minutes (${BUDGETS.map((b) => `${b.name}: ${b.dist}`).join(', ')})`,
      positiveNumber,
    )
    .option('--no-dropout', 'train without dropout (same architecture and parameter count)')
    .option('--no-progress', 'no progress bar even on a terminal')
    .action(
      action(async (f: TrainFlags) => {
        const config = loadConfig();
        const dataDir = requireDataDir(config);
        const recipe = trainRecipe(f);
        const { stages } = recipe;
        const name = f.name ?? `${f.schedule}-s${f.seed}`;
        if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name))
          throw new UserError(`--name: letters, digits, '.', '-', '_' only, got '${name}'`);
        const runDir = resolve(f.runDir ?? join(config.cacheDir, 'runs', name));
        const outDir = resolve(f.out ?? join(REPO_ROOT, 'models', name));
        await mkdir(runDir, { recursive: true });
        const log = join(runDir, 'metrics.jsonl');
        const started = new Date().toISOString();
        process.stdout.write(`train ${name}: stages ${stages.join('+')}, checkpoints in ${runDir}\n`);
        const r = await trainTwoStage({
          dataDir,
          cacheDir: config.cacheDir,
          runDir,
          outDir,
          ...recipe,
          progress: f.progress === false ? false : undefined,
          provenance: { name, schedule: f.schedule, machine: hostname(), started },
          onEpoch: async (m) => {
            await appendFile(log, `${JSON.stringify({ ...m, time: new Date().toISOString() })}\n`);
            process.stdout.write(
              `${m.stage} epoch ${m.epoch}/${m.epochs} loss ${m.loss.toFixed(4)} val ${m.valLoss?.toFixed(4) ?? '-'} lr ${m.lr.toExponential(1)} ${m.seconds.toFixed(1)} s ${m.imagesPerSecond.toFixed(2)} img/s steps ${m.steps} tensors ${m.numTensors} rss ${m.rssMB} MB\n`,
            );
          },
        });
        for (const s of stages) {
          const x = r.results[s]!;
          process.stdout.write(
            `${s}: ${x.epochsRun}/${x.epochsPlanned} epochs, ${x.steps} steps, ${(x.wallSeconds / 60).toFixed(1)} min wall, ${(x.cpuSeconds / 60).toFixed(1)} min machine time${x.resumedFrom ? ` (resumed from epoch ${x.resumedFrom})` : ''}\n`,
          );
        }
        process.stdout.write(
          `peak RSS ${r.peakRssMB} MB, dataset ${(r.datasetBytes / 2 ** 20).toFixed(1)} MB (uint8)\n`,
        );
        if (r.model) process.stdout.write(`model written to ${outDir}\n`);
      }),
    );
}
