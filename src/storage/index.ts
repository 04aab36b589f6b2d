/**
 * The one door to the tracking database. Opens PostgreSQL (DATABASE_URL) or embedded PGlite under
 * the NucleiFlow home, applies the checked-in SQL migrations, and hands back a Drizzle database.
 * Nothing else in the code base imports a database driver.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import * as schema from '../../db/schema.ts';
import { REPO_ROOT } from '../config.ts';
import { ConfigError } from '../errors.ts';

export { schema };
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Storage {
  readonly db: Db;
  readonly kind: 'postgres' | 'pglite';
  /** Where it lives: the URL without password, or the PGlite folder. */
  readonly location: string;
  close(): Promise<void>;
}

export const MIGRATIONS_DIR = resolve(REPO_ROOT, 'db', 'migrations');

export interface OpenOptions {
  /** postgres:// URL; when absent, PGlite under `home`. */
  readonly databaseUrl?: string | undefined;
  /** NucleiFlow home, for the embedded database. */
  readonly home: string;
  /** Apply pending migrations (default true). */
  readonly migrate?: boolean;
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/** Opens the configured database and migrates it. A database that cannot be reached is a ConfigError. */
export async function openStorage(opts: OpenOptions): Promise<Storage> {
  const migrate = opts.migrate ?? true;
  if (opts.databaseUrl) {
    const { default: pg } = await import('pg');
    const { drizzle } = await import('drizzle-orm/node-postgres');
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 4, connectionTimeoutMillis: 5000 });
    // A pool emits 'error' when an idle client's server goes away (e.g. Postgres restarts);
    // without a listener that would crash the process instead of failing one query.
    pool.on('error', () => {});
    // A client checked out of the pool has no such listener: if the server goes away mid-query
    // its 'error' event would be unhandled and end the process (a worker, say). With one, the
    // query fails instead, and the caller's retry reconnects.
    pool.on('connect', (client) => {
      client.on('error', () => {});
    });
    try {
      const c = await pool.connect();
      c.release();
    } catch (err) {
      await pool.end().catch(() => {});
      throw new ConfigError(
        `DATABASE_URL: cannot connect to ${redact(opts.databaseUrl)} (${(err as Error).message})`,
      );
    }
    const db = drizzle(pool, { schema }) as unknown as Db;
    if (migrate) {
      const { migrate: run } = await import('drizzle-orm/node-postgres/migrator');
      await run(drizzle(pool, { schema }), { migrationsFolder: MIGRATIONS_DIR });
    }
    return { db, kind: 'postgres', location: redact(opts.databaseUrl), close: () => pool.end() };
  }
  const dir = resolve(opts.home, 'pglite');
  mkdirSync(dir, { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const client = await PGlite.create(dir);
  const pdb = drizzle(client, { schema });
  if (migrate) {
    const { migrate: run } = await import('drizzle-orm/pglite/migrator');
    await run(pdb, { migrationsFolder: MIGRATIONS_DIR });
  }
  return { db: pdb as unknown as Db, kind: 'pglite', location: dir, close: () => client.close() };
}
