// MLflow goes away in the middle of a run: training goes on, the outbox keeps every record and
// delivers all of them once MLflow is back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tracking from '../../src/tracking/index.ts';
import { MlflowClient } from '../../src/tracking/mlflow-client.ts';
import { experimentWorkflowId } from '../../workflows/index.ts';
import { freePort, type MlflowServer, mlflowServer } from '../helpers/mlflow-server.ts';
import { type Cli, platformCli, startQuickRun, waitFor, waitForTerminal } from '../helpers/platform.ts';
import { services } from '../helpers/services.ts';

describe('MLflow down mid-run', { timeout: 900_000 }, () => {
  let cli: Cli;
  let ml: MlflowServer;
  const dir = mkdtempSync(join(tmpdir(), 'nf-mlflow-'));
  beforeAll(async () => {
    ml = mlflowServer(dir, await freePort());
    await ml.start();
    cli = await platformCli({ MLFLOW_TRACKING_URI: ml.uri });
    await cli.startWorker();
  });
  afterAll(async () => {
    await ml?.stop();
    await cli?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('completes the run, then delivers every pending record when MLflow returns', async () => {
    const epochs = 5;
    const { experimentId: expId, runId } = await startQuickRun(cli, { epochs });
    const { db } = cli.storage;
    await waitFor('training to start', async () => (await tracking.getMetrics(db, runId, 'seg')).length > 0);
    await ml.stop();

    const run = await waitForTerminal(cli, runId, 'the run to finish without MLflow');
    expect(run.status, run.error ?? '').toBe('completed');
    const pending = await tracking.pendingOutbox(db, runId);
    expect(pending).toBeGreaterThan(0);

    await ml.start();
    const connection = await Connection.connect({ address: services().temporalAddress });
    try {
      await new Client({ connection }).workflow.getHandle(experimentWorkflowId(expId)).result();
    } finally {
      await connection.close();
    }
    expect(await tracking.pendingOutbox(db, runId)).toBe(0);
    const after = (await tracking.getRun(db, runId))!;
    const client = new MlflowClient(ml.uri);
    const mlRun = await client.getRun(after.mlflowRunId!);
    expect(mlRun.info.status).toBe('FINISHED');
    const local = await tracking.getMetrics(db, runId);
    for (const stage of ['seg', 'dist']) {
      const hist = await client.getMetricHistory(mlRun.info.run_id, `${stage}.loss`);
      expect(hist.map((m) => m.step).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
      const ours = local.filter((m) => m.stage === stage && m.key === 'loss');
      for (const m of ours) expect(hist.find((h) => h.step === m.step)?.value).toBeCloseTo(m.value, 10);
    }
    expect((mlRun.data.metrics ?? []).some((m) => m.key === 'eval.all_aji')).toBe(true);
  });
});
