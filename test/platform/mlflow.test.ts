import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage, type Storage } from '../../src/storage/index.ts';
import { DATASET_CONTEXT_TAG } from '../../src/tracking/datasets.ts';
import * as tracking from '../../src/tracking/index.ts';
import { MlflowClient } from '../../src/tracking/mlflow-client.ts';
import {
  EXPERIMENT_KIND_TAG,
  MODEL_TRAINING_KIND,
  mlflowExperimentName,
  RUN_ID_TAG,
} from '../../src/tracking/outbox.ts';
import { runCli } from '../helpers/cli.ts';
import { createTestDatabase, services, token } from '../helpers/services.ts';

describe('MLflow REST client against the real server', () => {
  const client = new MlflowClient(services().mlflowUri);

  it('creates a run, logs 2500 metric points and 150 params, reads them back, uploads an artifact', async () => {
    const expId = await client.ensureExperiment(`nucleiflow-test/${token()}`);
    const run = await client.ensureRun(expId, 'r', RUN_ID_TAG, 'abc', [{ key: 't', value: '1' }], Date.now());
    const again = await client.ensureRun(expId, 'r', RUN_ID_TAG, 'abc', [], Date.now());
    expect(again.info.run_id).toBe(run.info.run_id);
    const metrics = Array.from({ length: 2500 }, (_, i) => ({
      key: 'loss',
      value: 1 / (i + 1),
      timestamp: 1000 + i,
      step: i,
    }));
    const params = Array.from({ length: 150 }, (_, i) => ({ key: `p${i}`, value: String(i) }));
    expect(await client.logBatch(run.info.run_id, { metrics, params })).toBe(3);
    // A retried batch must not store anything twice.
    await client.logBatch(run.info.run_id, { metrics: metrics.slice(0, 10), params: params.slice(0, 10) });
    const history = await client.getMetricHistory(run.info.run_id, 'loss');
    expect(history).toHaveLength(2500);
    const got = await client.getRun(run.info.run_id);
    expect(got.data.params).toHaveLength(150);
    await client.uploadArtifact(run.info, 'report/hello.txt', new TextEncoder().encode('hi'));
    const files = await client.listArtifacts(run.info.run_id, 'report');
    expect(files.map((f) => f.path)).toEqual(['report/hello.txt']);
    await client.setTerminated(run.info.run_id, 'FINISHED', Date.now());
    expect((await client.getRun(run.info.run_id)).info.status).toBe('FINISHED');
  });
});

const tags = (r: { data: { tags?: Array<{ key: string; value: string }> } }) =>
  Object.fromEntries((r.data.tags ?? []).map((t) => [t.key, t.value]));

describe('MLflow outbox', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let s: Storage;
  const home = mkdtempSync(join(tmpdir(), 'nf-outbox-'));
  beforeAll(async () => {
    db = await createTestDatabase();
    s = await openStorage({ databaseUrl: db.url, home });
  });
  afterAll(async () => {
    await s?.close();
    await db?.drop();
    rmSync(home, { recursive: true, force: true });
  });

  /** A fresh experiment with one run; returns both ids. */
  async function newRun(arm: Record<string, unknown>, specName = 'quick-test', seed = 1) {
    const expId = `e${token()}`;
    const runId = `${expId}-r0`;
    await tracking.createExperiment(s.db, {
      id: expId,
      name: 'quick',
      specName,
      spec: {},
      workflowId: `exp-${expId}`,
      runs: [{ id: runId, arm, spec: {}, configHash: 'h', seed, workflowId: `run-${runId}` }],
    });
    return { expId, runId };
  }

  it('keeps records while MLflow is unreachable and delivers all of them once, in order, when it is back', async () => {
    const { expId, runId } = await newRun({ 'groundTruth.erosion': true });
    await tracking.markRunStarted(s.db, runId, {
      codeCommit: 'abc',
      workerHost: 'h',
      workflowId: `run-${runId}`,
    });
    await tracking.putParams(
      s.db,
      runId,
      tracking.flattenParams({ training: { seg: { epochs: 3 } }, seed: 1 }),
    );
    for (let e = 0; e < 1200; e++)
      await tracking.putStepMetrics(s.db, runId, 'seg', e, { loss: 1 / (e + 1) });
    await tracking.putImageResults(s.db, runId, [
      {
        method: 'two-stage',
        image: 'TCGA-A7-A13E-01Z-00-DX1',
        organ: 'Breast',
        subset: 'seen',
        dice: 0.8,
        f1: 0.7,
        aji: 0.5,
        ajiPlus: 0.55,
        pq: 0.45,
        nGt: 10,
        nPred: 9,
      },
    ]);
    await tracking.addTimings(s.db, runId, { split: 1.5, train_seg: 12.25 });
    writeFileSync(join(home, 'card.json'), '{"ok":true}');
    await tracking.putArtifact(s.db, runId, 'report', join(home, 'card.json'), 'model/card.json');
    await tracking.setRunStatus(s.db, runId, 'completed');

    const down = new MlflowClient('http://127.0.0.1:59', { timeoutMs: 2000 });
    const r1 = await tracking.drainOutbox(s.db, down);
    expect(r1.delivered).toBe(0);
    expect(r1.pending).toBe(1206);
    expect(r1.error).toMatch(/unreachable/);

    const up = new MlflowClient(services().mlflowUri);
    const r2 = await tracking.drainOutbox(s.db, up);
    expect(r2).toEqual({ delivered: 1206, pending: 0 });
    const run = await tracking.getRun(s.db, runId);
    const ml = await up.getRun(run!.mlflowRunId!);
    expect(ml.info.status).toBe('FINISHED');
    expect(ml.data.tags?.find((t) => t.key === 'mlflow.source.git.commit')?.value).toBe('abc');
    expect(ml.data.params?.find((p) => p.key === 'training.seg.epochs')?.value).toBe('3');
    const hist = await up.getMetricHistory(ml.info.run_id, 'seg.loss');
    expect(hist.map((m) => m.step).sort((a, b) => a - b)).toEqual([...Array(1200).keys()]);
    const latest = Object.fromEntries((ml.data.metrics ?? []).map((m) => [m.key, m.value]));
    expect(latest['timing.split']).toBe(1.5);
    expect(latest['timing.train_seg']).toBe(12.25);
    expect(latest['image.TCGA-A7-A13E-01Z-00-DX1.ajiPlus']).toBe(0.55);
    expect(latest['image.TCGA-A7-A13E-01Z-00-DX1.nPred']).toBe(9);
    expect((await up.listArtifacts(ml.info.run_id, 'model')).map((f) => f.path)).toEqual(['model/card.json']);
    expect(await up.getExperimentByName(mlflowExperimentName({ specName: 'quick-test' }))).toBe(
      ml.info.experiment_id,
    );
    expect(tags(ml)['nucleiflow.experiment_id']).toBe(expId);
    // Nothing left, nothing sent twice.
    expect(await tracking.drainOutbox(s.db, up)).toEqual({ delivered: 0, pending: 0 });
  });

  it('maps a spec to one MLflow experiment of kind model training, tags arm and seed, logs dataset inputs once', async () => {
    const specName = `spec-${token()}`;
    const a = await newRun({ 'groundTruth.erosion': false, seed: 2 }, specName, 2);
    const b = await newRun({ 'groundTruth.erosion': true, seed: 1 }, specName, 1);
    const datasets = (ctx: string, digest: string) => ({
      dataset: {
        name: `monuseg-kumar-${ctx}`,
        digest,
        source_type: 'local',
        source: JSON.stringify({ uri: '/data/monuseg' }),
        profile: JSON.stringify({ images: 4 }),
      },
      tags: [{ key: DATASET_CONTEXT_TAG, value: ctx === 'train' ? 'training' : 'testing' }],
    });
    const inputs = [datasets('train', 'a'.repeat(32)), datasets('test', 'b'.repeat(32))];
    for (const r of [a, b]) {
      await tracking.putDatasetInputs(s.db, r.runId, inputs);
      // Queued twice (a retried activity): one outbox row.
      await tracking.putDatasetInputs(s.db, r.runId, inputs);
      await tracking.putStepMetrics(s.db, r.runId, 'seg', 1, { loss: 0.5 });
    }
    const up = new MlflowClient(services().mlflowUri);
    expect(await tracking.drainOutbox(s.db, up, { runId: a.runId })).toEqual({ delivered: 2, pending: 0 });
    expect(await tracking.drainOutbox(s.db, up, { runId: b.runId })).toEqual({ delivered: 2, pending: 0 });
    const mlA = await up.getRun((await tracking.getRun(s.db, a.runId))!.mlflowRunId!);
    const mlB = await up.getRun((await tracking.getRun(s.db, b.runId))!.mlflowRunId!);
    // Two submissions of one spec: one MLflow experiment, named after the spec, of kind model training.
    expect(mlB.info.experiment_id).toBe(mlA.info.experiment_id);
    const exp = await up.getExperiment(mlA.info.experiment_id);
    expect(exp.name).toBe(`nucleiflow/${specName}`);
    expect(exp.tags?.find((t) => t.key === EXPERIMENT_KIND_TAG)?.value).toBe(MODEL_TRAINING_KIND);
    expect(tags(mlA)).toMatchObject({
      'nucleiflow.experiment_id': a.expId,
      [RUN_ID_TAG]: a.runId,
      'nucleiflow.arm': 'erosion=false',
      'nucleiflow.arm.groundTruth.erosion': 'false',
      'nucleiflow.seed': '2',
    });
    expect(tags(mlB)['nucleiflow.arm']).toBe('erosion=true');
    expect(mlA.info.run_name).toBe(`erosion=false seed=2 · ${a.expId}/r0`);
    // The datasets, with digests and contexts; a second delivery adds no input.
    await tracking.putDatasetInputs(s.db, a.runId, [inputs[1]!, inputs[0]!]);
    expect(await tracking.drainOutbox(s.db, up, { runId: a.runId })).toEqual({ delivered: 1, pending: 0 });
    const got = (await up.getRun(mlA.info.run_id)).inputs?.dataset_inputs ?? [];
    expect(
      got
        .map((d) => ({
          name: d.dataset.name,
          digest: d.dataset.digest,
          context: d.tags?.find((t) => t.key === DATASET_CONTEXT_TAG)?.value,
        }))
        .sort((x, y) => x.name.localeCompare(y.name)),
    ).toEqual([
      { name: 'monuseg-kumar-test', digest: 'b'.repeat(32), context: 'testing' },
      { name: 'monuseg-kumar-train', digest: 'a'.repeat(32), context: 'training' },
    ]);
  });

  it('names a spec experiment deleted in MLflow as the reason runs stay pending, and delivers once it is restored', async () => {
    const specName = `spec-${token()}`;
    const up = new MlflowClient(services().mlflowUri);
    const expId = await up.ensureExperiment(mlflowExperimentName({ specName }));
    const post = (path: string) =>
      fetch(`${services().mlflowUri}/api/2.0/mlflow/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ experiment_id: expId }),
      });
    expect((await post('experiments/delete')).ok).toBe(true);
    const { runId } = await newRun({}, specName);
    await tracking.putStepMetrics(s.db, runId, 'seg', 1, { loss: 0.5 });
    const r1 = await tracking.drainOutbox(s.db, up, { runId });
    expect(r1).toMatchObject({ delivered: 0, pending: 1 });
    expect(r1.error).toBe(
      `MLflow experiment 'nucleiflow/${specName}' (id ${expId}) is deleted; restore it (mlflow experiments restore --experiment-id ${expId}) or remove it for good (mlflow gc --experiment-ids ${expId}) so runs can be delivered`,
    );
    expect((await post('experiments/restore')).ok).toBe(true);
    expect(await tracking.drainOutbox(s.db, up, { runId })).toEqual({ delivered: 1, pending: 0 });
    const ml = await up.getRun((await tracking.getRun(s.db, runId))!.mlflowRunId!);
    expect(ml.info.experiment_id).toBe(expId);
  });

  it('keeps an artifact whose file vanished pending with the reason, shown by doctor and show', async () => {
    const { runId } = await newRun({});
    const file = join(home, `${runId}-report.md`);
    writeFileSync(file, '# report');
    await tracking.putArtifact(s.db, runId, 'report', file, 'report/report.md');
    await tracking.putStepMetrics(s.db, runId, 'seg', 1, { loss: 0.5 });
    rmSync(file);

    const up = new MlflowClient(services().mlflowUri);
    const r1 = await tracking.drainOutbox(s.db, up, { runId });
    // The metrics row after the lost file still goes out; the artifact stays pending.
    expect(r1.delivered).toBe(1);
    expect(r1.pending).toBe(1);
    expect(r1.error).toContain(`artifact report/report.md: cannot read ${file}`);
    const [failure, ...rest] = await tracking.outboxFailures(s.db, runId);
    expect(rest).toEqual([]);
    expect(failure).toMatchObject({ kind: 'artifact', attempts: 1 });
    expect(failure!.lastError).toContain('ENOENT');

    const env = { ...process.env, DATABASE_URL: db.url, NUCLEIFLOW_HOME: home };
    const show = runCli(['show', runId], { env, timeoutMs: 60_000 });
    expect(show.status, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^outbox\s+1 pending, 1 failed$/m);
    expect(show.stdout).toContain('MLflow records not delivered');
    expect(show.stdout).toContain(`cannot read ${file}`);
    const doctor = runCli(['doctor', '--json'], { env, timeoutMs: 60_000 });
    expect(doctor.status).toBe(1);
    const checks = (JSON.parse(doctor.stdout) as { checks: { name: string; ok: boolean; detail: string }[] })
      .checks;
    const outbox = checks.find((c) => c.name === 'outbox');
    expect(outbox?.ok).toBe(false);
    expect(outbox?.detail).toContain(`run ${runId} artifact (1 attempts): artifact report/report.md`);

    // The file is back: the next drain delivers it.
    writeFileSync(file, '# report');
    expect(await tracking.drainOutbox(s.db, up, { runId })).toEqual({ delivered: 1, pending: 0 });
    const ml = await up.getRun((await tracking.getRun(s.db, runId))!.mlflowRunId!);
    expect((await up.listArtifacts(ml.info.run_id, 'report')).map((f) => f.path)).toEqual([
      'report/report.md',
    ]);
    expect(await tracking.outboxFailures(s.db, runId)).toEqual([]);
  });
});
