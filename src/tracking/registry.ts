/**
 * The model registry: writes of model versions and aliases (reads in queries.ts). Each completed
 * run registers one version of the model named after its spec (idempotent per (name, run), so a
 * retried activity registers it once); an alias (e.g. `default`) points a name at a version of a
 * completed run. Both writes queue their MLflow Model Registry mirror in `mlflow_outbox` in the
 * same transaction (delivered by outbox.ts: registered model, a version linked to the run's MLflow
 * run, registered-model aliases), so MLflow being down loses nothing.
 */

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { and, eq, sql } from 'drizzle-orm';
import { SPLIT_SCORED, type SplitName, splitOfSpec } from '../data/splits.ts';
import { UserError } from '../errors.ts';
import { SUBSETS, type SubsetName, subsetMeans } from '../metrics/subsets.ts';
import { type ModelManifest, TRAINING_SCALE, type TunedPostprocess } from '../model/model-dir.ts';
import { type Db, schema } from '../storage/index.ts';
import {
  aliasVersion,
  getExperiment,
  getImageResults,
  getRun,
  listModelAliases,
  listModelVersions,
  type ModelVersionEntry,
} from './queries.ts';
import { SCORE_KEYS, type ScoreKey } from './report.ts';

export { TRAINING_SCALE };

const { modelVersions, modelAliases, mlflowOutbox } = schema;

/** Outbox payloads of the registry; delivered by outbox.ts. */
export type RegistryPayload =
  | { kind: 'model-version'; name: string; version: number }
  /** Delivery sets the alias to where the store points it then (the latest write wins). */
  | { kind: 'model-alias'; name: string; alias: string; version: number };

export interface ModelCard {
  readonly run: string;
  readonly experiment: string;
  readonly spec: unknown;
  readonly specName: string;
  readonly codeCommit: string | null;
  readonly dataHash: string | null;
  /** The worker host that trained it. */
  readonly machine: string | null;
  /** runs.trained: what each net ran ({} when the run did not record it). */
  readonly trained: Record<string, unknown>;
  /** The data split it trained on (src/data/splits.ts); cards from before splits were named lack it (`kumar`). */
  readonly split?: SplitName;
  /** Two-stage means per subset over the run's scored images (fractions in [0, 1]). */
  readonly scores: Record<SubsetName, Record<ScoreKey, number> | null> & { readonly nImages: number };
  /** The post-processing setting chosen on the training images (model.json's `postprocess`), if any. */
  readonly postprocess: TunedPostprocess | null;
  readonly trainingScale: typeof TRAINING_SCALE;
  readonly weights: { readonly dtype: string; readonly sha256: { seg: string; dist: string } };
  readonly finishedAt: string | null;
}

/** Names of models and aliases: what a spec name allows. */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Builds a version's card from the store and the packaged model's model.json. */
export async function modelCard(db: Db, runId: string, dir: string): Promise<ModelCard> {
  const run = await getRun(db, runId);
  if (!run) throw new UserError(`run ${runId}: not in the tracking database`);
  const exp = await getExperiment(db, run.experimentId);
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as ModelManifest;
  } catch (err) {
    throw new UserError(`model ${dir}: cannot read model.json (${(err as Error).message})`, { cause: err });
  }
  const rows = await getImageResults(db, [runId], 'two-stage');
  const means = subsetMeans(rows, SCORE_KEYS);
  return {
    run: run.id,
    experiment: run.experimentId,
    spec: run.spec,
    specName: exp?.specName ?? specNameOf(run.spec),
    codeCommit: run.codeCommit,
    dataHash: run.dataHash,
    machine: run.workerHost,
    trained: (run.trained ?? {}) as Record<string, unknown>,
    split: splitOfSpec(run.spec),
    scores: {
      ...Object.fromEntries(SUBSETS.map((s) => [s, means[s]])),
      nImages: rows.length,
    } as ModelCard['scores'],
    postprocess: manifest.postprocess ?? null,
    trainingScale: TRAINING_SCALE,
    weights: { dtype: manifest.dtype, sha256: { seg: manifest.sha256.seg, dist: manifest.sha256.dist } },
    finishedAt: run.finishedAt ? run.finishedAt.toISOString() : null,
  };
}

/** The model name of a run: its spec's name. */
export function specNameOf(spec: unknown): string {
  const name = (spec as { name?: unknown } | null)?.name;
  if (typeof name !== 'string' || !NAME_RE.test(name))
    throw new UserError(`spec name ${JSON.stringify(name)}: not a model name (letters, digits, - and _)`);
  return name;
}

async function enqueue(
  tx: Parameters<Parameters<Db['transaction']>[0]>[0],
  runId: string,
  dedupeKey: string,
  payload: RegistryPayload,
): Promise<void> {
  await tx
    .insert(mlflowOutbox)
    .values({ runId, kind: payload.kind, dedupeKey, payload })
    .onConflictDoNothing({ target: mlflowOutbox.dedupeKey });
}

/**
 * Registers the run's packaged model as the next version of `name`. A second call for the same
 * (name, run) returns the version the first made and queues nothing new.
 */
export async function registerModelVersion(
  db: Db,
  v: { name: string; runId: string; dir: string; card: ModelCard },
): Promise<{ name: string; version: number; created: boolean }> {
  if (!NAME_RE.test(v.name)) throw new UserError(`model name '${v.name}': letters, digits, - and _ only`);
  return db.transaction(async (tx) => {
    // Serialises registrations of one name, so two runs finishing together get distinct versions.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`nucleiflow.model:${v.name}`}))`);
    const [existing] = await tx
      .select({ version: modelVersions.version })
      .from(modelVersions)
      .where(and(eq(modelVersions.name, v.name), eq(modelVersions.runId, v.runId)));
    if (existing) return { name: v.name, version: existing.version, created: false };
    const [{ next }] = (await tx
      .select({ next: sql<number>`coalesce(max(${modelVersions.version}), 0)::int + 1` })
      .from(modelVersions)
      .where(eq(modelVersions.name, v.name))) as [{ next: number }];
    await tx
      .insert(modelVersions)
      .values({ name: v.name, version: next, runId: v.runId, dir: v.dir, card: v.card });
    await enqueue(tx, v.runId, `model-version:${v.name}:${v.runId}`, {
      kind: 'model-version',
      name: v.name,
      version: next,
    });
    return { name: v.name, version: next, created: true };
  });
}

/** A model reference as users write it: NAME, NAME@VERSION or NAME@ALIAS. */
export interface ModelRef {
  readonly name: string;
  readonly version?: number;
  readonly alias?: string;
}

export function parseModelRef(ref: string): ModelRef {
  const m = /^([^@]+)(?:@(.+))?$/.exec(ref);
  if (!m || !NAME_RE.test(m[1]!))
    throw new UserError(`model '${ref}': expected NAME, NAME@VERSION or NAME@ALIAS`);
  const [, name, tail] = m as unknown as [string, string, string | undefined];
  if (tail === undefined) return { name };
  if (/^\d+$/.test(tail)) return { name, version: Number(tail) };
  if (!NAME_RE.test(tail)) throw new UserError(`model '${ref}': alias '${tail}' is not a name`);
  return { name, alias: tail };
}

const known = (xs: readonly string[]) => (xs.length ? xs.join(', ') : 'none');

/**
 * Resolves NAME (its `default` alias if it has one, else its latest version), NAME@VERSION or
 * NAME@ALIAS. An unknown name, version or alias is a UserError that lists the known ones.
 */
export async function resolveModel(db: Db, ref: string): Promise<ModelVersionEntry> {
  const r = parseModelRef(ref);
  const versions = await listModelVersions(db, r.name);
  if (versions.length === 0) {
    const names = [...new Set((await listModelVersions(db)).map((v) => v.name))];
    throw new UserError(`model '${r.name}': not in the registry (known models: ${known(names)})`);
  }
  let version = r.version;
  if (r.alias !== undefined) {
    version = await aliasVersion(db, r.name, r.alias);
    if (version === undefined) {
      const aliases = (await listModelAliases(db, r.name)).map((a) => `${a.alias} -> ${a.version}`);
      throw new UserError(`model '${r.name}': no alias '${r.alias}' (known aliases: ${known(aliases)})`);
    }
  } else if (version === undefined) {
    version = (await aliasVersion(db, r.name, 'default')) ?? versions.at(-1)!.version;
  }
  const found = versions.find((v) => v.version === version);
  if (!found)
    throw new UserError(
      `model '${r.name}': no version ${version} (known versions: ${known(versions.map((v) => String(v.version)))})`,
    );
  return found;
}

/** Every version of every model, with aliases. */
export const listModels = (db: Db) => listModelVersions(db);

/**
 * Points `alias` of `name` at `version`. Refused (one line) when the version does not exist or its
 * run is not completed. Queues the MLflow alias under the version's run.
 */
export async function setAlias(
  db: Db,
  name: string,
  version: number,
  alias: string,
): Promise<{ previous: number | undefined; entry: ModelVersionEntry }> {
  if (!NAME_RE.test(alias)) throw new UserError(`alias '${alias}': letters, digits, - and _ only`);
  if (/^\d+$/.test(alias)) throw new UserError(`alias '${alias}': a number would read as a version`);
  const entry = await resolveModel(db, `${name}@${version}`);
  if (entry.runStatus !== 'completed')
    throw new UserError(
      `model ${name}@${version}: its run ${entry.runId} is ${entry.runStatus}, not completed; an alias needs a completed run`,
    );
  const previous = await aliasVersion(db, name, alias);
  await db.transaction(async (tx) => {
    const now = new Date();
    await tx
      .insert(modelAliases)
      .values({ name, alias, version, updatedAt: now })
      .onConflictDoUpdate({
        target: [modelAliases.name, modelAliases.alias],
        set: { version, updatedAt: now },
      });
    await enqueue(tx, entry.runId, `model-alias:${name}:${alias}:${version}:${now.getTime()}`, {
      kind: 'model-alias',
      name,
      alias,
      version,
    });
  });
  return { previous, entry };
}

const pct = (v: number | undefined) => (v === undefined ? '—' : (100 * v).toFixed(2));

/** What a card's scores are on, as a heading; `scored: false` for a model that saw every scored image. */
export function scoresHeading(c: ModelCard): { scored: boolean; text: string } {
  const split = c.split ?? 'kumar';
  if (split === 'all')
    return {
      scored: false,
      text: 'Not scored: it trained on all 30 images, the Kumar test images among them; score it on slides it never saw',
    };
  return {
    scored: true,
    text: `Scores, two-stage, on ${SPLIT_SCORED[split]} (percent, mean over ${c.scores?.nImages ?? 0} images)`,
  };
}

/** A version's card as README.md: provenance, steps run, scores, post-processing, scale, usage. */
export function renderModelReadme(v: ModelVersionEntry): string {
  const c = v.card as ModelCard;
  const trained = Object.entries(c.trained ?? {}).map(([stage, t]) => {
    const r = (t ?? {}) as Record<string, unknown>;
    const f = (k: string) => (r[k] === undefined ? '—' : String(r[k]));
    return `| ${stage} | ${f('steps')} | ${f('epochs')} | ${Array.isArray(r.lrDrops) ? r.lrDrops.join(', ') || '—' : '—'} | ${f('wallSeconds')} | ${f('cpuSeconds')} |`;
  });
  const scores = SUBSETS.map((s) => {
    const m = c.scores?.[s] ?? null;
    return `| ${s} | ${SCORE_KEYS.map((k) => pct(m?.[k])).join(' | ')} |`;
  });
  const heading = scoresHeading(c);
  const lines = [
    `# ${v.name}@${v.version}`,
    '',
    'Two-stage U-Net nuclei segmentation (Mahbod et al., ISBI 2019), exported from the NucleiFlow model registry by `nucleiflow models export`. Every value below comes from the tracking store.',
    '',
    '| | |',
    '|---|---|',
    `| Aliases | ${v.aliases.join(', ') || '—'} |`,
    `| Run | ${c.run} (experiment ${c.experiment}) |`,
    `| Spec | ${c.specName} |`,
    `| Code commit | ${c.codeCommit ?? '—'} |`,
    `| Data hash | ${c.dataHash ?? '—'} |`,
    `| Machine | ${c.machine ?? '—'} |`,
    `| Finished | ${c.finishedAt ?? '—'} |`,
    `| MLflow model version | ${v.mlflowVersion ?? 'not delivered yet'} |`,
    `| Trained at | ${c.trainingScale.micronsPerPixel} um/px (${c.trainingScale.magnification}), ${c.trainingScale.dataset} |`,
    `| Weights | ${c.weights.dtype}; seg.bin sha256 ${c.weights.sha256.seg}, dist.bin sha256 ${c.weights.sha256.dist} |`,
    '',
    '## Steps run',
    '',
    ...(trained.length
      ? [
          '| Net | Steps | Epochs | lr drops at step | Wall s | CPU s |',
          '|---|---|---|---|---|---|',
          ...trained,
        ]
      : ['The run recorded no per-net step counts.']),
    '',
    ...(heading.scored
      ? [
          `## ${heading.text}`,
          '',
          `| Subset | ${SCORE_KEYS.join(' | ')} |`,
          `|---|${SCORE_KEYS.map(() => '---').join('|')}|`,
          ...scores,
        ]
      : ['## Scores', '', `${heading.text}.`]),
    '',
    '## Post-processing',
    '',
    c.postprocess
      ? `Chosen on the training images: \`${JSON.stringify(c.postprocess)}\``
      : 'No tuned setting recorded; the library defaults apply.',
    '',
    '## Use',
    '',
    '```',
    `nucleiflow segment --model ${v.name}@${v.version} image.tif --out out/`,
    'nucleiflow segment --model path/to/this/folder image.tif --out out/',
    '```',
    '',
  ];
  return lines.join('\n');
}
