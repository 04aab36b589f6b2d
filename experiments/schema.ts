/**
 * The experiment spec: everything that decides a result (data, preprocessing, augmentation, ground
 * truth, both trainings, post-processing, evaluation) plus how the platform schedules it. Specs are
 * strict: an unknown key is an error, so a typo never silently falls back to a default.
 * Protocol of Mahbod et al. 2019, "A Two-Stage U-Net Algorithm for Segmentation of Nuclei in H&E-Stained Tissues".
 */
import { z } from 'zod';
import { SPLIT_NAMES } from '../src/data/splits.ts';
import { BUDGET_KINDS, lrScheduleProblem } from '../src/model/schedule.ts';
import { COARSE_GRID, SEED_RULES } from '../src/postprocess/grid.ts';

const positiveInt = z.number().int().positive();

/**
 * One U-Net's training: Adam with a step learning-rate schedule, and exactly one budget: `epochs`,
 * `steps` (optimiser steps; stops after exactly that many, mid-epoch if need be) or `minutes` (wall
 * clock over all sessions, checked at epoch boundaries). src/model/schedule.ts has the rules.
 */
export const trainingSchema = z
  .strictObject({
    epochs: positiveInt.max(10_000).optional(),
    steps: positiveInt.max(10_000_000).optional(),
    minutes: z
      .number()
      .positive()
      .max(7 * 24 * 60)
      .optional(),
    batchSize: positiveInt.max(64),
    /** Square input side in pixels; the U-Net pools 4 times, so a multiple of 16. */
    inputSize: positiveInt
      .min(64)
      .max(1024)
      .refine((v) => v % 16 === 0, 'must be a multiple of 16 (the U-Net pools four times)'),
    /** Optimiser steps per epoch; default: training images / batch size. */
    stepsPerEpoch: positiveInt.max(100_000).optional(),
    lr: z.number().positive().max(1),
    lrSchedule: z.strictObject({
      /** Multiply the learning rate by `factor` at every drop. */
      factor: z.number().gt(0).max(1),
      /** Epochs budgets: a drop every `every` epochs. */
      every: positiveInt.optional(),
      /** Steps and minutes budgets: this many drops at equal fractions of the budget. */
      drops: z.number().int().min(0).max(100).optional(),
      /** Steps budgets: drop after exactly these step counts (a minutes run's recorded lrDrops). */
      atSteps: z.array(positiveInt).max(100).optional(),
    }),
    /**
     * Dropout in training; absent = on (the paper's net). Off suits short CPU budgets, where the
     * nets are under-fitted and dropout only slows them; the parameter count does not change.
     */
    dropout: z.boolean().optional(),
  })
  .superRefine((t, ctx) => {
    const given = BUDGET_KINDS.filter((k) => t[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `give one budget (epochs, steps or minutes), got ${given.length ? given.join(' and ') : 'none'}`,
      });
      return;
    }
    const kind = given[0]!;
    const problem = lrScheduleProblem(kind, t[kind]!, t.lrSchedule);
    if (problem)
      ctx.addIssue({ code: 'custom', path: ['lrSchedule', problem.field], message: problem.message });
  });

/** Values of one grid parameter: 1 to 50 distinct numbers. */
const gridValues = (item: z.ZodNumber, fallback: readonly number[]) =>
  z
    .array(item)
    .min(1)
    .max(50)
    .refine((v) => new Set(v).size === v.length, 'a value is repeated')
    .default([...fallback]);

/** The post-processing grid (src/postprocess/grid.ts): values per parameter, the cartesian product is scored. */
export const postprocessGridSchema = z
  .strictObject({
    threshold: gridValues(z.number().gt(0).lt(1), COARSE_GRID.threshold),
    sigmaScale: gridValues(z.number().positive().max(5), COARSE_GRID.sigmaScale),
    minDistanceScale: gridValues(z.number().positive().max(5), COARSE_GRID.minDistanceScale),
    expand: gridValues(z.number().int().min(0).max(8), COARSE_GRID.expand),
    /** Seed rules to choose between (postprocess.markers); absent: the spec's one rule. */
    markers: z
      .array(z.enum(SEED_RULES))
      .min(1)
      .refine((v) => new Set(v).size === v.length, 'a value is repeated')
      .optional(),
  })
  .refine(
    (g) =>
      g.threshold.length *
        g.sigmaScale.length *
        g.minDistanceScale.length *
        g.expand.length *
        (g.markers?.length ?? 1) <=
      2000,
    'at most 2000 settings (the product of the value counts)',
  );

const INTERIOR_NEEDS_THREE_CLASS =
  "'interior' seeds come from a three-class net; set groundTruth.target to three-class";

export const specSchema = z
  .strictObject({
    /** Short name: letters, digits, '-' and '_'. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'letters, digits, - and _ only (max 64)'),
    description: z.string().default(''),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1),
    dataset: z.strictObject({
      name: z.literal('monuseg'),
      /**
       * `kumar`: 16 train / 8 same-organ test / 6 different-organ test (manifest column split_kumar);
       * `kumar-val`: 12 of the training images train, the other 4 (one per organ) are scored, for
       * choosing variants without the test images; `all`: all 30 train, nothing is scored
       * (src/data/splits.ts).
       */
      split: z.enum(SPLIT_NAMES),
      /** Use only the first N training images (manifest order): CPU-budget runs. */
      maxTrainImages: positiveInt.max(30).optional(),
      /** Evaluate only the first N test images; omit for all 14. */
      maxTestImages: positiveInt.max(14).optional(),
    }),
    preprocessing: z.strictObject({
      stainNormalisation: z.boolean(),
      /**
       * The Macenko reference among the training slides: `paper` = the slide whose nuclei and
       * background grey-level histograms differ most (src/stain/reference.ts); `first` = the first
       * training slide in manifest order.
       */
      referenceSelection: z.enum(['paper', 'first']),
    }),
    augmentation: z.strictObject({
      /** rot90 + flips. */
      flipRotate: z.boolean(),
      /** HED colour jitter preset (src/augment/hed.ts HED_PRESETS), or off. */
      hed: z.enum(['off', 'light', 'medium', 'strong']),
    }),
    groundTruth: z
      .strictObject({
        /**
         * Stage-1 targets: the paper's modification (touching borders removed, each nucleus eroded)
         * when true; the plain binary mask when false (the ablation baseline).
         */
        erosion: z.boolean(),
        /** Erosion radius in pixels. */
        erosionRadius: positiveInt.max(8),
        /**
         * `three-class` (not in the paper): the segmentation net learns background / nucleus interior /
         * nucleus boundary (src/groundtruth/three-class.ts) with a softmax head, and its nucleus
         * probability (interior + boundary) feeds the same post-processing. Absent: the binary target.
         */
        target: z.enum(['binary', 'three-class']).optional(),
        /** Boundary width in pixels of the three-class target; default 2. */
        boundaryWidth: positiveInt.max(8).optional(),
      })
      .superRefine((g, ctx) => {
        if (g.target === 'three-class' && g.erosion)
          ctx.addIssue({
            code: 'custom',
            path: ['erosion'],
            message: 'the three-class target marks the boundary instead of eroding; set it to false',
          });
        if (g.boundaryWidth !== undefined && g.target !== 'three-class')
          ctx.addIssue({
            code: 'custom',
            path: ['boundaryWidth'],
            message: 'applies only to target three-class',
          });
      }),
    training: z.strictObject({
      seg: trainingSchema,
      dist: trainingSchema,
      /**
       * `scratch`: the distance net starts from he_normal weights, so both nets train in parallel
       * (the paper); `seg`: it starts from the trained segmentation net, after it.
       */
      distInit: z.enum(['scratch', 'seg']).default('scratch'),
    }),
    postprocess: z
      .strictObject({
        /** `paper`: the marker-smoothing sigma follows the estimated nucleus size. */
        sigmaRule: z.enum(['paper', 'fixed']),
        sigma: z.number().positive().max(20).optional(),
        /** Re-estimate the nucleus size from the instances and post-process again (not in the paper). */
        iterativeSizeReestimation: z.boolean(),
        /**
         * Grow the final instances by this many pixels into the background (not in the paper: undoes
         * the stage-1 target erosion); absent = 0.
         */
        expand: z.number().int().min(0).max(8).optional(),
        /**
         * Watershed seeds (not in the paper): `distance` (absent: the paper's peaks of the smoothed
         * distance map) or `interior` (one seed per connected component of a three-class net's interior
         * probability above 0.5; needs `groundTruth.target: three-class`).
         */
        markers: z.enum(SEED_RULES).optional(),
        /**
         * Post-processing selection (not in the paper): after training, the tunePostprocess activity
         * scores every setting of this grid on the TRAINING images (mean AJI, Dice, F1) and inference
         * and the packaged model use the best mean AJI. An object of value lists; a list left out is
         * the coarse grid's (src/postprocess/grid.ts COARSE_GRID, 48 settings), so `{}` is that grid.
         * Absent or `false`: no tuning; the fixed rule above (threshold 0.5, sigma and seed spacing
         * from the nucleus size, `expand`) is used, as in the paper.
         */
        grid: z
          .union([z.literal(false), postprocessGridSchema], {
            error: 'false, or an object of value lists (threshold, sigmaScale, minDistanceScale, expand)',
          })
          .optional(),
      })
      .superRefine((pp, ctx) => {
        if (!pp.grid) return;
        if (pp.sigmaRule === 'fixed')
          ctx.addIssue({
            code: 'custom',
            path: ['grid'],
            message: "a grid tunes sigmaScale, which sigmaRule 'fixed' ignores: use sigmaRule 'paper'",
          });
        if (pp.expand !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['expand'],
            message: 'the grid chooses expand: give the values in postprocess.grid.expand instead',
          });
      }),
    /**
     * How the trained nets are run, in tuning, on the test images and by `segment` with the model
     * (model.json `inference`). `tta`: average both nets over the 8 flips and rotations (8x the
     * inference time). Absent: one view, as in the paper.
     */
    inference: z.strictObject({ tta: z.boolean() }).optional(),
    evaluation: z.strictObject({
      metrics: z.array(z.enum(['dice', 'f1', 'aji', 'ajiPlus', 'pq'])).min(1),
      /** Write label maps and overlays of the test images as artifacts. */
      saveLabels: z.boolean().default(true),
      /** Write contour overlays of the test images (artifacts, and to MLflow under overlays/). */
      saveOverlays: z.boolean().default(true),
    }),
    orchestration: z
      .strictObject({
        /**
         * Task queue of the training activities: `train-cpu`. `train-gpu` is reserved for a GPU build of
         * TensorFlow, which is not wired in yet: a worker refuses to poll it, so no run trains there.
         */
        trainQueue: z.enum(['train-cpu', 'train-gpu']).default('train-cpu'),
        /** Training activities heartbeat at least this often; a dead worker is noticed after it. */
        heartbeatTimeoutSeconds: positiveInt.min(5).max(3600).default(60),
        /** Hard ceiling for one training activity attempt. */
        trainTimeoutMinutes: positiveInt.max(7 * 24 * 60).default(24 * 60),
        /**
         * At most this many of an experiment's runs at once, started in matrix order; unset, all at
         * once. With 1 on a small machine the runs complete one by one instead of all sharing the
         * cores and none finishing until the end.
         */
        maxParallelRuns: positiveInt.optional(),
      })
      .default({ trainQueue: 'train-cpu', heartbeatTimeoutSeconds: 60, trainTimeoutMinutes: 24 * 60 }),
    /**
     * Ablation matrix: dotted spec paths (or an alias such as `gtErosion`) to lists of values. The
     * spec expands into the cartesian product of runs that share everything else. The key `variant`
     * lists objects of paths to values, each set together as one arm, for changes that go together
     * (e.g. `{ 'groundTruth.target': 'three-class', gtErosion: false }` against `{ gtErosion: true }`).
     */
    matrix: z.record(z.string(), z.array(z.unknown())).optional(),
  })
  .superRefine((s, ctx) => {
    if (s.postprocess.markers === 'interior' && s.groundTruth.target !== 'three-class')
      ctx.addIssue({
        code: 'custom',
        path: ['postprocess', 'markers'],
        message: INTERIOR_NEEDS_THREE_CLASS,
      });
    const markers = (s.postprocess.grid || undefined)?.markers;
    if (markers?.includes('interior') && s.groundTruth.target !== 'three-class')
      ctx.addIssue({
        code: 'custom',
        path: ['postprocess', 'grid', 'markers'],
        message: INTERIOR_NEEDS_THREE_CLASS,
      });
    if (markers && s.postprocess.markers !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['postprocess', 'markers'],
        message: 'give the seed rule once: here, or as a list in postprocess.grid.markers',
      });
  });

/** What a spec file may contain (defaults not yet applied). */
export type SpecInput = z.input<typeof specSchema>;
/** A validated spec, defaults applied. */
export type Spec = z.output<typeof specSchema>;
/** One run's fully resolved spec: a spec without a matrix. */
export type RunSpec = Omit<Spec, 'matrix'>;
export type TrainingSpec = z.output<typeof trainingSchema>;
