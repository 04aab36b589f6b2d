/**
 * The read side of tracking: every query of the tracking database that the CLI (runs, show,
 * compare, follow), the activities and the dashboard make, through Drizzle's query builder or its
 * `sql` template (values always travel as bind parameters, never spliced into SQL text). Reads
 * only; src/tracking/index.ts holds the writes.
 */
import { and, asc, desc, eq, ilike, inArray, isNotNull, isNull, or, type SQL, sql } from 'drizzle-orm';
import { type Db, schema } from '../storage/index.ts';
import type { EvalMethod } from './index.ts';

const {
  experiments,
  runs,
  params,
  metrics,
  imageResults,
  tuningResults,
  artifacts,
  mlflowOutbox,
  modelVersions,
  modelAliases,
} = schema;

export type RunRow = typeof runs.$inferSelect;
export type ExperimentRow = typeof experiments.$inferSelect;
export type ImageResultRecord = typeof imageResults.$inferSelect;
export type TuningResultRecord = typeof tuningResults.$inferSelect;

/** The method whose rows are "the run's result" (lists, compare, viewer); stage-1-alone rows are asked for by name. */
const RESULT_METHOD: EvalMethod = 'two-stage';
export type ArtifactRecord = typeof artifacts.$inferSelect;
export type ModelVersionRow = typeof modelVersions.$inferSelect;

export async function getRun(db: Db, runId: string): Promise<RunRow | undefined> {
  const [r] = await db.select().from(runs).where(eq(runs.id, runId));
  return r;
}

/** What one net's training ran (runs.trained.<stage>), counted over every attempt and resume. */
export interface TrainedStage {
  /** The budget the spec gave. */
  readonly budget: { readonly kind: 'epochs' | 'steps' | 'minutes'; readonly value: number };
  readonly steps: number;
  /** Epochs begun and finished; with a steps budget the last one may be short. */
  readonly epochs: number;
  /** Step counts after which the lr changed: with `steps`, lrSchedule.atSteps replays the run. */
  readonly lrDrops: readonly number[];
  readonly wallSeconds: number;
  /** Machine time: process CPU seconds over all threads / cores. */
  readonly cpuSeconds: number;
}

/** runs.trained of a run, typed: the record of each net that has finished training. */
export function trainedOf(run: Pick<RunRow, 'trained'>): Partial<Record<'seg' | 'dist', TrainedStage>> {
  return (run.trained ?? {}) as Partial<Record<'seg' | 'dist', TrainedStage>>;
}

export async function getExperiment(db: Db, id: string): Promise<ExperimentRow | undefined> {
  const [e] = await db.select().from(experiments).where(eq(experiments.id, id));
  return e;
}

/** Runs, newest first (`listRunSummaries` adds their experiment and mean scores). */
export async function listRuns(
  db: Db,
  opts: { experimentId?: string; limit?: number } = {},
): Promise<RunRow[]> {
  const q = db.select().from(runs);
  const filtered = opts.experimentId ? q.where(eq(runs.experimentId, opts.experimentId)) : q;
  return filtered.orderBy(desc(runs.createdAt), asc(runs.id)).limit(opts.limit ?? 1000);
}

export async function getParams(db: Db, runId: string): Promise<Record<string, string>> {
  const rows = await db.select().from(params).where(eq(params.runId, runId)).orderBy(asc(params.key));
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}

export async function getMetrics(db: Db, runId: string, stage?: string) {
  return db
    .select()
    .from(metrics)
    .where(stage ? and(eq(metrics.runId, runId), eq(metrics.stage, stage)) : eq(metrics.runId, runId))
    .orderBy(asc(metrics.stage), asc(metrics.key), asc(metrics.step));
}

/** Highest step recorded per stage, for progress displays. */
export async function lastSteps(db: Db, runIds: readonly string[]) {
  if (runIds.length === 0) return [];
  return db
    .select({ runId: metrics.runId, stage: metrics.stage, step: sql<number>`max(${metrics.step})::int` })
    .from(metrics)
    .where(inArray(metrics.runId, [...runIds]))
    .groupBy(metrics.runId, metrics.stage);
}

/**
 * Per-image results of one run or several, seen organs first, then by organ and image: those of
 * `method` (default the two-stage result), or of every method with 'all'.
 */
export async function getImageResults(
  db: Db,
  runIds: string | readonly string[],
  method: EvalMethod | 'all' = RESULT_METHOD,
): Promise<ImageResultRecord[]> {
  const ids = typeof runIds === 'string' ? [runIds] : [...runIds];
  if (ids.length === 0) return [];
  const byRun = inArray(imageResults.runId, ids);
  return db
    .select()
    .from(imageResults)
    .where(method === 'all' ? byRun : and(byRun, eq(imageResults.method, method)))
    .orderBy(
      asc(imageResults.subset),
      asc(imageResults.organ),
      asc(imageResults.image),
      asc(imageResults.method),
    );
}

/** A run's scored post-processing settings, best mean AJI first. */
export async function getTuningResults(db: Db, runId: string): Promise<TuningResultRecord[]> {
  return db
    .select()
    .from(tuningResults)
    .where(eq(tuningResults.runId, runId))
    .orderBy(desc(tuningResults.aji), asc(tuningResults.setting));
}

export async function getArtifacts(db: Db, runId: string): Promise<ArtifactRecord[]> {
  return db
    .select()
    .from(artifacts)
    .where(eq(artifacts.runId, runId))
    .orderBy(asc(artifacts.kind), asc(artifacts.path));
}

export async function pendingOutbox(db: Db, runId?: string): Promise<number> {
  const [{ n }] = (await db
    .select({ n: sql<number>`count(*)::int` })
    .from(mlflowOutbox)
    .where(
      runId
        ? and(isNull(mlflowOutbox.deliveredAt), eq(mlflowOutbox.runId, runId))
        : isNull(mlflowOutbox.deliveredAt),
    )) as [{ n: number }];
  return n;
}

/** Resolves a run id given in full or as an unambiguous prefix. */
export async function findRun(db: Db, idOrPrefix: string): Promise<RunRow[]> {
  return db
    .select()
    .from(runs)
    .where(sql`${runs.id} = ${idOrPrefix} or ${runs.id} like ${`${idOrPrefix.replace(/[%_\\]/g, '\\$&')}%`}`)
    .orderBy(asc(runs.id))
    .limit(20);
}

export interface RunSummary {
  id: string;
  experimentId: string;
  experimentName: string;
  specName: string;
  arm: Record<string, unknown>;
  status: string;
  configHash: string;
  seed: number;
  codeCommit: string | null;
  dataHash: string | null;
  mlflowRunId: string | null;
  error: string | null;
  workerHost: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  durationS: number | null;
  ajiAll: number | null;
  ajiSeen: number | null;
  ajiUnseen: number | null;
  dice: number | null;
  f1: number | null;
  ajiPlus: number | null;
  pq: number | null;
  nImages: number;
}

export const SORT_KEYS = [
  'created',
  'status',
  'spec',
  'experiment',
  'arm',
  'aji',
  'aji_seen',
  'aji_unseen',
  'dice',
  'f1',
  'duration',
  'worker',
] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface RunFilter {
  /** Only these runs. */
  ids?: readonly string[] | undefined;
  status?: string | undefined;
  spec?: string | undefined;
  experiment?: string | undefined;
  /** Substring of run id, experiment name or arm. */
  q?: string | undefined;
  sort?: SortKey | undefined;
  dir?: 'asc' | 'desc' | undefined;
  limit?: number | undefined;
}

const num = (x: SQL) => x.mapWith(Number);

function perRunAggregates(db: Db) {
  const ir = imageResults;
  return db
    .select({
      runId: ir.runId,
      ajiAll: num(sql`avg(${ir.aji})`).as('agg_aji_all'),
      ajiSeen: num(sql`avg(${ir.aji}) filter (where ${ir.subset} = 'seen')`).as('agg_aji_seen'),
      ajiUnseen: num(sql`avg(${ir.aji}) filter (where ${ir.subset} = 'unseen')`).as('agg_aji_unseen'),
      dice: num(sql`avg(${ir.dice})`).as('agg_dice'),
      f1: num(sql`avg(${ir.f1})`).as('agg_f1'),
      ajiPlus: num(sql`avg(${ir.ajiPlus})`).as('agg_aji_plus'),
      pq: num(sql`avg(${ir.pq})`).as('agg_pq'),
      nImages: num(sql`count(*)`).as('agg_n_images'),
    })
    .from(ir)
    .where(eq(ir.method, RESULT_METHOD))
    .groupBy(ir.runId)
    .as('agg');
}

/**
 * Runs with their experiment and per-run means of the per-image results (over all of a run's
 * images, in SQL so that the list can sort by them), filtered and sorted: the dashboard's runs list
 * and `nucleiflow runs`.
 */
export async function listRunSummaries(db: Db, f: RunFilter = {}): Promise<RunSummary[]> {
  const agg = perRunAggregates(db);
  const duration = sql<
    number | null
  >`extract(epoch from (coalesce(${runs.finishedAt}, now()) - ${runs.startedAt}))`.mapWith((v) =>
    v === null ? null : Number(v),
  );
  const where: SQL[] = [];
  if (f.ids) where.push(inArray(runs.id, [...f.ids]));
  if (f.status) where.push(eq(runs.status, f.status));
  if (f.spec) where.push(eq(experiments.specName, f.spec));
  if (f.experiment) where.push(eq(runs.experimentId, f.experiment));
  if (f.q) {
    const pat = `%${f.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    where.push(
      or(ilike(runs.id, pat), ilike(experiments.name, pat), ilike(sql`${runs.arm}::text`, pat)) as SQL,
    );
  }
  const order: Record<SortKey, SQL | typeof runs.createdAt> = {
    created: sql`${runs.createdAt}`,
    status: sql`${runs.status}`,
    spec: sql`${experiments.specName}`,
    experiment: sql`${experiments.name}`,
    arm: sql`${runs.arm}::text`,
    aji: sql`${agg.ajiAll}`,
    aji_seen: sql`${agg.ajiSeen}`,
    aji_unseen: sql`${agg.ajiUnseen}`,
    dice: sql`${agg.dice}`,
    f1: sql`${agg.f1}`,
    duration: duration,
    worker: sql`${runs.workerHost}`,
  };
  const key = f.sort ?? 'created';
  const dir = f.dir ?? (key === 'created' ? 'desc' : 'asc');
  const primary = dir === 'desc' ? sql`${order[key]} desc nulls last` : sql`${order[key]} asc nulls last`;
  const rows = await db
    .select({
      id: runs.id,
      experimentId: runs.experimentId,
      experimentName: experiments.name,
      specName: experiments.specName,
      arm: runs.arm,
      status: runs.status,
      configHash: runs.configHash,
      seed: runs.seed,
      codeCommit: runs.codeCommit,
      dataHash: runs.dataHash,
      mlflowRunId: runs.mlflowRunId,
      error: runs.error,
      workerHost: runs.workerHost,
      createdAt: runs.createdAt,
      startedAt: runs.startedAt,
      finishedAt: runs.finishedAt,
      durationS: duration,
      ajiAll: agg.ajiAll,
      ajiSeen: agg.ajiSeen,
      ajiUnseen: agg.ajiUnseen,
      dice: agg.dice,
      f1: agg.f1,
      ajiPlus: agg.ajiPlus,
      pq: agg.pq,
      nImages: agg.nImages,
    })
    .from(runs)
    .innerJoin(experiments, eq(experiments.id, runs.experimentId))
    .leftJoin(agg, eq(agg.runId, runs.id))
    .where(where.length ? and(...where) : undefined)
    .orderBy(primary, desc(runs.createdAt), asc(runs.id))
    .limit(Math.min(Math.max(f.limit ?? 1000, 1), 5000));
  return rows.map((r) => ({
    ...r,
    arm: (r.arm ?? {}) as Record<string, unknown>,
    nImages: r.nImages ?? 0,
  }));
}

export interface ExperimentSummary {
  id: string;
  name: string;
  specName: string;
  status: string;
  createdAt: Date;
  nRuns: number;
  nDone: number;
  bestAji: number | null;
}

/** The most recent experiments with their run counts and best mean AJI. */
export async function listExperimentSummaries(
  db: Db,
  spec?: string,
  limit = 30,
): Promise<ExperimentSummary[]> {
  const perRun = db
    .select({ runId: imageResults.runId, aji: num(sql`avg(${imageResults.aji})`).as('exp_run_aji') })
    .from(imageResults)
    .where(eq(imageResults.method, RESULT_METHOD))
    .groupBy(imageResults.runId)
    .as('per_run');
  const rows = await db
    .select({
      id: experiments.id,
      name: experiments.name,
      specName: experiments.specName,
      status: experiments.status,
      createdAt: experiments.createdAt,
      nRuns: num(sql`count(${runs.id})`),
      nDone: num(sql`count(${runs.id}) filter (where ${runs.status} = 'completed')`),
      bestAji: sql<number | null>`max(${perRun.aji})`.mapWith((v) => (v === null ? null : Number(v))),
    })
    .from(experiments)
    .leftJoin(runs, eq(runs.experimentId, experiments.id))
    .leftJoin(perRun, eq(perRun.runId, runs.id))
    .where(spec ? eq(experiments.specName, spec) : undefined)
    .groupBy(experiments.id)
    .orderBy(desc(experiments.createdAt))
    .limit(limit);
  return rows;
}

/** Distinct values for the filter drop-downs. */
export async function filterChoices(db: Db): Promise<{
  statuses: string[];
  specs: string[];
  experiments: { id: string; name: string }[];
}> {
  const [st, sp, ex] = await Promise.all([
    db.selectDistinct({ v: runs.status }).from(runs).orderBy(runs.status),
    db.selectDistinct({ v: experiments.specName }).from(experiments).orderBy(experiments.specName),
    db
      .select({ id: experiments.id, name: experiments.name })
      .from(experiments)
      .orderBy(desc(experiments.createdAt))
      .limit(500),
  ]);
  return { statuses: st.map((r) => r.v), specs: sp.map((r) => r.v), experiments: ex };
}

/**
 * A fingerprint of everything the runs list shows; the live-update loop compares it between polls
 * so that clients refetch only after a change.
 */
export async function runsFingerprint(db: Db): Promise<string> {
  const [r] = await db
    .select({
      runs: sql<string>`coalesce(md5(string_agg(${runs.id} || ':' || ${runs.status} || ':' || coalesce(${runs.finishedAt}::text, '') || ':' || coalesce(${runs.startedAt}::text, ''), ',' order by ${runs.id})), '')`,
      results: sql<string>`(select count(*)::text from ${imageResults})`,
    })
    .from(runs);
  return `${r?.runs ?? ''}/${r?.results ?? ''}`;
}

export interface Curve {
  stage: string;
  key: string;
  steps: number[];
  values: number[];
}

export interface RunDetail {
  run: RunRow;
  experiment: ExperimentRow;
  params: Record<string, string>;
  curves: Curve[];
  results: ImageResultRecord[];
  artifacts: ArtifactRecord[];
}

/** Everything the run page shows. */
export async function getRunDetail(db: Db, id: string): Promise<RunDetail | null> {
  const found = await db
    .select({ run: runs, experiment: experiments })
    .from(runs)
    .innerJoin(experiments, eq(experiments.id, runs.experimentId))
    .where(eq(runs.id, id))
    .limit(1);
  const head = found[0];
  if (!head) return null;
  const [ps, curves, results, arts] = await Promise.all([
    getParams(db, id),
    getCurves(db, [id]),
    getImageResults(db, id),
    getArtifacts(db, id),
  ]);
  return {
    run: head.run,
    experiment: head.experiment,
    params: ps,
    curves: curves.get(id) ?? [],
    results,
    artifacts: arts,
  };
}

/** Per-epoch curves of the two trainings (stage 'seg' and 'dist'), grouped per run. */
export async function getCurves(db: Db, ids: string[]): Promise<Map<string, Curve[]>> {
  const out = new Map<string, Curve[]>();
  if (ids.length === 0) return out;
  const rows = await db
    .select({
      runId: metrics.runId,
      stage: metrics.stage,
      key: metrics.key,
      step: metrics.step,
      value: metrics.value,
    })
    .from(metrics)
    .where(and(inArray(metrics.runId, ids), inArray(metrics.stage, ['seg', 'dist'])))
    .orderBy(metrics.runId, metrics.stage, metrics.key, metrics.step);
  let cur: Curve | undefined;
  let curRun = '';
  for (const r of rows) {
    if (!cur || curRun !== r.runId || cur.stage !== r.stage || cur.key !== r.key) {
      cur = { stage: r.stage, key: r.key, steps: [], values: [] };
      curRun = r.runId;
      const list = out.get(r.runId) ?? [];
      list.push(cur);
      out.set(r.runId, list);
    }
    cur.steps.push(r.step);
    cur.values.push(r.value);
  }
  return out;
}

/** The runs among `ids` that exist, with their experiments, in the order of `ids`. */
export async function getRunsBrief(
  db: Db,
  ids: string[],
): Promise<{ run: RunRow; experiment: ExperimentRow }[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .select({ run: runs, experiment: experiments })
    .from(runs)
    .innerJoin(experiments, eq(experiments.id, runs.experimentId))
    .where(inArray(runs.id, ids));
  const byId = new Map(rows.map((r) => [r.run.id, r]));
  return ids.flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
}

/** An experiment's runs in creation order (the first is a comparison's baseline). */
export async function runIdsOfExperiment(db: Db, experimentId: string): Promise<string[]> {
  const rows = await db
    .select({ id: runs.id })
    .from(runs)
    .where(eq(runs.experimentId, experimentId))
    .orderBy(runs.createdAt, runs.id);
  return rows.map((r) => r.id);
}

/** One image's stored result of one run (default: the two-stage result). */
export async function getImageResult(
  db: Db,
  runId: string,
  image: string,
  method: EvalMethod = RESULT_METHOD,
): Promise<ImageResultRecord | null> {
  const rows = await db
    .select()
    .from(imageResults)
    .where(and(eq(imageResults.runId, runId), eq(imageResults.method, method), eq(imageResults.image, image)))
    .limit(1);
  return rows[0] ?? null;
}

/** Pending outbox rows whose last delivery attempt failed, oldest first, with the recorded reason. */
export async function outboxFailures(db: Db, runId?: string) {
  const failed = and(isNull(mlflowOutbox.deliveredAt), isNotNull(mlflowOutbox.lastError));
  return db
    .select({
      id: mlflowOutbox.id,
      runId: mlflowOutbox.runId,
      kind: mlflowOutbox.kind,
      attempts: mlflowOutbox.attempts,
      lastError: mlflowOutbox.lastError,
    })
    .from(mlflowOutbox)
    .where(runId ? and(failed, eq(mlflowOutbox.runId, runId)) : failed)
    .orderBy(asc(mlflowOutbox.id));
}

export type TuningRecord = typeof schema.tuningResults.$inferSelect;

/** The post-processing settings chosen for `runIds` (tuning_results rows with chosen = true). */
export async function getChosenTuning(db: Db, runIds: readonly string[]): Promise<TuningRecord[]> {
  if (runIds.length === 0) return [];
  const t = schema.tuningResults;
  return db
    .select()
    .from(t)
    .where(and(inArray(t.runId, [...runIds]), eq(t.chosen, true)))
    .orderBy(asc(t.runId), asc(t.setting));
}

// --- Model registry (writes in src/tracking/registry.ts) ---

/** A registered model version with its aliases and the run it came from. */
export interface ModelVersionEntry extends ModelVersionRow {
  readonly aliases: string[];
  readonly runStatus: string;
  readonly experimentId: string;
}

/** Every version (of one model, or of all), by name then version, with its aliases. */
export async function listModelVersions(db: Db, name?: string): Promise<ModelVersionEntry[]> {
  const [rows, aliases] = await Promise.all([
    db
      .select({ v: modelVersions, runStatus: runs.status, experimentId: runs.experimentId })
      .from(modelVersions)
      .innerJoin(runs, eq(runs.id, modelVersions.runId))
      .where(name === undefined ? undefined : eq(modelVersions.name, name))
      .orderBy(asc(modelVersions.name), asc(modelVersions.version)),
    db
      .select()
      .from(modelAliases)
      .where(name === undefined ? undefined : eq(modelAliases.name, name))
      .orderBy(asc(modelAliases.alias)),
  ]);
  return rows.map((r) => ({
    ...r.v,
    runStatus: r.runStatus,
    experimentId: r.experimentId,
    aliases: aliases.filter((a) => a.name === r.v.name && a.version === r.v.version).map((a) => a.alias),
  }));
}

/** The aliases of one model (or of all): alias -> version. */
export async function listModelAliases(db: Db, name?: string) {
  return db
    .select()
    .from(modelAliases)
    .where(name === undefined ? undefined : eq(modelAliases.name, name))
    .orderBy(asc(modelAliases.name), asc(modelAliases.alias));
}

/** The version an alias points to, if the alias exists. */
export async function aliasVersion(db: Db, name: string, alias: string): Promise<number | undefined> {
  const [a] = await db
    .select({ version: modelAliases.version })
    .from(modelAliases)
    .where(and(eq(modelAliases.name, name), eq(modelAliases.alias, alias)));
  return a?.version;
}

/** Runs with registry rows (model versions, aliases) not yet delivered to MLflow. */
export async function pendingRegistryRuns(db: Db): Promise<string[]> {
  const rows = await db
    .selectDistinct({ runId: mlflowOutbox.runId })
    .from(mlflowOutbox)
    .where(
      and(isNull(mlflowOutbox.deliveredAt), inArray(mlflowOutbox.kind, ['model-version', 'model-alias'])),
    );
  return rows.map((r) => r.runId);
}

/** The most recently set `default` alias of any model, if one exists (segment's default model). */
export async function latestDefaultAlias(db: Db): Promise<{ name: string; version: number } | undefined> {
  const [a] = await db
    .select({ name: modelAliases.name, version: modelAliases.version })
    .from(modelAliases)
    .where(eq(modelAliases.alias, 'default'))
    .orderBy(desc(modelAliases.updatedAt))
    .limit(1);
  return a;
}

export type SlideSegmentationRow = typeof schema.slideSegmentations.$inferSelect;

/** Slide segmentations, newest first. */
export async function listSlideSegmentations(db: Db, limit = 100): Promise<SlideSegmentationRow[]> {
  const t = schema.slideSegmentations;
  return db.select().from(t).orderBy(desc(t.createdAt)).limit(limit);
}

export interface TestScoring {
  readonly runId: string;
  /** ISO time of that run's first scoring of the Kumar test split. */
  readonly at: string;
}

/** Per recipe hash (params `test.recipe`), the run that scored the Kumar test split first. */
export async function firstTestScorings(
  db: Db,
  recipes: readonly string[],
): Promise<Map<string, TestScoring>> {
  const out = new Map<string, TestScoring>();
  if (recipes.length === 0) return out;
  const withRecipe = await db
    .select({ runId: params.runId, recipe: params.value })
    .from(params)
    .where(and(eq(params.key, 'test.recipe'), inArray(params.value, [...recipes])));
  if (withRecipe.length === 0) return out;
  const times = await db
    .select({ runId: params.runId, at: params.value })
    .from(params)
    .where(
      and(
        eq(params.key, 'test.scored_at'),
        inArray(
          params.runId,
          withRecipe.map((r) => r.runId),
        ),
      ),
    );
  const at = new Map(times.map((t) => [t.runId, t.at]));
  for (const r of withRecipe) {
    const t = at.get(r.runId);
    if (t === undefined) continue;
    const best = out.get(r.recipe);
    if (!best || t < best.at || (t === best.at && r.runId < best.runId))
      out.set(r.recipe, { runId: r.runId, at: t });
  }
  return out;
}
