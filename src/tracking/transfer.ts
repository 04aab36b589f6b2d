/**
 * An experiment's tracking records as one JSON document, and back: how a study outlives the store
 * it ran in (a machine taken away between sittings, a colleague's store, the copy under `docs/`).
 *
 * The document holds the experiment row and, per run, its row, params, metrics, per-image results,
 * tuning results and artifact records (path, sha256, bytes). Not included: the files the artifacts
 * name (checkpoints and weights stay where they were; their hashes identify them), model versions
 * and aliases (a registry entry without its weights could not be served), and the MLflow outbox
 * (the importing store's MLflow has never seen these runs; import does not replay them).
 *
 * Import is one transaction: all of it or nothing. Importing the same document again changes
 * nothing. Runs arrive without their MLflow run id (it names a run of the other store's MLflow). A run that had not ended when it was exported is imported as `failed`, its error saying
 * so, because nothing is running it any more; `nucleiflow resume` continues it (from checkpoints
 * where the importing machine has them, else from the start).
 */
import { isDeepStrictEqual } from 'node:util';
import { asc, eq, getTableColumns, inArray } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { z } from 'zod';
import { UserError } from '../errors.ts';
import { type Db, schema } from '../storage/index.ts';
import { type Exec, experimentStatusOf, type RunStatus, TERMINAL } from './index.ts';

const { experiments, runs, params, metrics, imageResults, tuningResults, artifacts, modelVersions } = schema;

export const EXPORT_FORMAT = 'nucleiflow.experiment-export';
export const EXPORT_VERSION = 1;

type Row = Record<string, unknown>;

export interface RunBundle {
  readonly run: Row;
  readonly params: Row[];
  readonly metrics: Row[];
  readonly imageResults: Row[];
  readonly tuningResults: Row[];
  readonly artifacts: Row[];
}

export interface ExperimentExport {
  readonly format: typeof EXPORT_FORMAT;
  readonly version: typeof EXPORT_VERSION;
  readonly exportedAt: string;
  readonly experiment: Row;
  readonly runs: RunBundle[];
}

const rows = z.array(z.record(z.string(), z.unknown()));
const documentSchema = z.object({
  format: z.literal(EXPORT_FORMAT),
  version: z.literal(EXPORT_VERSION),
  exportedAt: z.string(),
  experiment: z.object({ id: z.string().min(1) }).passthrough(),
  runs: z.array(
    z.object({
      run: z.object({ id: z.string().min(1), experimentId: z.string(), status: z.string() }).passthrough(),
      params: rows,
      metrics: rows,
      imageResults: rows,
      tuningResults: rows,
      artifacts: rows,
    }),
  ),
});

/** Rows as JSON values: timestamps become ISO strings, as `JSON.stringify` writes them. */
const plain = <T>(v: T): Row[] => JSON.parse(JSON.stringify(v)) as Row[];

async function readBundle(
  db: Exec,
  experimentId: string,
): Promise<Omit<ExperimentExport, 'exportedAt'> | null> {
  const [experiment] = await db.select().from(experiments).where(eq(experiments.id, experimentId));
  if (!experiment) return null;
  const runRows = await db
    .select()
    .from(runs)
    .where(eq(runs.experimentId, experimentId))
    .orderBy(asc(runs.id));
  const out: RunBundle[] = [];
  for (const run of runRows) {
    const id = run.id;
    out.push({
      run: plain(run) as unknown as Row,
      params: plain(await db.select().from(params).where(eq(params.runId, id)).orderBy(asc(params.key))),
      metrics: plain(
        await db
          .select()
          .from(metrics)
          .where(eq(metrics.runId, id))
          .orderBy(asc(metrics.stage), asc(metrics.key), asc(metrics.step)),
      ),
      imageResults: plain(
        await db
          .select()
          .from(imageResults)
          .where(eq(imageResults.runId, id))
          .orderBy(asc(imageResults.method), asc(imageResults.image)),
      ),
      tuningResults: plain(
        await db
          .select()
          .from(tuningResults)
          .where(eq(tuningResults.runId, id))
          .orderBy(asc(tuningResults.setting)),
      ),
      artifacts: plain(
        await db.select().from(artifacts).where(eq(artifacts.runId, id)).orderBy(asc(artifacts.path)),
      ),
    });
  }
  return {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    experiment: plain(experiment) as unknown as Row,
    runs: out,
  };
}

/** The experiment's records as a document; a UserError when the store has no such experiment. */
export async function exportExperiment(db: Db, experimentId: string): Promise<ExperimentExport> {
  const b = await readBundle(db, experimentId);
  if (!b) throw new UserError(`no experiment ${experimentId} in the tracking store`);
  return { ...b, exportedAt: new Date().toISOString() };
}

/**
 * The document as the importing store will hold it: unfinished runs become failed, the experiment's
 * status follows, and no run keeps its MLflow run id, which names a run of the exporting store's
 * MLflow (delivering to it here would fail for ever; a resumed run gets a new MLflow run).
 */
function asImported(doc: ExperimentExport): Omit<ExperimentExport, 'exportedAt'> {
  const bundles = doc.runs.map((b) => {
    const status = String(b.run.status);
    const run: Row = { ...b.run, mlflowRunId: null };
    if (TERMINAL.includes(status as RunStatus)) return { ...b, run };
    const error = `interrupted: exported while ${status} at ${doc.exportedAt}; nucleiflow resume ${String(b.run.id)} continues it`;
    return { ...b, run: { ...run, status: 'failed', error } };
  });
  const status = bundles.length
    ? experimentStatusOf(bundles.map((b) => String(b.run.status)))
    : String(doc.experiment.status);
  return {
    format: doc.format,
    version: doc.version,
    experiment: { ...doc.experiment, status },
    runs: bundles,
  };
}

/** JSON values back into a table's row: ISO strings into Dates for its timestamp columns. */
function toRow(table: PgTable, row: Row, where: string): Row {
  const columns = getTableColumns(table) as Record<string, { dataType: string; notNull: boolean }>;
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) {
    const col = columns[k];
    if (!col) throw new UserError(`${where}: '${k}' is not a column of this store's schema`);
    if (col.dataType === 'date' && typeof v === 'string') {
      const d = new Date(v);
      if (Number.isNaN(d.getTime())) throw new UserError(`${where}: '${k}' is not a timestamp: ${v}`);
      out[k] = d;
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** Parses and checks a document; the error names the first field that is wrong. */
export function parseExport(text: string, source: string): ExperimentExport {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${source}: not JSON (${(err as Error).message})`);
  }
  const r = documentSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new UserError(
      `${source}: not a NucleiFlow experiment export: ${issue.path.join('.') || '(top)'}: ${issue.message}`,
    );
  }
  const doc = r.data as ExperimentExport;
  for (const b of doc.runs) {
    if (b.run.experimentId !== doc.experiment.id) {
      throw new UserError(
        `${source}: run ${String(b.run.id)} belongs to ${String(b.run.experimentId)}, not ${String(doc.experiment.id)}`,
      );
    }
    for (const part of ['params', 'metrics', 'imageResults', 'tuningResults', 'artifacts'] as const) {
      const stray = b[part].find((x) => x.runId !== b.run.id);
      if (stray)
        throw new UserError(
          `${source}: a row of ${part} under run ${String(b.run.id)} names run ${String(stray.runId)}`,
        );
    }
  }
  return doc;
}

export type ImportOutcome = 'imported' | 'unchanged' | 'replaced';

/**
 * Writes a document's records in one transaction. An experiment already in the store is left alone
 * when it holds exactly what the document would write (`unchanged`); otherwise the import is refused,
 * naming the first run that differs, unless `replace` (then the stored experiment and its runs are
 * removed first; refused when a model version was registered from one of them).
 */
export async function importExperiment(
  db: Db,
  doc: ExperimentExport,
  opts: { replace?: boolean } = {},
): Promise<ImportOutcome> {
  const want = asImported(doc);
  const id = String(want.experiment.id);
  return db.transaction(async (tx) => {
    const have = await readBundle(tx, id);
    let outcome: ImportOutcome = 'imported';
    if (have) {
      if (isDeepStrictEqual(plain([have]), plain([want]))) return 'unchanged';
      if (!opts.replace)
        throw new UserError(
          `experiment ${id} is already in the store and differs: ${firstDifference(have, want)}; --replace replaces it`,
        );
      const runIds = have.runs.map((b) => String(b.run.id));
      const registered = runIds.length
        ? await tx.select().from(modelVersions).where(inArray(modelVersions.runId, runIds))
        : [];
      if (registered.length) {
        const m = registered[0]!;
        throw new UserError(
          `experiment ${id} cannot be replaced: run ${m.runId} registered model ${m.name}@${m.version}`,
        );
      }
      await tx.delete(experiments).where(eq(experiments.id, id));
      outcome = 'replaced';
    }
    await tx
      .insert(experiments)
      .values(toRow(experiments, want.experiment, `experiment ${id}`) as typeof experiments.$inferInsert);
    for (const b of want.runs) {
      const where = `run ${String(b.run.id)}`;
      const [other] = await tx
        .select({ e: runs.experimentId })
        .from(runs)
        .where(eq(runs.id, String(b.run.id)));
      if (other) throw new UserError(`${where} is already in the store, under experiment ${other.e}`);
      await tx.insert(runs).values(toRow(runs, b.run, where) as typeof runs.$inferInsert);
      const parts: Array<[PgTable, Row[], string]> = [
        [params, b.params, 'params'],
        [metrics, b.metrics, 'metrics'],
        [imageResults, b.imageResults, 'image results'],
        [tuningResults, b.tuningResults, 'tuning results'],
        [artifacts, b.artifacts, 'artifacts'],
      ];
      for (const [table, list, name] of parts) {
        // Chunked so a run's few thousand metric rows stay under PostgreSQL's bind-parameter limit.
        for (let i = 0; i < list.length; i += 500) {
          const chunk = list.slice(i, i + 500).map((x) => toRow(table, x, `${where} ${name}`));
          await tx.insert(table).values(chunk as never);
        }
      }
    }
    return outcome;
  });
}

/** A short account of where two versions of an experiment part. */
function firstDifference(
  have: Omit<ExperimentExport, 'exportedAt'>,
  want: Omit<ExperimentExport, 'exportedAt'>,
): string {
  const h = new Map(have.runs.map((b) => [String(b.run.id), b]));
  for (const b of want.runs) {
    const id = String(b.run.id);
    const s = h.get(id);
    if (!s) return `run ${id} is not in the stored copy`;
    if (s.run.status !== b.run.status)
      return `run ${id} is ${String(s.run.status)} in the store, ${String(b.run.status)} in the file`;
    for (const part of ['run', 'params', 'metrics', 'imageResults', 'tuningResults', 'artifacts'] as const) {
      if (!isDeepStrictEqual(plain([s[part]]), plain([b[part]]))) return `run ${id}'s ${part} differ`;
    }
    h.delete(id);
  }
  if (h.size) return `run ${[...h.keys()][0]} is not in the file`;
  return 'the experiment row differs';
}
