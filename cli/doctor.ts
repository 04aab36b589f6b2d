import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from '../src/config.ts';
import { backendInfo } from '../src/model/backend.ts';
import { type Db, openStorage } from '../src/storage/index.ts';
import { outboxFailures, pendingOutbox } from '../src/tracking/index.ts';

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

async function checkTemporal(address: string | undefined): Promise<Check> {
  if (!address) {
    return {
      name: 'temporal',
      ok: true,
      detail: 'embedded: a local dev server is started on demand (TEMPORAL_ADDRESS unset)',
    };
  }
  try {
    const { Connection } = await import('@temporalio/client');
    const conn = await withTimeout(Connection.connect({ address, connectTimeout: 3000 }), 5000, address);
    await withTimeout(conn.healthService.check({}), 5000, address);
    await conn.close();
    return { name: 'temporal', ok: true, detail: `reachable at ${address}` };
  } catch (err) {
    return {
      name: 'temporal',
      ok: false,
      detail: `TEMPORAL_ADDRESS ${address} unreachable: ${(err as Error).message.split('\n')[0]}`,
    };
  }
}

async function checkMlflow(uri: string | undefined): Promise<Check> {
  if (!uri) return { name: 'mlflow', ok: true, detail: 'skipped: MLFLOW_TRACKING_URI unset' };
  try {
    const res = await fetch(`${uri}/health`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return { name: 'mlflow', ok: true, detail: `reachable at ${uri}` };
  } catch (err) {
    return {
      name: 'mlflow',
      ok: false,
      detail: `MLFLOW_TRACKING_URI ${uri} unreachable: ${(err as Error).message}`,
    };
  }
}

/** MLflow records that could not be delivered: a row with a recorded failure fails the check. */
async function checkOutbox(db: Db): Promise<Check> {
  const [pending, failures] = await Promise.all([pendingOutbox(db), outboxFailures(db)]);
  const first = failures[0];
  return {
    name: 'outbox',
    ok: failures.length === 0,
    detail: first
      ? `${failures.length} of ${pending} pending MLflow records failed; first: run ${first.runId} ${first.kind} (${first.attempts} attempts): ${first.lastError}`
      : `${pending} MLflow records pending, none failed`,
  };
}

/** Runs every check, prints a table (or JSON) and returns whether all passed. */
export async function runDoctor(opts: { json: boolean }): Promise<boolean> {
  const config = loadConfig();
  const checks: Check[] = [];

  const tf = backendInfo();
  checks.push({
    name: 'tensorflow',
    ok: tf.native,
    detail:
      tf.error ??
      `backend ${tf.backend} (tfjs ${tf.tfVersion})${tf.native ? '' : ": run 'npm run setup:tf'"}`,
  });

  try {
    const storage = await openStorage({ databaseUrl: config.databaseUrl, home: config.home });
    checks.push({
      name: 'database',
      ok: true,
      detail: `${storage.kind} at ${storage.location}, migrations applied`,
    });
    try {
      checks.push(await checkOutbox(storage.db));
    } catch (err) {
      checks.push({
        name: 'outbox',
        ok: false,
        detail: `cannot read mlflow_outbox: ${(err as Error).message}`,
      });
    } finally {
      await storage.close();
    }
  } catch (err) {
    checks.push({ name: 'database', ok: false, detail: (err as Error).message });
  }

  checks.push(await checkTemporal(config.temporalAddress));
  checks.push(await checkMlflow(config.mlflowTrackingUri));

  const manifest = resolve(config.dataDir, 'manifest.csv');
  const nImages = existsSync(resolve(config.dataDir, 'images'))
    ? readdirSync(resolve(config.dataDir, 'images')).length
    : 0;
  checks.push({
    name: 'data',
    ok: existsSync(manifest) && nImages > 0,
    detail: existsSync(manifest)
      ? `${config.dataDir} (${nImages} images)`
      : `NUCLEIFLOW_DATA: no manifest.csv in ${config.dataDir}`,
  });

  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ ok: checks.every((c) => c.ok), checks }, null, 2)}\n`);
  } else {
    const w = Math.max(...checks.map((c) => c.name.length));
    for (const c of checks) {
      process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(w)}  ${c.detail}\n`);
    }
  }
  return checks.every((c) => c.ok);
}
