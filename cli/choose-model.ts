// The model `segment` uses when given --model or not, shared with the closing note of `run quick`, which
// names the same default.
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { loadConfig } from '../src/config.ts';
import { UserError } from '../src/errors.ts';
import { SHIPPED_MODEL_DIR } from '../src/model/model-dir.ts';

/** The model segment uses, and how its outputs name it. */
export interface ChosenModel {
  readonly dir: string;
  /** Registry version, or null for a folder given as a path. */
  readonly registry: { name: string; version: number; runId: string } | null;
  /** The registry version's card (its model.json folder may have no card.json); undefined for a folder. */
  readonly card?: unknown;
}

/** A --model value naming a folder rather than a registry entry. */
const isPath = (ref: string) =>
  ref.includes('/') || ref.includes('\\') || ref.startsWith('.') || isAbsolute(ref) || existsSync(ref);

/**
 * --model as given (a folder, or NAME[@VERSION|@ALIAS] from the registry), else the most recently
 * set `default` alias in the configured store, else the shipped folder. The store is only opened
 * when it exists (DATABASE_URL set, or a PGlite folder under the home) and is not migrated here:
 * a store without the registry tables has no default.
 */
export async function chooseModel(ref: string | undefined): Promise<ChosenModel> {
  if (ref !== undefined && isPath(ref)) return { dir: resolve(ref), registry: null };
  const config = loadConfig();
  if (!config.databaseUrl && !existsSync(join(config.home, 'pglite'))) {
    if (ref === undefined) return { dir: SHIPPED_MODEL_DIR, registry: null };
    throw new UserError(
      `--model ${ref}: no such folder, and no tracking store to look it up in (DATABASE_URL unset, no ${join(config.home, 'pglite')})`,
    );
  }
  const { openStorage } = await import('../src/storage/index.ts');
  const registry = await import('../src/tracking/registry.ts');
  let storage: Awaited<ReturnType<typeof openStorage>>;
  try {
    storage = await openStorage({
      databaseUrl: config.databaseUrl,
      home: config.home,
      migrate: ref !== undefined,
    });
  } catch (err) {
    if (ref !== undefined || !(err instanceof UserError)) throw err;
    // No --model: an unreachable store must not stop segmentation; the outputs name the model used.
    process.stderr.write(`nucleiflow: ${err.message}; using the shipped model\n`);
    return { dir: SHIPPED_MODEL_DIR, registry: null };
  }
  try {
    let target = ref;
    if (target === undefined) {
      const { latestDefaultAlias } = await import('../src/tracking/queries.ts');
      const a = await latestDefaultAlias(storage.db).catch((err: unknown) => {
        // 42P01: the store predates the registry tables, so it has no default.
        if ((err as { code?: string; cause?: { code?: string } }).code === '42P01') return undefined;
        if ((err as { cause?: { code?: string } }).cause?.code === '42P01') return undefined;
        throw err;
      });
      if (!a) return { dir: SHIPPED_MODEL_DIR, registry: null };
      target = `${a.name}@${a.version}`;
    }
    const v = await registry.resolveModel(storage.db, target);
    return { dir: v.dir, registry: { name: v.name, version: v.version, runId: v.runId }, card: v.card };
  } finally {
    await storage.close();
  }
}
