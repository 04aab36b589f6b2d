/**
 * What `nucleiflow report` reads, through the one read layer (src/tracking/queries.ts): the runs
 * of one experiment (or one run), their per-image results of both methods, learning curves,
 * chosen post-processing and training facts. A completed run that trained on every image (split
 * `all`) has nothing to score by design: it is reported with its training facts and curves, unscored.
 * Refuses, with one line, an id that names nothing and a target with neither.
 */
import { z } from 'zod';
import { splitOfSpec } from '../data/splits.ts';
import { UserError } from '../errors.ts';
import type { Db } from '../storage/index.ts';
import * as q from '../tracking/queries.ts';

const stageTrained = z.object({
  budget: z.object({ kind: z.string(), value: z.number() }).optional(),
  steps: z.number().optional(),
  epochs: z.number().optional(),
  lrDrops: z.array(z.number()).optional(),
  wallSeconds: z.number().optional(),
  cpuSeconds: z.number().optional(),
});
export type StageTrained = z.infer<typeof stageTrained>;
export interface Trained {
  readonly seg: StageTrained | null;
  readonly dist: StageTrained | null;
}

/** runs.trained as written by the training activity; a stage missing or malformed reads as null. */
export function parseTrained(v: unknown): Trained {
  const o = (v ?? {}) as Record<string, unknown>;
  const stage = (x: unknown) => {
    const r = stageTrained.safeParse(x);
    return r.success ? r.data : null;
  };
  return { seg: stage(o.seg), dist: stage(o.dist) };
}

export interface ReportRun {
  readonly run: q.RunRow;
  readonly params: Record<string, string>;
  readonly trained: Trained;
  readonly curves: q.Curve[];
  readonly tuning: q.TuningRecord | null;
  /**
   * The first scoring of the Kumar test split by any run of this run's recipe (the spec without its
   * seed and split); null when the run recorded none (not scored on that split, or scored before it was recorded).
   */
  readonly firstTestScoring: q.TestScoring | null;
}

export interface ReportData {
  readonly kind: 'run' | 'experiment';
  /** The id the report is about (an experiment id or a run id). */
  readonly id: string;
  readonly experiment: q.ExperimentRow;
  /**
   * Runs with per-image results, in creation order (the first is the baseline), and the completed
   * runs of split `all`, which have none by design (unscored).
   */
  readonly runs: ReportRun[];
  /** Runs of the experiment left out because they have no per-image results yet. */
  readonly withoutResults: q.RunRow[];
  readonly results: q.ImageResultRecord[];
}

async function resolveTarget(db: Db, id: string): Promise<{ kind: 'run' | 'experiment'; ids: string[] }> {
  if (await q.getExperiment(db, id)) return { kind: 'experiment', ids: await q.runIdsOfExperiment(db, id) };
  const found = await q.findRun(db, id);
  const exact = found.find((r) => r.id === id);
  if (exact) return { kind: 'run', ids: [exact.id] };
  if (found.length === 1) return { kind: 'run', ids: [found[0]!.id] };
  if (found.length > 1)
    throw new UserError(`run prefix ${id} is ambiguous: ${found.map((r) => r.id).join(', ')}`);
  throw new UserError(`unknown run or experiment: ${id}`);
}

export async function loadReportData(db: Db, target: string): Promise<ReportData> {
  const { kind, ids } = await resolveTarget(db, target);
  const brief = await q.getRunsBrief(db, ids);
  const results = await q.getImageResults(db, ids, 'all');
  const has = new Set(results.map((r) => r.runId));
  const unscored = (b: (typeof brief)[number]) =>
    b.run.status === 'completed' && splitOfSpec(b.run.spec) === 'all';
  const withResults = brief.filter((b) => has.has(b.run.id) || unscored(b));
  const experiment = brief[0]?.experiment ?? (await q.getExperiment(db, target));
  if (!experiment || withResults.length === 0) {
    const what = kind === 'run' ? `run ${ids[0]}` : `experiment ${target}`;
    const statuses = brief.map((b) => `${b.run.id} ${b.run.status}`).join(', ');
    throw new UserError(`${what} has no per-image results yet${statuses ? ` (${statuses})` : ''}`);
  }
  const runIds = withResults.map((b) => b.run.id);
  const [curves, tuning, params] = await Promise.all([
    q.getCurves(db, runIds),
    q.getChosenTuning(db, runIds),
    Promise.all(runIds.map((id) => q.getParams(db, id))),
  ]);
  const recipes = params.map((p) => p['test.recipe']).filter((v): v is string => v !== undefined);
  const first = await q.firstTestScorings(db, [...new Set(recipes)]);
  return {
    kind,
    id: kind === 'run' ? ids[0]! : target,
    experiment,
    runs: withResults.map((b, i) => ({
      run: b.run,
      params: params[i]!,
      trained: parseTrained(b.run.trained),
      curves: curves.get(b.run.id) ?? [],
      tuning: tuning.find((t) => t.runId === b.run.id) ?? null,
      firstTestScoring: first.get(params[i]!['test.recipe'] ?? '') ?? null,
    })),
    withoutResults: brief.filter((b) => !has.has(b.run.id) && !unscored(b)).map((b) => b.run),
    results: results.filter((r) => has.has(r.runId)),
  };
}
