// PostgreSQL restarted in the middle of training: writes retry through the outage, the run
// completes, and no epoch row is lost or doubled. The worker logs at WARN on stderr, so the test also sees
// the tracking writes that failed during the outage and were retried (activities/index.ts persist).
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tracking from '../../src/tracking/index.ts';
import { freePort } from '../helpers/mlflow-server.ts';
import {
  type Cli,
  lastSegEpoch,
  platformCli,
  startQuickRun,
  waitFor,
  waitForTerminal,
} from '../helpers/platform.ts';
import { type PostgresServer, startPostgres } from '../helpers/postgres-server.ts';

describe('Postgres restarted mid-run', { timeout: 900_000 }, () => {
  let cli: Cli;
  let pg: PostgresServer;
  let worker: ChildProcess;
  beforeAll(async () => {
    pg = startPostgres(await freePort());
    cli = await platformCli({ DATABASE_URL: pg.url });
    worker = await cli.startWorker({ NUCLEIFLOW_TEMPORAL_LOG: 'WARN', NUCLEIFLOW_TEMPORAL_LOG_STDERR: '1' });
  });
  afterAll(async () => {
    await cli?.cleanup();
    pg?.stop();
  });

  it('completes with every epoch recorded exactly once', async () => {
    const epochs = 8;
    const { runId } = await startQuickRun(cli, { epochs });
    const { db } = cli.storage;
    await waitFor('two seg epochs', async () => (await lastSegEpoch(cli, runId)) >= 2);
    let log = '';
    worker.stderr!.on('data', (d) => {
      log += d;
    });
    // Down for 12 s: longer than an epoch of quick even on a loaded 2-core machine (where 4 s fell
    // between two epochs' writes), so at least one metrics write hits the outage.
    pg.restart(12_000);
    const run = await waitForTerminal(cli, runId, 'the run to finish');
    expect(run.status, run.error ?? '').toBe('completed');
    // The outage was felt: at least one epoch's metrics write failed and was retried.
    const retries = log.match(/metrics of (seg|dist) epoch \d+ failed, retrying in \d+ ms: [^\n]*/g) ?? [];
    expect(retries.length, log.slice(-4000)).toBeGreaterThan(0);
    for (const stage of ['seg', 'dist']) {
      const steps = (await tracking.getMetrics(db, runId, stage))
        .filter((m) => m.key === 'loss')
        .map((m) => m.step);
      expect(steps).toEqual(Array.from({ length: epochs }, (_, i) => i + 1));
    }
    expect(await tracking.getImageResults(db, runId)).toHaveLength(2);
  });
});
