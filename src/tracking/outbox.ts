/**
 * Delivers pending `mlflow_outbox` rows to MLflow in the order they were written. Consecutive
 * metrics/params/tags rows of a run go out as one log-batch (split at the server's limits), files
 * through the artifact proxy, a terminate row closes the MLflow run, and registry rows
 * (registry.ts) become MLflow Model Registry versions and aliases. A row is marked delivered
 * only after MLflow accepted it; an MLflow failure stops that run's delivery (order is kept) and is
 * recorded on the row. An artifact whose file cannot be read stays pending with the reason on its
 * row (shown by `nucleiflow doctor` and `show`) and is tried again on every drain; the run's later
 * rows still go out, so one lost file does not hold back the rest. Re-sending is harmless: metrics
 * carry their original timestamps, params are re-sent with the same value, runs are found by tag
 * before they are created.
 */
import { readFile } from 'node:fs/promises';
import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import { type Db, schema } from '../storage/index.ts';
import type { OutboxPayload } from './index.ts';
import {
  type MlflowClient,
  MlflowError,
  type MlflowMetric,
  type MlflowParam,
  type MlflowRunInfo,
  type MlflowTag,
} from './mlflow-client.ts';
import type { RegistryPayload } from './registry.ts';

const { experiments, runs, mlflowOutbox, modelVersions, modelAliases } = schema;

export const RUN_ID_TAG = 'nucleiflow.run_id';

export interface DrainResult {
  readonly delivered: number;
  readonly pending: number;
  /** The first delivery error, if any row could not be delivered. */
  readonly error?: string;
}

/**
 * MLflow experiment of a NucleiFlow experiment: one per spec name, so every submission of a spec
 * (its arms, seeds, reruns) lands in one MLflow experiment and MLflow's compare view can set them
 * side by side; runs carry the NucleiFlow experiment id as a tag.
 */
export const mlflowExperimentName = (e: { specName: string }) => `nucleiflow/${e.specName}`;

/** MLflow 3's experiment type (read by its UI: mlflow/server/js, `mlflow.experimentKind`). */
export const EXPERIMENT_KIND_TAG = 'mlflow.experimentKind';
/** The kind MLflow 3's UI opens as model training rather than as a GenAI project. */
export const MODEL_TRAINING_KIND = 'custom_model_development';

/**
 * The arm of a run without its seed, as `key=value` pairs (the last path segment when it is
 * unique in the arm, else the dotted path), or `base` with no matrix: runs that differ only in
 * their seed share it, so MLflow can group the seeds of one arm.
 */
export function armLabel(arm: Record<string, unknown>): string {
  const entries = Object.entries(arm).filter(([k]) => k !== 'seed');
  if (entries.length === 0) return 'base';
  const last = (k: string) => k.split('.').at(-1)!;
  const counts = new Map<string, number>();
  for (const [k] of entries) counts.set(last(k), (counts.get(last(k)) ?? 0) + 1);
  return entries
    .map(
      ([k, v]) =>
        `${counts.get(last(k)) === 1 ? last(k) : k}=${typeof v === 'string' ? v : JSON.stringify(v)}`,
    )
    .join(',');
}

/** MLflow run name: arm, seed and where it comes from, e.g. `erosion=false seed=7 · quick-20261203-114323-ab12/r1`. */
export function mlflowRunName(run: { id: string; experimentId: string; arm: unknown; seed: number }): string {
  const label = armLabel(run.arm as Record<string, unknown>);
  const suffix = run.id.startsWith(`${run.experimentId}-`)
    ? `${run.experimentId}/${run.id.slice(run.experimentId.length + 1)}`
    : run.id;
  return `${label} seed=${run.seed} · ${suffix}`;
}

async function ensureMlflowRun(db: Db, client: MlflowClient, runId: string): Promise<MlflowRunInfo> {
  const [row] = await db
    .select({ run: runs, exp: experiments })
    .from(runs)
    .innerJoin(experiments, eq(runs.experimentId, experiments.id))
    .where(eq(runs.id, runId));
  if (!row) throw new Error(`outbox row for unknown run ${runId}`);
  if (row.run.mlflowRunId) return (await client.getRun(row.run.mlflowRunId)).info;
  const kind = { key: EXPERIMENT_KIND_TAG, value: MODEL_TRAINING_KIND };
  const expId = await client.ensureExperiment(mlflowExperimentName(row.exp), [
    kind,
    { key: 'nucleiflow.spec_name', value: row.exp.specName },
  ]);
  // One experiment serves every submission of a spec, so one deleted in MLflow's UI blocks them all: say how to fix it.
  const exp = await client.getExperiment(expId);
  if (exp.lifecycle_stage === 'deleted') {
    throw new MlflowError(
      `MLflow experiment '${exp.name}' (id ${expId}) is deleted; restore it (mlflow experiments restore --experiment-id ${expId}) or remove it for good (mlflow gc --experiment-ids ${expId}) so runs can be delivered`,
      400,
    );
  }
  // The experiment may predate this code (or have been made by hand): its kind is set either way.
  await client.setExperimentTag(expId, kind.key, kind.value);
  const arm = row.run.arm as Record<string, unknown>;
  const run = await client.ensureRun(
    expId,
    mlflowRunName(row.run),
    RUN_ID_TAG,
    row.run.id,
    [
      { key: 'nucleiflow.experiment_id', value: row.exp.id },
      { key: 'nucleiflow.arm', value: armLabel(arm) },
      ...Object.entries(arm).map(([k, v]) => ({ key: `nucleiflow.arm.${k}`, value: JSON.stringify(v) })),
      { key: 'nucleiflow.config_hash', value: row.run.configHash },
      { key: 'nucleiflow.seed', value: String(row.run.seed) },
      { key: 'nucleiflow.spec_name', value: row.exp.specName },
      ...(row.run.workflowId ? [{ key: 'temporal.workflow_id', value: row.run.workflowId }] : []),
    ],
    (row.run.startedAt ?? row.run.createdAt).getTime(),
  );
  await db.update(runs).set({ mlflowRunId: run.info.run_id }).where(eq(runs.id, runId));
  return run.info;
}

/** Counts a failed delivery attempt of one row and keeps why. */
async function recordFailure(db: Db, id: number, message: string): Promise<void> {
  await db
    .update(mlflowOutbox)
    .set({ attempts: sql`${mlflowOutbox.attempts} + 1`, lastError: message.slice(0, 1000) })
    .where(eq(mlflowOutbox.id, id));
}

async function markDelivered(db: Db, ids: readonly number[]): Promise<void> {
  if (ids.length)
    await db
      .update(mlflowOutbox)
      .set({ deliveredAt: sql`now()` })
      .where(inArray(mlflowOutbox.id, [...ids]));
}

/**
 * Drains up to `maxRows` pending rows (of one run, or of all runs). Never throws for an MLflow
 * failure: the result says what is still pending and why.
 */
export async function drainOutbox(
  db: Db,
  client: MlflowClient,
  opts: { runId?: string; maxRows?: number } = {},
): Promise<DrainResult> {
  const rows = await db
    .select()
    .from(mlflowOutbox)
    .where(
      opts.runId
        ? and(isNull(mlflowOutbox.deliveredAt), eq(mlflowOutbox.runId, opts.runId))
        : isNull(mlflowOutbox.deliveredAt),
    )
    .orderBy(asc(mlflowOutbox.id))
    .limit(opts.maxRows ?? 20_000);
  const byRun = new Map<string, typeof rows>();
  for (const r of rows) byRun.set(r.runId, [...(byRun.get(r.runId) ?? []), r]);
  let delivered = 0;
  let firstError: string | undefined;
  for (const [runId, list] of byRun) {
    let i = 0;
    try {
      const info = await ensureMlflowRun(db, client, runId);
      while (i < list.length) {
        const p = list[i]!.payload as OutboxPayload | RegistryPayload;
        if (p.kind === 'model-version' || p.kind === 'model-alias') {
          await deliverRegistry(db, client, info, p);
          await markDelivered(db, [list[i]!.id]);
          delivered++;
          i++;
        } else if (p.kind === 'metrics' || p.kind === 'params' || p.kind === 'tags') {
          const ms: MlflowMetric[] = [];
          const ps: MlflowParam[] = [];
          const ts: MlflowTag[] = [];
          const ids: number[] = [];
          while (i < list.length) {
            const q = list[i]!.payload as OutboxPayload | RegistryPayload;
            if (q.kind === 'metrics') ms.push(...q.metrics);
            else if (q.kind === 'params') ps.push(...q.params);
            else if (q.kind === 'tags') ts.push(...q.tags);
            else break;
            ids.push(list[i]!.id);
            i++;
          }
          await client.logBatch(info.run_id, { metrics: ms, params: dedupe(ps), tags: dedupe(ts) });
          await markDelivered(db, ids);
          delivered += ids.length;
        } else if (p.kind === 'artifact') {
          const id = list[i]!.id;
          let data: Buffer;
          try {
            data = await readFile(p.file);
          } catch (err) {
            // Not delivered, so not marked delivered: the row keeps the reason until the file is back.
            const message = `artifact ${p.artifactPath}: cannot read ${p.file}: ${(err as Error).message}`;
            firstError ??= message;
            await recordFailure(db, id, message);
            i++;
            continue;
          }
          await client.uploadArtifact(info, p.artifactPath, data);
          await markDelivered(db, [id]);
          delivered++;
          i++;
        } else if (p.kind === 'inputs') {
          await client.logInputs(info.run_id, p.datasets);
          await markDelivered(db, [list[i]!.id]);
          delivered++;
          i++;
        } else {
          await client.setTerminated(info.run_id, p.status, p.endTime);
          await markDelivered(db, [list[i]!.id]);
          delivered++;
          i++;
        }
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      firstError ??= message;
      const row = list[i];
      if (row) await recordFailure(db, row.id, message);
      if (!(err instanceof MlflowError)) throw err;
    }
  }
  const [{ n }] = (await db
    .select({ n: sql<number>`count(*)::int` })
    .from(mlflowOutbox)
    .where(
      opts.runId
        ? and(isNull(mlflowOutbox.deliveredAt), eq(mlflowOutbox.runId, opts.runId))
        : isNull(mlflowOutbox.deliveredAt),
    )) as [{ n: number }];
  return { delivered, pending: n, ...(firstError ? { error: firstError } : {}) };
}

/**
 * One registry row: a model version becomes the registered model (created if missing) and a
 * version whose source is the run's `model/` artifacts and whose run_id links the MLflow run; a
 * version the MLflow run already has (a redelivery after a crash) is reused. Its MLflow version
 * number is stored in model_versions.mlflow_version. An alias is set to where the store points it
 * now, so rows delivered out of order across runs still leave MLflow agreeing with the store.
 */
async function deliverRegistry(
  db: Db,
  client: MlflowClient,
  run: MlflowRunInfo,
  p: RegistryPayload,
): Promise<void> {
  if (p.kind === 'model-version') {
    await client.ensureRegisteredModel(p.name, [{ key: 'nucleiflow.model', value: p.name }]);
    const existing = (await client.findModelVersions(p.name, run.run_id))[0];
    const mv =
      existing ??
      (await client.createModelVersion({
        name: p.name,
        source: `${run.artifact_uri.replace(/\/+$/, '')}/model`,
        runId: run.run_id,
        tags: [{ key: 'nucleiflow.version', value: String(p.version) }],
      }));
    await db
      .update(modelVersions)
      .set({ mlflowVersion: mv.version })
      .where(and(eq(modelVersions.name, p.name), eq(modelVersions.version, p.version)));
    return;
  }
  const [current] = await db
    .select({ version: modelAliases.version, mlflowVersion: modelVersions.mlflowVersion })
    .from(modelAliases)
    .innerJoin(
      modelVersions,
      and(eq(modelVersions.name, modelAliases.name), eq(modelVersions.version, modelAliases.version)),
    )
    .where(and(eq(modelAliases.name, p.name), eq(modelAliases.alias, p.alias)));
  // Moved on since: the row queued by the later write (under its own version's run) sets it.
  if (!current || current.version !== p.version) return;
  if (!current.mlflowVersion)
    throw new MlflowError(`alias ${p.name}@${p.alias}: version ${p.version} is not in MLflow yet`, 0);
  await client.setRegisteredModelAlias(p.name, p.alias, current.mlflowVersion);
}

/** Last value per key wins within one request (MLflow rejects a batch repeating a param key). */
function dedupe<T extends { key: string }>(items: readonly T[]): T[] {
  return [...new Map(items.map((x) => [x.key, x])).values()];
}
