/**
 * Tracking repository: the only code that writes experiments, runs, params, metrics, per-image
 * results and artifacts. Every write is keyed by its natural key (upsert or insert-or-ignore), so an
 * activity retried after a crash leaves exactly the rows one clean attempt would have left. Run
 * writes queue their MLflow mirror in `mlflow_outbox`, in the same transaction, so the two stores
 * cannot disagree about what is pending: start and data hash as tags, params, step metrics,
 * timings (`timing.<stage>`) and per-image results (`image.<id>.<score>`) as metrics, a terminal
 * status as the run's end, artifacts given an MLflow path as files, and the training and test sets
 * as dataset inputs. Not mirrored: experiment rows and their status (the MLflow experiment of a
 * spec is created when its first run is delivered and has no status), and artifacts without an
 * MLflow path (checkpoints, weights, label maps: local only).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { and, eq, sql } from 'drizzle-orm';
import type { EvalResult } from '../metrics/index.ts';
import { type Db, schema } from '../storage/index.ts';
import type { MlflowDatasetInput } from './mlflow-client.ts';
import type { TrainedStage } from './queries.ts';

const { experiments, runs, params, metrics, imageResults, tuningResults, artifacts, mlflowOutbox } = schema;

export type RunStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';
export const TERMINAL: readonly RunStatus[] = ['completed', 'failed', 'cancelled'];

/** An experiment's status from its runs': running while any is unfinished, then failed, cancelled, completed. */
export function experimentStatusOf(
  statuses: readonly string[],
): 'running' | 'failed' | 'cancelled' | 'completed' {
  if (statuses.some((s) => s === 'running' || s === 'pending')) return 'running';
  if (statuses.includes('failed')) return 'failed';
  return statuses.includes('cancelled') ? 'cancelled' : 'completed';
}

/** A transaction or the database itself: repository functions accept either. */
type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type Exec = Db | Tx;

export type OutboxPayload =
  | { kind: 'metrics'; metrics: Array<{ key: string; value: number; step: number; timestamp: number }> }
  | { kind: 'params'; params: Array<{ key: string; value: string }> }
  | { kind: 'tags'; tags: Array<{ key: string; value: string }> }
  | { kind: 'artifact'; file: string; artifactPath: string; sha256: string }
  | { kind: 'terminate'; status: 'FINISHED' | 'FAILED' | 'KILLED'; endTime: number }
  | { kind: 'inputs'; datasets: MlflowDatasetInput[] };

/** Short content hash for dedupe keys: the same write repeated is queued once, a changed one again. */
const digest = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);

/** MLflow metric points at step 0; non-finite values are left out (JSON, and so the payload, has no NaN). */
function pointsAtZero(values: Record<string, number>, prefix: string, timestamp: number) {
  return Object.entries(values)
    .filter(([, v]) => Number.isFinite(v))
    .map(([key, value]) => ({ key: `${prefix}${key}`, value, step: 0, timestamp }));
}

async function enqueue(tx: Exec, runId: string, dedupeKey: string, payload: OutboxPayload): Promise<void> {
  await tx
    .insert(mlflowOutbox)
    .values({ runId, kind: payload.kind, dedupeKey, payload })
    .onConflictDoNothing({ target: mlflowOutbox.dedupeKey });
}

export interface NewRun {
  readonly id: string;
  readonly arm: Record<string, unknown>;
  readonly spec: unknown;
  readonly configHash: string;
  readonly seed: number;
  readonly workflowId: string;
  /** Params recorded with the run, in the transaction that creates it (queued for MLflow like putParams'). */
  readonly params?: Readonly<Record<string, string>>;
}

/**
 * Records an experiment and its planned runs with their params, all in one transaction
 * (idempotent: a second call changes nothing).
 */
export async function createExperiment(
  db: Db,
  e: {
    id: string;
    name: string;
    specName: string;
    spec: unknown;
    workflowId: string;
    runs: readonly NewRun[];
  },
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .insert(experiments)
      .values({ id: e.id, name: e.name, specName: e.specName, spec: e.spec, workflowId: e.workflowId })
      .onConflictDoNothing({ target: experiments.id });
    for (const r of e.runs) {
      await tx
        .insert(runs)
        .values({
          id: r.id,
          experimentId: e.id,
          arm: r.arm,
          spec: r.spec,
          configHash: r.configHash,
          seed: r.seed,
          workflowId: r.workflowId,
        })
        .onConflictDoNothing({ target: runs.id });
      await insertParams(tx, r.id, r.params ?? {});
    }
  });
}

/** Marks a run running on this worker; keeps the first start time across retries and resumes. */
export async function markRunStarted(
  db: Db,
  runId: string,
  info: { codeCommit: string; workerHost: string; workflowId: string },
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .update(runs)
      .set({
        status: 'running',
        error: null,
        codeCommit: info.codeCommit,
        workerHost: info.workerHost,
        workflowId: info.workflowId,
        startedAt: sql`coalesce(${runs.startedAt}, now())`,
        finishedAt: null,
      })
      .where(eq(runs.id, runId));
    const tags = [
      { key: 'mlflow.source.git.commit', value: info.codeCommit },
      { key: 'nucleiflow.worker_host', value: info.workerHost },
      { key: 'temporal.workflow_id', value: info.workflowId },
    ];
    await enqueue(tx, runId, `tags:start:${runId}:${info.workflowId}:${info.codeCommit}`, {
      kind: 'tags',
      tags,
    });
  });
}

/** Records the data hash (split + images) once it is known. */
export async function setDataHash(db: Db, runId: string, dataHash: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.update(runs).set({ dataHash }).where(eq(runs.id, runId));
    await enqueue(tx, runId, `tags:data:${runId}:${dataHash}`, {
      kind: 'tags',
      tags: [{ key: 'nucleiflow.data_hash', value: dataHash }],
    });
  });
}

/**
 * Queues the run's datasets (src/tracking/datasets.ts) as MLflow dataset inputs. Only the outbox
 * keeps them: the store has the run's data hash; the same datasets queued again are queued once.
 */
export async function putDatasetInputs(
  db: Db,
  runId: string,
  datasets: readonly MlflowDatasetInput[],
): Promise<void> {
  if (datasets.length === 0) return;
  await enqueue(db, runId, `inputs:${runId}:${digest(datasets)}`, {
    kind: 'inputs',
    datasets: [...datasets],
  });
}

/**
 * Merges stage timings (seconds) into runs.timings and queues them as MLflow metrics
 * `timing.<key>` at step 0. A retry that measured another value overwrites the row and queues the
 * new value with a later timestamp, which MLflow then reports as the latest.
 */
export async function addTimings(db: Db, runId: string, timings: Record<string, number>): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .update(runs)
      .set({ timings: sql`${runs.timings} || ${JSON.stringify(timings)}::jsonb` })
      .where(eq(runs.id, runId));
    const points = pointsAtZero(timings, 'timing.', Date.now());
    if (points.length)
      await enqueue(tx, runId, `timings:${runId}:${digest(timings)}`, { kind: 'metrics', metrics: points });
  });
}

/**
 * Records what a net's training ran under runs.trained.<stage>, merged with the other stage's
 * record (jsonb ||), so the two nets can finish in either order. Idempotent: a retried activity
 * writes the same record again. Also queued for MLflow as metrics `trained.<stage>.steps`, ...
 */
export async function setTrained(
  db: Db,
  runId: string,
  stage: 'seg' | 'dist',
  r: TrainedStage,
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .update(runs)
      .set({ trained: sql`${runs.trained} || ${JSON.stringify({ [stage]: r })}::jsonb` })
      .where(eq(runs.id, runId));
    const values = {
      steps: r.steps,
      epochs: r.epochs,
      wall_seconds: r.wallSeconds,
      cpu_seconds: r.cpuSeconds,
    };
    await enqueue(tx, runId, `trained:${runId}:${stage}:${digest(r)}`, {
      kind: 'metrics',
      metrics: pointsAtZero(values, `trained.${stage}.`, Date.now()),
    });
  });
}

/** Sets a run's status; a terminal status also records the end time and closes the MLflow run. */
export async function setRunStatus(db: Db, runId: string, status: RunStatus, error?: string): Promise<void> {
  await db.transaction(async (tx) => {
    const terminal = TERMINAL.includes(status);
    await tx
      .update(runs)
      .set({ status, error: error ?? null, ...(terminal ? { finishedAt: sql`now()` } : {}) })
      .where(eq(runs.id, runId));
    if (terminal) {
      const mlStatus = status === 'completed' ? 'FINISHED' : status === 'failed' ? 'FAILED' : 'KILLED';
      // One terminate per status change; a resumed run that finishes later queues its own.
      const [{ n }] = (await tx
        .select({ n: sql<number>`count(*)::int` })
        .from(mlflowOutbox)
        .where(and(eq(mlflowOutbox.runId, runId), eq(mlflowOutbox.kind, 'terminate')))) as [{ n: number }];
      await enqueue(tx, runId, `terminate:${runId}:${n}:${mlStatus}`, {
        kind: 'terminate',
        status: mlStatus,
        endTime: Date.now(),
      });
    }
  });
}

export async function setExperimentStatus(db: Db, id: string, status: string): Promise<void> {
  await db
    .update(experiments)
    .set({ status, ...(status === 'running' ? {} : { finishedAt: sql`now()` }) })
    .where(eq(experiments.id, id));
}

/** Flattens a nested object into dotted keys with string values (MLflow params are strings). */
export function flattenParams(
  obj: unknown,
  prefix = '',
  out: Record<string, string> = {},
): Record<string, string> {
  if (obj !== null && typeof obj === 'object' && !Array.isArray(obj)) {
    for (const [k, v] of Object.entries(obj)) flattenParams(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (obj !== undefined) {
    out[prefix] = typeof obj === 'string' ? obj : JSON.stringify(obj);
  }
  return out;
}

/** Params are immutable (as in MLflow): the first value written for a key stays. */
export async function putParams(db: Db, runId: string, values: Record<string, string>): Promise<void> {
  if (Object.keys(values).length === 0) return;
  await db.transaction((tx) => insertParams(tx, runId, values));
}

/**
 * Records that the run scored the Kumar test split: params `test.recipe` (the spec's recipe hash,
 * experiments/index.ts recipeHash) and `test.scored_at`, the time of its first scoring; a retry keeps
 * the first time (params are immutable, and the same values are not queued twice).
 */
export async function recordTestScoring(db: Db, runId: string, recipe: string): Promise<void> {
  const [have] = await db
    .select({ v: params.value })
    .from(params)
    .where(and(eq(params.runId, runId), eq(params.key, 'test.scored_at')));
  if (have) return;
  await putParams(db, runId, { 'test.recipe': recipe, 'test.scored_at': new Date().toISOString() });
}

/** The params rows and their outbox entries, in the caller's transaction. */
async function insertParams(tx: Tx, runId: string, values: Readonly<Record<string, string>>): Promise<void> {
  const entries = Object.entries(values);
  if (entries.length === 0) return;
  await tx
    .insert(params)
    .values(entries.map(([key, value]) => ({ runId, key, value })))
    .onConflictDoNothing({ target: [params.runId, params.key] });
  for (let i = 0; i < entries.length; i += 100) {
    const chunk = entries.slice(i, i + 100);
    await enqueue(tx, runId, `params:${runId}:${digest(chunk)}`, {
      kind: 'params',
      params: chunk.map(([key, value]) => ({ key, value })),
    });
  }
}

/**
 * Records the scalars of one step (an epoch, or the final evaluation) of one stage. A retried or
 * resumed epoch overwrites its own row: (run, stage, key, step) is the key, so no duplicates.
 */
export async function putStepMetrics(
  db: Db,
  runId: string,
  stage: string,
  step: number,
  values: Record<string, number>,
): Promise<void> {
  const entries = Object.entries(values).filter(([, v]) => Number.isFinite(v));
  if (entries.length === 0) return;
  await db.transaction(async (tx) => {
    await tx
      .insert(metrics)
      .values(entries.map(([key, value]) => ({ runId, stage, key, step, value })))
      .onConflictDoUpdate({
        target: [metrics.runId, metrics.stage, metrics.key, metrics.step],
        set: { value: sql`excluded.value`, recordedAt: sql`now()` },
      });
    const timestamp = Date.now();
    await enqueue(tx, runId, `metrics:${runId}:${stage}:${step}`, {
      kind: 'metrics',
      metrics: entries.map(([key, value]) => ({ key: `${stage}.${key}`, value, step, timestamp })),
    });
  });
}

/**
 * 'two-stage': the method's instances (both nets, watershed); 'stage1': instances from the
 * thresholded stage-1 map alone with the same cleanup (Table 1's "U-Net" column).
 */
export type EvalMethod = 'two-stage' | 'stage1';
export const EVAL_METHODS: readonly EvalMethod[] = ['two-stage', 'stage1'];

export interface ImageResultRow {
  readonly method: EvalMethod;
  readonly image: string;
  readonly organ: string;
  readonly subset: 'seen' | 'unseen';
  readonly dice: number;
  readonly f1: number;
  readonly aji: number;
  readonly ajiPlus: number;
  readonly pq: number;
  readonly nGt: number;
  readonly nPred: number;
}

/** The stored per-image row of one evaluation, as the evaluate activity writes it. */
export function imageResultRow(
  slide: { readonly id: string; readonly organ: string; readonly subset: 'seen' | 'unseen' },
  r: EvalResult,
  method: EvalMethod = 'two-stage',
): ImageResultRow {
  const { dice, f1, aji, ajiPlus, pq, nGt, nPred } = r;
  return {
    method,
    image: slide.id,
    organ: slide.organ,
    subset: slide.subset,
    dice,
    f1,
    aji,
    ajiPlus,
    pq,
    nGt,
    nPred,
  };
}

/**
 * Per-image evaluation rows, upserted by (run, method, image), and queued as MLflow metrics at
 * step 0: `image.<id>.<score>` (dice, f1, aji, ajiPlus, pq, nGt, nPred) for 'two-stage',
 * `image.<id>.stage1_<score>` for 'stage1'.
 */
export async function putImageResults(db: Db, runId: string, rows: readonly ImageResultRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.transaction(async (tx) => {
    await tx
      .insert(imageResults)
      .values(rows.map((r) => ({ runId, ...r })))
      .onConflictDoUpdate({
        target: [imageResults.runId, imageResults.method, imageResults.image],
        set: {
          organ: sql`excluded.organ`,
          subset: sql`excluded.subset`,
          dice: sql`excluded.dice`,
          f1: sql`excluded.f1`,
          aji: sql`excluded.aji`,
          ajiPlus: sql`excluded.aji_plus`,
          pq: sql`excluded.pq`,
          nGt: sql`excluded.n_gt`,
          nPred: sql`excluded.n_pred`,
        },
      });
    const timestamp = Date.now();
    const points = rows.flatMap((r) =>
      pointsAtZero(
        { dice: r.dice, f1: r.f1, aji: r.aji, ajiPlus: r.ajiPlus, pq: r.pq, nGt: r.nGt, nPred: r.nPred },
        r.method === 'two-stage' ? `image.${r.image}.` : `image.${r.image}.${r.method}_`,
        timestamp,
      ),
    );
    if (points.length)
      await enqueue(tx, runId, `image-results:${runId}:${digest(rows)}`, {
        kind: 'metrics',
        metrics: points,
      });
  });
}

export interface TuningResultRow {
  /** src/postprocess/grid.ts settingKey. */
  readonly setting: string;
  /** The setting's values: numbers, and the seed rule when the grid lists seed rules. */
  readonly params: Record<string, number | string>;
  readonly aji: number;
  readonly dice: number;
  readonly f1: number;
  /** Number of training images the setting was scored on. */
  readonly images: number;
  readonly chosen: boolean;
}

/**
 * Every scored post-processing setting of a run, upserted by (run, setting), in one transaction
 * that first clears the run's chosen flags, so exactly the rows given as chosen are marked. Not
 * mirrored to MLflow per setting (setting keys are not valid MLflow metric names); the tune
 * activity records the chosen one as params and metrics.
 */
export async function putTuningResults(
  db: Db,
  runId: string,
  rows: readonly TuningResultRow[],
): Promise<void> {
  if (rows.length === 0) return;
  await db.transaction(async (tx) => {
    await tx.update(tuningResults).set({ chosen: false }).where(eq(tuningResults.runId, runId));
    await tx
      .insert(tuningResults)
      .values(rows.map((r) => ({ runId, ...r })))
      .onConflictDoUpdate({
        target: [tuningResults.runId, tuningResults.setting],
        set: {
          params: sql`excluded.params`,
          aji: sql`excluded.aji`,
          dice: sql`excluded.dice`,
          f1: sql`excluded.f1`,
          images: sql`excluded.images`,
          chosen: sql`excluded.chosen`,
        },
      });
  });
}

/** sha256 and size of a file, streamed. */
export async function hashFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return { sha256: h.digest('hex'), bytes: (await stat(path)).size };
}

/**
 * Records a file the run produced with its sha256; with `mlflowPath` it is also queued for upload
 * to the MLflow run's artifacts.
 */
export async function putArtifact(
  db: Db,
  runId: string,
  kind: string,
  file: string,
  mlflowPath?: string,
): Promise<{ sha256: string; bytes: number }> {
  const { sha256, bytes } = await hashFile(file);
  await db.transaction(async (tx) => {
    await tx
      .insert(artifacts)
      .values({ runId, kind, path: file, sha256, bytes })
      .onConflictDoUpdate({
        target: [artifacts.runId, artifacts.path],
        set: { kind: sql`excluded.kind`, sha256: sql`excluded.sha256`, bytes: sql`excluded.bytes` },
      });
    if (mlflowPath) {
      await enqueue(tx, runId, `artifact:${runId}:${mlflowPath}:${sha256}`, {
        kind: 'artifact',
        file,
        artifactPath: mlflowPath,
        sha256,
      });
    }
  });
  return { sha256, bytes };
}

export { drainOutbox } from './outbox.ts';
export * from './queries.ts';

export type SlideStatus = 'running' | 'completed' | 'skipped' | 'failed';

/** One slide segmentation's state, as the slide workflow reports it; fields left out keep their stored value. */
export interface SlideRecord {
  readonly workflowId: string;
  readonly slide: string;
  readonly model: string;
  readonly outDir: string;
  readonly status: SlideStatus;
  readonly identity?: string;
  readonly regions?: number;
  readonly computed?: number;
  readonly nuclei?: number;
  readonly tissueAreaMm2?: number;
  readonly timings?: Record<string, number>;
  readonly summary?: string;
  readonly error?: string;
}

/** Upserts a slide segmentation's row by its workflow id; a terminal status sets finished_at, 'running' clears it. */
export async function recordSlide(db: Exec, r: SlideRecord): Promise<void> {
  const { slideSegmentations } = schema;
  const finishedAt = r.status === 'running' ? null : new Date();
  const set = {
    slide: r.slide,
    model: r.model,
    outDir: r.outDir,
    status: r.status,
    finishedAt,
    ...(r.identity !== undefined ? { identity: r.identity } : {}),
    ...(r.regions !== undefined ? { regions: r.regions } : {}),
    ...(r.computed !== undefined ? { computed: r.computed } : {}),
    ...(r.nuclei !== undefined ? { nuclei: r.nuclei } : {}),
    ...(r.tissueAreaMm2 !== undefined ? { tissueAreaMm2: r.tissueAreaMm2 } : {}),
    ...(r.timings !== undefined ? { timings: r.timings } : {}),
    ...(r.summary !== undefined ? { summary: r.summary } : {}),
    error: r.error ?? null,
  };
  await db
    .insert(slideSegmentations)
    .values({ workflowId: r.workflowId, ...set })
    .onConflictDoUpdate({ target: slideSegmentations.workflowId, set });
}
