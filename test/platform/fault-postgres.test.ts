// PostgreSQL restarted in the middle of training: writes retry through the outage, the run
// completes, and no epoch row is lost or doubled.
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
  beforeAll(async () => {
    pg = startPostgres(await freePort());
    cli = await platformCli({ DATABASE_URL: pg.url });
    await cli.startWorker();
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
    // Down for 4 s: several epochs' writes (and activity starts) hit the outage.
    pg.restart(4000);
    const run = await waitForTerminal(cli, runId, 'the run to finish');
    expect(run.status, run.error ?? '').toBe('completed');
    for (const stage of ['seg', 'dist']) {
      const steps = (await tracking.getMetrics(db, runId, stage))
        .filter((m) => m.key === 'loss')
        .map((m) => m.step);
      expect(steps).toEqual(Array.from({ length: epochs }, (_, i) => i + 1));
    }
    expect(await tracking.getImageResults(db, runId)).toHaveLength(2);
  });
});
