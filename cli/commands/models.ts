import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { openDb } from '../../platform/session.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import { UserError } from '../../src/errors.ts';
import { SUBSETS } from '../../src/metrics/subsets.ts';
import type { ModelManifest } from '../../src/model/model-dir.ts';
import type { Db } from '../../src/storage/index.ts';
import { MlflowClient } from '../../src/tracking/mlflow-client.ts';
import { drainOutbox } from '../../src/tracking/outbox.ts';
import { type ModelVersionEntry, pendingRegistryRuns } from '../../src/tracking/queries.ts';
import {
  listModels,
  type ModelCard,
  renderModelReadme,
  resolveModel,
  scoresHeading,
  setAlias,
} from '../../src/tracking/registry.ts';
import { SCORE_KEYS, textTable } from '../../src/tracking/report.ts';
import { action } from '../run-action.ts';

/** Exit code when the store was written but MLflow could not be reached (the write stays queued). */
const QUEUED_EXIT = 3;

const pct = (v: number | undefined | null) => (v === undefined || v === null ? '' : (100 * v).toFixed(2));

/** What `models --json` prints per version (the card is left to `models show`). */
function brief(v: ModelVersionEntry) {
  const c = v.card as ModelCard;
  return {
    name: v.name,
    version: v.version,
    aliases: v.aliases,
    runId: v.runId,
    runStatus: v.runStatus,
    experimentId: v.experimentId,
    dir: v.dir,
    mlflowVersion: v.mlflowVersion,
    createdAt: v.createdAt,
    scores: c.scores ?? null,
  };
}

async function withDb<T>(fn: (db: Db, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const storage = await openDb(config);
  try {
    return await fn(storage.db, config);
  } finally {
    await storage.close();
  }
}

/**
 * Delivers the registry rows queued for these runs now. MLflow unreachable: a UserError (exit 3)
 * saying what stays queued; the store write stands and the next delivery sends it.
 */
async function deliver(db: Db, config: Config, runIds: readonly string[]): Promise<string> {
  if (!config.mlflowTrackingUri)
    return 'MLflow: not configured (MLFLOW_TRACKING_URI unset), kept in the outbox';
  const client = new MlflowClient(config.mlflowTrackingUri, { timeoutMs: 5000 });
  let pending = 0;
  let error: string | undefined;
  for (const runId of runIds) {
    const r = await drainOutbox(db, client, { runId });
    pending += r.pending;
    error ??= r.error;
  }
  if (pending > 0)
    throw new UserError(
      `MLflow registry not updated, ${pending} record(s) queued (${error ?? 'pending'}); \`nucleiflow models sync\` delivers them`,
      { exitCode: QUEUED_EXIT },
    );
  return `MLflow: delivered (${config.mlflowTrackingUri})`;
}

function printList(versions: readonly ModelVersionEntry[]): void {
  const body = versions.map((v) => {
    const s = (v.card as ModelCard).scores;
    return [
      `${v.name}@${v.version}`,
      v.aliases.join(','),
      v.runId,
      v.runStatus,
      pct(s?.all?.aji),
      pct(s?.seen?.aji),
      pct(s?.unseen?.aji),
      v.mlflowVersion ?? 'queued',
    ];
  });
  process.stdout.write(
    `${textTable(['Model', 'Aliases', 'Run', 'Run status', 'AJI', 'AJI seen', 'AJI unseen', 'MLflow'], body)}\n`,
  );
}

function printShow(v: ModelVersionEntry): void {
  const c = v.card as ModelCard;
  const w = (s: string) => process.stdout.write(`${s}\n`);
  w(`model       ${v.name}@${v.version}`);
  w(`aliases     ${v.aliases.join(', ') || '-'}`);
  w(`run         ${v.runId} (${v.runStatus}), experiment ${v.experimentId}`);
  w(`spec        ${c.specName}`);
  w(`code        ${c.codeCommit ?? '-'}`);
  w(`data        ${c.dataHash ?? '-'}`);
  w(`machine     ${c.machine ?? '-'}`);
  w(`weights     ${v.dir}`);
  w(`mlflow      ${v.mlflowVersion ? `version ${v.mlflowVersion}` : 'queued'}`);
  w(`scale       ${c.trainingScale.micronsPerPixel} um/px (${c.trainingScale.magnification})`);
  w(`postprocess ${c.postprocess ? JSON.stringify(c.postprocess) : 'library defaults'}`);
  const trained = Object.entries(c.trained ?? {});
  w(
    `trained     ${trained.length ? trained.map(([k, t]) => `${k} ${(t as { steps?: number }).steps ?? '?'} steps`).join(', ') : '-'}`,
  );
  w(`split       ${c.split ?? 'kumar'}`);
  const heading = scoresHeading(c);
  w(`\n${heading.text}${heading.scored ? '' : '.'}`);
  if (!heading.scored) return;
  w(
    textTable(
      ['Subset', ...SCORE_KEYS],
      SUBSETS.map((s) => [s, ...SCORE_KEYS.map((k) => pct(c.scores?.[s]?.[k]))]),
    ),
  );
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * Writes the version's folder: weights (checked against model.json's sha256), model.json, card.json
 * and README.md, into a temporary sibling folder renamed into place, so `out` is either the old
 * folder or the complete new one.
 */
async function exportVersion(v: ModelVersionEntry, out: string, force: boolean): Promise<void> {
  const src = v.dir;
  let manifestText: string;
  try {
    manifestText = await readFile(join(src, 'model.json'), 'utf8');
  } catch (err) {
    throw new UserError(
      `model ${v.name}@${v.version}: ${src}/model.json unreadable (${(err as Error).message})`,
    );
  }
  const manifest = JSON.parse(manifestText) as ModelManifest;
  const files: Array<[string, Uint8Array | string]> = [['model.json', manifestText]];
  for (const which of ['seg', 'dist'] as const) {
    const file = manifest.files[which];
    const bytes = await readFile(join(src, file)).catch((err: Error) => {
      throw new UserError(`model ${v.name}@${v.version}: ${join(src, file)} unreadable (${err.message})`);
    });
    if (sha256(bytes) !== manifest.sha256[which])
      throw new UserError(
        `model ${v.name}@${v.version}: ${join(src, file)} does not match its sha256 in model.json (corrupt)`,
      );
    files.push([file, bytes]);
  }
  const card = {
    name: v.name,
    version: v.version,
    aliases: v.aliases,
    mlflowVersion: v.mlflowVersion,
    ...(v.card as ModelCard),
  };
  files.push(['card.json', `${JSON.stringify(card, null, 2)}\n`], ['README.md', renderModelReadme(v)]);

  const exists = existsSync(out);
  if (exists && !force && (await readdir(out)).length > 0)
    throw new UserError(`--out ${out}: already exists and is not empty (pass --force to replace it)`);
  await mkdir(dirname(out), { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = join(dirname(out), `.${basename(out)}.${tag}.tmp`);
  const old = join(dirname(out), `.${basename(out)}.${tag}.old`);
  try {
    await mkdir(tmp);
    for (const [name, data] of files) await writeFile(join(tmp, name), data);
    if (exists) await rename(out, old);
    await rename(tmp, out);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    if (existsSync(old) && !existsSync(out)) await rename(old, out);
    throw err;
  }
  await rm(old, { recursive: true, force: true });
}

export function register(program: Command): void {
  const models = program
    .command('models')
    .description(
      'The model registry: every completed run registers a version of the model named after its spec; list, show, alias (e.g. default) and export them',
    );
  models
    .command('list', { isDefault: true })
    .description('List every model version with its aliases, run and test AJI (the default subcommand)')
    .option('--json', 'print one JSON array of versions (name, version, aliases, runId, scores, ...)')
    .action(
      action(async (opts: { json?: boolean }) => {
        const versions = await withDb((db) => listModels(db));
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(versions.map(brief), null, 2)}\n`);
          return;
        }
        if (versions.length === 0) {
          process.stdout.write('No model versions yet: every completed run registers one.\n');
          return;
        }
        printList(versions);
      }),
    );
  models
    .command('show')
    .description('Show one version: provenance, steps run, scores, post-processing')
    .argument('<model>', 'NAME (its default alias, else its latest version), NAME@VERSION or NAME@ALIAS')
    .option('--json', 'print the version with its full card as JSON')
    .action(
      action(async (ref: string, opts: { json?: boolean }) => {
        const v = await withDb((db) => resolveModel(db, ref));
        if (opts.json) process.stdout.write(`${JSON.stringify({ ...brief(v), card: v.card }, null, 2)}\n`);
        else printShow(v);
      }),
    );
  models
    .command('alias')
    .description('Point an alias (e.g. default) at a version of a completed run; queued for MLflow too')
    .argument('<model>', 'NAME@VERSION (or NAME@ALIAS: the version it points to)')
    .argument('<alias>', 'alias name, e.g. default')
    .action(
      action(async (ref: string, alias: string) => {
        await withDb(async (db, config) => {
          const target = await resolveModel(db, ref);
          const { previous, entry } = await setAlias(db, target.name, target.version, alias);
          process.stdout.write(
            `${entry.name}@${alias} -> version ${entry.version} (run ${entry.runId})${previous !== undefined && previous !== entry.version ? `, was ${previous}` : ''}\n`,
          );
          process.stdout.write(`${await deliver(db, config, [entry.runId])}\n`);
        });
      }),
    );
  models
    .command('export')
    .description(
      'Write a version as a model folder: weights (sha256 checked), model.json, card.json, README.md',
    )
    .argument('<model>', 'NAME, NAME@VERSION or NAME@ALIAS')
    .requiredOption('--out <dir>', 'folder to write (replaced atomically with --force)')
    .option('--force', 'replace an existing folder')
    .action(
      action(async (ref: string, opts: { out: string; force?: boolean }) => {
        const v = await withDb((db) => resolveModel(db, ref));
        const out = resolve(opts.out);
        await exportVersion(v, out, opts.force ?? false);
        process.stdout.write(`${v.name}@${v.version} (run ${v.runId}) -> ${out}\n`);
      }),
    );
  models
    .command('sync')
    .description('Deliver queued model registry records to MLflow now (exit 3 while MLflow is unreachable)')
    .action(
      action(async () => {
        await withDb(async (db, config) => {
          if (!config.mlflowTrackingUri)
            throw new UserError('MLFLOW_TRACKING_URI: not set, nowhere to deliver to');
          const runIds = await pendingRegistryRuns(db);
          if (runIds.length === 0) {
            process.stdout.write('Nothing queued for the MLflow registry.\n');
            return;
          }
          process.stdout.write(`${await deliver(db, config, runIds)}\n`);
        });
      }),
    );
}
