/**
 * Access to the real services for platform tests (started by `bash scripts/services.sh up`, env
 * from `.nucleiflow/services/env.sh`). Each test file gets a database of its own, created fresh
 * in the test cluster and dropped afterwards, so runs never see each other's rows and a second
 * run of the suite starts from the same state as the first.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';

export interface Services {
  readonly databaseUrl: string;
  readonly temporalAddress: string;
  readonly mlflowUri: string;
}

export function services(): Services {
  const { databaseUrl, temporalAddress, mlflowTrackingUri } = loadConfig();
  if (!databaseUrl || !temporalAddress || !mlflowTrackingUri) {
    throw new Error(
      'platform tests need the real services: bash scripts/services.sh up && source .nucleiflow/services/env.sh',
    );
  }
  return { databaseUrl, temporalAddress, mlflowUri: mlflowTrackingUri };
}

/** A unique lowercase token for names (databases, task queues, experiment ids). */
export const token = () => `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

/** Creates an empty database next to DATABASE_URL's; `drop()` removes it (forcing out connections). */
export async function createTestDatabase(): Promise<{
  url: string;
  name: string;
  drop: () => Promise<void>;
}> {
  const base = new URL(loadConfig().testDatabaseUrl ?? services().databaseUrl);
  const name = `nf_test_${token()}`;
  const admin = new URL(base);
  admin.pathname = '/postgres';
  const c = new pg.Client({ connectionString: admin.toString() });
  await c.connect();
  await c.query(`create database ${name}`);
  await c.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const d = new pg.Client({ connectionString: admin.toString() });
      await d.connect();
      await d.query(`drop database if exists ${name} with (force)`);
      await d.end();
    },
  };
}
