/**
 * Temporal activities: thin adapters that call the science (a Compute) and record everything in
 * the tracking store. Each one is safe to run again: tracking writes are upserts on natural keys,
 * files are written atomically to paths derived from the run id, and training resumes from the
 * checkpoint in its run folder. Activities that run long heartbeat; training heartbeats at least
 * every epoch with the checkpoint path (and on a timer, so a slow epoch is not taken for a dead
 * worker).
 */
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { activityInfo, Context, heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { type RunSpec, recipeHash } from '../experiments/index.ts';
import { type Config, REPO_ROOT } from '../src/config.ts';
import { UserError } from '../src/errors.ts';
import { writeFileAtomic } from '../src/io/atomic-write.ts';
import { subsetMeans } from '../src/metrics/subsets.ts';
import type { TunedPostprocess } from '../src/model/model-dir.ts';
import { plannedEpochs } from '../src/model/schedule.ts';
import type { PlanOutcome, RegionsOutcome, SlideJob } from '../src/slide/pipeline.ts';
import type { Db } from '../src/storage/index.ts';
import { splitDatasetInputs } from '../src/tracking/datasets.ts';
import * as tracking from '../src/tracking/index.ts';
import type { MlflowClient } from '../src/tracking/mlflow-client.ts';
import { modelCard, registerModelVersion, specNameOf } from '../src/tracking/registry.ts';
import { renderReport, resultsCsv, SCORE_KEYS } from '../src/tracking/report.ts';
import type { Compute } from './compute.ts';
import type {
  EvalSummary,
  InferInput,
  Prediction,
  SlideRef,
  SplitResult,
  StainTarget,
  SubsetMeans,
  TrainHeartbeat,
  TrainInput,
  TrainOutput,
  TuneInput,
  TuneOutput,
} from './types.ts';

/** The slide summary's numbers the workflow needs (the whole summary stays in its JSON file). */
export interface SlideSummaryHead {
  readonly nuclei: number;
  readonly tissueAreaMm2: number;
  readonly summary: string;
}

export interface ActivityDeps {
  readonly config: Config;
  readonly db: Db;
  /** Undefined when MLFLOW_TRACKING_URI is not set: the outbox then keeps its rows. */
  readonly mlflow: MlflowClient | undefined;
  readonly compute: Compute;
}

/** Folder of one run's files under the NucleiFlow home (shared storage when workers span hosts). */
export const runDir = (config: Config, runId: string) => join(config.home, 'runs', runId);

let commitCache: string | undefined;
/** The code's git commit, with `-dirty` when tracked files differ from it. */
export function codeCommit(): string {
  if (commitCache) return commitCache;
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    let dirty = false;
    try {
      execFileSync('git', ['diff', '--quiet', 'HEAD', '--'], { cwd: REPO_ROOT });
    } catch {
      dirty = true;
    }
    commitCache = dirty ? `${head}-dirty` : head;
  } catch {
    commitCache = 'unknown';
  }
  return commitCache;
}

/** User errors (bad data, bad config) fail at once; retrying cannot fix them. */
function nonRetryable(err: unknown): never {
  if (err instanceof UserError) {
    throw ApplicationFailure.create({ message: err.message, type: err.name, nonRetryable: true, cause: err });
  }
  throw err;
}

/**
 * Runs `fn` with the activity's cancellation signal, heartbeating `details()` at once and every 2 s so a long
 * call is not taken for a dead worker; a user error fails at once without retries, unless the call was cancelled.
 */
async function heartbeating<T>(details: () => unknown, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  heartbeat(details());
  const beat = setInterval(() => heartbeat(details()), 2000);
  try {
    return await fn(ctx.cancellationSignal);
  } catch (err) {
    if (ctx.cancellationSignal.aborted) throw err;
    return nonRetryable(err);
  } finally {
    clearInterval(beat);
  }
}

/** Retries a tracking write through a short database outage (e.g. a Postgres restart). */
async function persist<T>(what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  let delay = 250;
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline || signal?.aborted) throw err;
      Context.current().log.warn(`${what} failed, retrying in ${delay} ms: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}

async function runSpec(db: Db, runId: string): Promise<{ spec: RunSpec; configHash: string }> {
  const run = await tracking.getRun(db, runId);
  if (!run) throw ApplicationFailure.nonRetryable(`run ${runId} is not in the tracking database`);
  return { spec: run.spec as RunSpec, configHash: run.configHash };
}

export function createActivities(deps: ActivityDeps) {
  const { config, db, compute } = deps;

  const activities = {
    /** Marks the run running on this worker and records its params (the resolved spec, flattened). */
    async startRun(input: { runId: string; workflowId: string }): Promise<void> {
      const { spec } = await runSpec(db, input.runId);
      await tracking.markRunStarted(db, input.runId, {
        codeCommit: codeCommit(),
        workerHost: hostname(),
        workflowId: input.workflowId,
      });
      await tracking.putParams(db, input.runId, tracking.flattenParams(spec));
    },

    async splitData(input: { runId: string; spec: RunSpec }): Promise<SplitResult> {
      const t0 = performance.now();
      const split = await compute.split(config.dataDir, input.spec).catch(nonRetryable);
      await tracking.setDataHash(db, input.runId, split.dataHash);
      const base = `${input.spec.dataset.name}-${input.spec.dataset.split}`;
      await tracking.putDatasetInputs(db, input.runId, await splitDatasetInputs(base, config.dataDir, split));
      await tracking.addTimings(db, input.runId, { split: (performance.now() - t0) / 1000 });
      return split;
    },

    async selectReference(input: {
      runId: string;
      spec: RunSpec;
      train: SlideRef[];
    }): Promise<StainTarget | null> {
      const t0 = performance.now();
      const target = await compute.selectReference(input.spec, input.train).catch(nonRetryable);
      if (target) await tracking.putParams(db, input.runId, { 'stain.reference': target.referenceId });
      await tracking.addTimings(db, input.runId, { reference: (performance.now() - t0) / 1000 });
      return target;
    },

    /** Stain-normalises training and test slides into the content-addressed cache. */
    async normalise(input: {
      runId: string;
      spec: RunSpec;
      slides: SlideRef[];
      stain: StainTarget | null;
    }): Promise<{ cached: number; computed: number }> {
      const t0 = performance.now();
      const r = await compute
        .normalise(input.spec, input.slides, input.stain, (i) => heartbeat({ done: i }))
        .catch(nonRetryable);
      await tracking.addTimings(db, input.runId, { normalise: (performance.now() - t0) / 1000 });
      return r;
    },

    /**
     * Trains one U-Net. Heartbeats carry {epoch, checkpoint}; a retry (after a worker died, or
     * `nucleiflow resume`) continues from the checkpoint in the run folder, which is where the
     * heartbeat details point.
     */
    async trainNet(input: TrainInput): Promise<TrainOutput> {
      const ctx = Context.current();
      const info = activityInfo();
      const { configHash } = await runSpec(db, input.runId);
      const checkpointDir = join(runDir(config, input.runId), input.stage, 'checkpoint');
      await mkdir(checkpointDir, { recursive: true });
      const previous = info.heartbeatDetails as TrainHeartbeat | undefined;
      if (previous?.checkpoint) {
        ctx.log.info(
          `resuming ${input.stage} of ${input.runId} after epoch ${previous.epoch} from ${previous.checkpoint}`,
        );
      }
      let last: TrainHeartbeat = previous ?? {
        stage: input.stage,
        epoch: 0,
        epochs: plannedEpochs(input.spec.training[input.stage], input.train.length),
        checkpoint: null,
      };
      // Between epochs the timer keeps the heartbeat alive; the SDK throttles what it sends.
      const beat = setInterval(() => heartbeat(last), 2000);
      heartbeat(last);
      const t0 = performance.now();
      try {
        const r = await compute.train({
          stage: input.stage,
          spec: input.spec,
          configHash,
          train: input.train,
          stain: input.stain,
          checkpointDir,
          signal: ctx.cancellationSignal,
          onEpoch: async (e) => {
            await persist(
              `metrics of ${input.stage} epoch ${e.epoch}`,
              () => tracking.putStepMetrics(db, input.runId, input.stage, e.epoch, e.values),
              ctx.cancellationSignal,
            );
            last = { stage: input.stage, epoch: e.epoch, epochs: e.epochs, checkpoint: checkpointDir };
            heartbeat(last);
          },
        });
        await persist('checkpoint artifact', () =>
          tracking.putArtifact(db, input.runId, 'checkpoint', r.checkpoint),
        );
        await persist('trained record', () => tracking.setTrained(db, input.runId, input.stage, r.trained));
        await tracking.addTimings(db, input.runId, {
          [`train_${input.stage}`]: (performance.now() - t0) / 1000,
          [`train_${input.stage}_total`]: r.wallSeconds,
          [`train_${input.stage}_resumed_from`]: r.resumedFrom,
        });
        return { stage: input.stage, ...r };
      } catch (err) {
        if (ctx.cancellationSignal.aborted) throw err;
        return nonRetryable(err);
      } finally {
        clearInterval(beat);
      }
    },

    /**
     * Chooses the post-processing on the TRAINING slides: both nets run once per slide, every
     * setting of spec.postprocess.grid is scored (mean AJI, Dice, F1) and stored in tuning_results,
     * the best mean AJI marked chosen. Records that only training images were read (params
     * `tuning.images`=train and `tuning.image_ids`) and refuses any slide that is not a training one.
     */
    async tunePostprocess(input: TuneInput): Promise<TuneOutput> {
      const ctx = Context.current();
      const t0 = performance.now();
      const foreign = input.train.filter((s) => s.subset !== 'train');
      if (foreign.length)
        throw ApplicationFailure.nonRetryable(
          `tunePostprocess: ${foreign[0]!.id} is a ${foreign[0]!.subset} test slide; tuning reads training slides only`,
          'UserError',
        );
      const r = await compute
        .tune({
          spec: input.spec,
          slides: input.train,
          stain: input.stain,
          seg: input.seg,
          dist: input.dist,
          modelDir: join(runDir(config, input.runId), 'model'),
          signal: ctx.cancellationSignal,
          onProgress: (p) => heartbeat(p),
        })
        .catch(nonRetryable);
      await tracking.putTuningResults(
        db,
        input.runId,
        r.scores.map((x) => ({
          setting: x.key,
          params: { ...x.setting },
          aji: x.aji,
          dice: x.dice,
          f1: x.f1,
          images: x.images,
          chosen: x.key === r.chosen.key,
        })),
      );
      await tracking.putParams(db, input.runId, {
        'tuning.images': 'train',
        'tuning.image_count': String(r.images.length),
        'tuning.image_ids': JSON.stringify(r.images),
        'tuning.settings': String(r.scores.length),
        'tuning.chosen': r.chosen.key,
        'tuning.chosen_aji': r.chosen.aji.toFixed(4),
      });
      await tracking.putStepMetrics(db, input.runId, 'tuning', 0, {
        aji: r.chosen.aji,
        dice: r.chosen.dice,
        f1: r.chosen.f1,
        settings: r.scores.length,
        images: r.images.length,
      });
      await tracking.addTimings(db, input.runId, { tune: (performance.now() - t0) / 1000 });
      return {
        key: r.chosen.key,
        setting: r.chosen.setting,
        aji: r.chosen.aji,
        dice: r.chosen.dice,
        f1: r.chosen.f1,
        settings: r.scores.length,
        images: r.images,
      };
    },

    /**
     * Writes one instance label map per test slide, and one of stage 1 alone; skips slides whose
     * maps a previous attempt wrote.
     */
    async infer(input: InferInput): Promise<Prediction[]> {
      const ctx = Context.current();
      const t0 = performance.now();
      const dir = runDir(config, input.runId);
      const outDir = join(dir, 'labels');
      const stage1Dir = join(dir, 'labels-stage1');
      const modelDir = join(dir, 'model');
      const overlayDir = input.spec.evaluation.saveOverlays ? join(dir, 'overlays') : null;
      await mkdir(outDir, { recursive: true });
      await mkdir(stage1Dir, { recursive: true });
      if (overlayDir) await mkdir(overlayDir, { recursive: true });
      const preds = await compute
        .infer({
          spec: input.spec,
          slides: input.test,
          stain: input.stain,
          seg: input.seg,
          dist: input.dist,
          outDir,
          stage1Dir,
          modelDir,
          tuned: input.tuned ? tunedPostprocess(input.tuned) : null,
          overlayDir,
          signal: ctx.cancellationSignal,
          onImage: async (p, i) => {
            heartbeat({ done: i + 1 });
            if (input.spec.evaluation.saveLabels) {
              await persist('label artifact', () =>
                tracking.putArtifact(db, input.runId, 'labels', p.labels),
              );
              const s1 = p.stage1Labels;
              if (s1)
                await persist('stage-1 label artifact', () =>
                  tracking.putArtifact(db, input.runId, 'labels-stage1', s1),
                );
            }
            const overlay = p.overlay;
            if (overlay) {
              await persist('overlay artifact', () =>
                tracking.putArtifact(db, input.runId, 'overlay', overlay, `overlays/${p.slide.id}.png`),
              );
            }
            for (const [layer, path] of Object.entries(p.layers ?? {})) {
              await persist('layer artifact', () => tracking.putArtifact(db, input.runId, layer, path));
            }
          },
        })
        .catch(nonRetryable);
      // The packaged model: model.json (the card: format, tensors, stain target, sha256s) also to MLflow.
      await tracking.putArtifact(db, input.runId, 'model', join(modelDir, 'model.json'), 'model/model.json');
      for (const f of ['seg.bin', 'dist.bin'])
        await tracking.putArtifact(db, input.runId, 'model', join(modelDir, f));
      await tracking.addTimings(db, input.runId, { infer: (performance.now() - t0) / 1000 });
      return preds;
    },

    /**
     * Scores every prediction against its ground truth: one row per image and method (two-stage,
     * stage 1 alone), then the means (eval metrics `all_aji`, ..., and `stage1_all_aji`, ...).
     */
    async evaluate(input: { runId: string; spec: RunSpec; predictions: Prediction[] }): Promise<EvalSummary> {
      const t0 = performance.now();
      const rows: tracking.ImageResultRow[] = [];
      for (const [i, p] of input.predictions.entries()) {
        rows.push(...(await compute.evaluate(input.spec, p).catch(nonRetryable)));
        heartbeat({ done: i + 1 });
      }
      await tracking.putImageResults(db, input.runId, rows);
      if (input.spec.dataset.split === 'kumar' && rows.length)
        await tracking.recordTestScoring(db, input.runId, recipeHash(input.spec));
      const summary = summarise(rows);
      const flat: Record<string, number> = {};
      for (const [prefix, s] of [
        ['', summary],
        ['stage1_', summary.stage1],
      ] as const) {
        for (const [group, means] of Object.entries({ all: s?.all, seen: s?.seen, unseen: s?.unseen })) {
          for (const [k, v] of Object.entries(means ?? {})) flat[`${prefix}${group}_${k}`] = v;
        }
      }
      await tracking.putStepMetrics(db, input.runId, 'eval', 0, flat);
      await tracking.addTimings(db, input.runId, { evaluate: (performance.now() - t0) / 1000 });
      return summary;
    },

    /**
     * Writes the Table-1-style report, the per-image CSV and the run card, registered as artifacts
     * (and queued for MLflow), and marks the run completed.
     */
    async report(input: { runId: string }): Promise<string> {
      const dir = runDir(config, input.runId);
      await mkdir(dir, { recursive: true });
      const run = await tracking.getRun(db, input.runId);
      if (!run) throw ApplicationFailure.nonRetryable(`run ${input.runId} is not in the tracking database`);
      // Both methods for the report; results.csv keeps the run's (two-stage) result, stage 1 alone beside it.
      const rows = await tracking.getImageResults(db, input.runId, 'all');
      const params = await tracking.getParams(db, input.runId);
      const md = join(dir, 'report.md');
      const csv = join(dir, 'results.csv');
      const csv1 = join(dir, 'results-stage1.csv');
      const card = join(dir, 'run-card.json');
      const stage1 = rows.filter((r) => r.method === 'stage1');
      await writeFileAtomic(md, renderReport(run, params, rows));
      await writeFileAtomic(csv, resultsCsv(rows.filter((r) => r.method === 'two-stage')));
      if (stage1.length) await writeFileAtomic(csv1, resultsCsv(stage1));
      await writeFileAtomic(
        card,
        `${JSON.stringify(
          {
            run: run.id,
            experiment: run.experimentId,
            arm: run.arm,
            configHash: run.configHash,
            seed: run.seed,
            codeCommit: run.codeCommit,
            dataHash: run.dataHash,
            workerHost: run.workerHost,
            timings: run.timings,
            spec: run.spec,
          },
          null,
          2,
        )}\n`,
      );
      await tracking.putArtifact(db, input.runId, 'report', md, 'report/report.md');
      await tracking.putArtifact(db, input.runId, 'report', csv, 'report/results.csv');
      if (stage1.length)
        await tracking.putArtifact(db, input.runId, 'report', csv1, 'report/results-stage1.csv');
      await tracking.putArtifact(db, input.runId, 'report', card, 'report/run-card.json');
      await tracking.setRunStatus(db, input.runId, 'completed');
      return md;
    },

    /**
     * Registers the completed run's packaged model (runDir/model) as the next version of the model
     * named after its spec, with a card built from the store; a retry returns the same version.
     */
    async registerModel(input: { runId: string }): Promise<{ name: string; version: number }> {
      const run = await tracking.getRun(db, input.runId);
      if (!run) throw ApplicationFailure.nonRetryable(`run ${input.runId} is not in the tracking database`);
      const dir = join(runDir(config, input.runId), 'model');
      const registered = await (async () => {
        const name = specNameOf(run.spec);
        const card = await modelCard(db, input.runId, dir);
        return registerModelVersion(db, { name, runId: input.runId, dir, card });
      })().catch(nonRetryable);
      return { name: registered.name, version: registered.version };
    },

    async finishRun(input: { runId: string; status: tracking.RunStatus; error?: string }): Promise<void> {
      await tracking.setRunStatus(db, input.runId, input.status, input.error);
    },

    /** Sets the experiment's status from its runs': running while any runs, else failed/cancelled/completed. */
    async refreshExperiment(input: { experimentId: string }): Promise<string> {
      const rs = await tracking.listRuns(db, { experimentId: input.experimentId });
      const status = tracking.experimentStatusOf(rs.map((r) => r.status));
      await tracking.setExperimentStatus(db, input.experimentId, status);
      return status;
    },

    /**
     * Sets the experiment's status from its runs, then delivers the runs' pending MLflow records;
     * fails (retried with backoff) while any stay pending, so the experiment workflow ends only
     * once MLflow has everything.
     */
    async closeExperiment(input: { experimentId: string; runIds: string[] }): Promise<string> {
      const status = await activities.refreshExperiment({ experimentId: input.experimentId });
      await activities.deliverOutbox({ runIds: input.runIds, mustEmpty: true });
      return status;
    },

    /** Records a slide segmentation's state in the tracking store (upsert by workflow id). */
    async recordSlide(input: tracking.SlideRecord): Promise<void> {
      await persist('slide record', () => tracking.recordSlide(db, input));
    },

    /** Plans a slide: pixel size, identity (a changed slide is refused), tissue, regions, stain, calibration. */
    async planSlide(input: { job: SlideJob }): Promise<PlanOutcome> {
      return heartbeating(
        () => undefined,
        () => compute.slidePlan(input.job),
      );
    },

    /**
     * Segments a batch of a planned slide's regions, each recorded as a part as it finishes; a region already
     * recorded (by an earlier attempt, or another worker) is skipped. Heartbeats per region and on a timer.
     */
    async segmentSlideRegions(input: { job: SlideJob; ids: string[] }): Promise<RegionsOutcome> {
      let done = 0;
      return heartbeating(
        () => ({ done }),
        (signal) =>
          compute.slideRegions({
            job: input.job,
            ids: input.ids,
            signal,
            onRegion: async () => {
              done++;
              heartbeat({ done });
            },
          }),
      );
    },

    /** Merges a slide's recorded regions into its GeoJSON, CSV, summary and thumbnail. */
    async mergeSlide(input: { job: SlideJob }): Promise<SlideSummaryHead> {
      const s = await heartbeating(
        () => undefined,
        () => compute.slideMerge(input.job),
      );
      return { nuclei: s.nuclei, tissueAreaMm2: s.tissueAreaMm2, summary: s.files.summary };
    },

    /**
     * Delivers pending MLflow records. With `mustEmpty`, fails (and is retried by Temporal with
     * backoff) while anything stays pending, so an experiment ends only when MLflow has it all.
     */
    async deliverOutbox(input: {
      runIds: string[];
      mustEmpty: boolean;
    }): Promise<{ delivered: number; pending: number }> {
      let delivered = 0;
      let pending = 0;
      let error: string | undefined;
      for (const runId of input.runIds) {
        if (!deps.mlflow) {
          pending += await tracking.pendingOutbox(db, runId);
          continue;
        }
        const r = await tracking.drainOutbox(db, deps.mlflow, { runId });
        delivered += r.delivered;
        pending += r.pending;
        error ??= r.error;
      }
      if (deps.mlflow && input.mustEmpty && pending > 0) {
        throw ApplicationFailure.retryable(
          `${pending} MLflow records still pending: ${error ?? 'unknown error'}`,
          'OutboxPending',
        );
      }
      return { delivered, pending };
    },
  };
  return activities;
}

export type Activities = ReturnType<typeof createActivities>;

/** Means of each score over one method's rows, for all images and for seen / unseen organs. */
function means(rows: readonly tracking.ImageResultRow[]): SubsetMeans {
  const m = subsetMeans(rows, SCORE_KEYS);
  return { n: rows.length, all: m.all ?? {}, seen: m.seen, unseen: m.unseen };
}

/** The two-stage rows' means, and the stage-1-alone rows' (null without any). */
export function summarise(rows: readonly tracking.ImageResultRow[]): EvalSummary {
  const stage1 = rows.filter((r) => r.method === 'stage1');
  return {
    ...means(rows.filter((r) => r.method === 'two-stage')),
    stage1: stage1.length ? means(stage1) : null,
  };
}

/** The chosen setting as model.json carries it (src/model/model-dir.ts TunedPostprocess). */
export function tunedPostprocess(t: TuneOutput): TunedPostprocess {
  return {
    ...t.setting,
    chosenOn:
      `grid of ${t.settings} settings, mean AJI on the ${t.images.length} training images ` +
      `(tunePostprocess activity; test images took no part): ${t.key} AJI ${t.aji.toFixed(4)}, ` +
      `Dice ${t.dice.toFixed(4)}, F1 ${t.f1.toFixed(4)}`,
  };
}
