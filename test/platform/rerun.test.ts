// `nucleiflow rerun` and the MLflow mapping, on a seconds-long `quick` through a worker process,
// real Postgres and the real MLflow server.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { codeCommit } from '../../activities/index.ts';
import { realCompute } from '../../activities/pipeline.ts';
import type { RunSpec } from '../../experiments/index.ts';
import { loadConfig } from '../../src/config.ts';
import { schema } from '../../src/storage/index.ts';
import * as tracking from '../../src/tracking/index.ts';
import { MlflowClient } from '../../src/tracking/mlflow-client.ts';
import { EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND } from '../../src/tracking/outbox.ts';
import { usePlatformCli, waitFor, waitForTerminal } from '../helpers/platform.ts';
import { services } from '../helpers/services.ts';

/** A few seconds of training: 2 images, one epoch of 2 steps per net, one test image. */
const SHORT = [
  'training.seg.epochs=1',
  'training.dist.epochs=1',
  'training.seg.stepsPerEpoch=2',
  'training.dist.stepsPerEpoch=2',
  'dataset.maxTrainImages=2',
  'dataset.maxTestImages=1',
].flatMap((s) => ['--set', s]);

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const tagsOf = (r: { data: { tags?: Array<{ key: string; value: string }> } }) =>
  Object.fromEntries((r.data.tags ?? []).map((t) => [t.key, t.value]));
const ids = (stdout: string) => ({
  experimentId: /^experiment (\S+)$/m.exec(stdout)?.[1],
  runId: /^run (\S+)$/m.exec(stdout)?.[1],
});

describe('rerun and the MLflow mapping', { timeout: 1_200_000 }, () => {
  const fx = usePlatformCli({ worker: true });
  const ml = new MlflowClient(services().mlflowUri);
  let first: tracking.RunRow | undefined;
  const firstRun = () => {
    if (!first) throw new Error('the first run did not complete');
    return first;
  };
  const setRun = (id: string, values: Partial<typeof schema.runs.$inferInsert>) =>
    fx.cli.storage.db.update(schema.runs).set(values).where(eq(schema.runs.id, id));
  const weights = (runId: string) =>
    Object.fromEntries(
      ['seg.bin', 'dist.bin'].map((f) => [f, sha256(join(fx.cli.home, 'runs', runId, 'model', f))]),
    );

  it('a short run lands in the spec experiment (kind model training) with arm, seed and dataset inputs', async () => {
    const { cli } = fx;
    const r = await cli.run(['run', 'quick', ...SHORT]);
    expect(r.code, r.stderr).toBe(0);
    const { experimentId, runId } = ids(r.stdout);
    first = (await tracking.getRun(cli.storage.db, runId!))!;
    expect(first.status).toBe('completed');
    const mlRun = await ml.getRun(first.mlflowRunId!);
    const exp = await ml.getExperiment(mlRun.info.experiment_id);
    expect(exp.name).toBe('nucleiflow/quick');
    expect(exp.tags?.find((t) => t.key === EXPERIMENT_KIND_TAG)?.value).toBe(MODEL_TRAINING_KIND);
    expect(tagsOf(mlRun)).toMatchObject({
      'nucleiflow.experiment_id': experimentId,
      'nucleiflow.run_id': runId,
      'nucleiflow.arm': 'base',
      'nucleiflow.seed': '7',
    });
    expect(mlRun.info.run_name).toBe(`base seed=7 · ${experimentId}/r0`);

    // The digests, computed here from the files the split uses: each set's lines, and together the run's data hash.
    const spec = first.spec as RunSpec;
    const config = loadConfig(cli.env);
    const split = await realCompute(config).split(config.dataDir, spec);
    const lines = (set: typeof split.train) =>
      set.map((s) => `${s.subset}:${s.id}:${sha256(s.image)}:${sha256(s.labels)}\n`).join('');
    const hex = (text: string) => createHash('sha256').update(text).digest('hex');
    expect(split.train).toHaveLength(2);
    expect(split.test).toHaveLength(1);
    expect(hex(lines(split.train) + lines(split.test))).toBe(first.dataHash);
    const inputs = (mlRun.inputs?.dataset_inputs ?? [])
      .map((d) => ({
        name: d.dataset.name,
        digest: d.dataset.digest,
        context: d.tags?.find((t) => t.key === 'mlflow.data.context')?.value,
        images: (JSON.parse(d.dataset.profile ?? '{}') as { images?: number }).images,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
    expect(inputs).toEqual([
      {
        name: 'monuseg-kumar-test',
        digest: hex(lines(split.test)).slice(0, 32),
        context: 'testing',
        images: 1,
      },
      {
        name: 'monuseg-kumar-train',
        digest: hex(lines(split.train)).slice(0, 32),
        context: 'training',
        images: 2,
      },
    ]);
  });

  it('refuses, in one line and before submitting, a rerun whose code or data drifted, an unknown run and a spec that no longer validates', async () => {
    const { cli } = fx;
    const run = firstRun();
    const experimentsBefore = (await cli.storage.db.select().from(schema.experiments)).length;
    const refused = async (args: string[], code: number, pattern: RegExp) => {
      const r = await cli.run(['rerun', ...args]);
      expect(r.code, r.stderr).toBe(code);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(pattern);
    };
    const now = codeCommit();
    try {
      await setRun(run.id, { codeCommit: 'f'.repeat(40) });
      await refused(
        [run.id],
        1,
        new RegExp(
          `^nucleiflow: run ${run.id} cannot be reproduced: code commit f{40} -> ${now} \\(--allow-drift`,
        ),
      );
      // A dirty tree is drift even against itself: it cannot be checked out again.
      await setRun(run.id, { codeCommit: `${now.replace(/-dirty$/, '')}-dirty` });
      await refused(
        [run.id.slice(0, -1)],
        1,
        /code commit \S+-dirty -> \S+ \(uncommitted changes, or no git, cannot be reproduced\)/,
      );
      await setRun(run.id, { codeCommit: run.codeCommit, dataHash: '0'.repeat(64) });
      await refused([run.id], 1, new RegExp(`cannot be reproduced: data hash 0{64} -> ${run.dataHash} \\(`));
      await setRun(run.id, { dataHash: run.dataHash });
      const spec = structuredClone(run.spec) as { training: { seg: Record<string, unknown> } };
      spec.training.seg.lrScheduel = { every: 2, factor: 0.4 };
      await setRun(run.id, { spec });
      await refused(
        [run.id],
        2,
        new RegExp(`^nucleiflow: run ${run.id}: recorded spec: training\\.seg\\.lrScheduel: unknown key$`),
      );
    } finally {
      await setRun(run.id, { codeCommit: run.codeCommit, dataHash: run.dataHash, spec: run.spec });
    }
    await refused(['no-such-run'], 1, /^nucleiflow: no run 'no-such-run'/);
    expect((await cli.storage.db.select().from(schema.experiments)).length).toBe(experimentsBefore);
  });

  it('reruns to bit-identical weights, as a new experiment in the same MLflow experiment, recording rerun_of', async () => {
    const { cli } = fx;
    const run = firstRun();
    expect(run.codeCommit, 'this test needs a committed tree (a -dirty commit always counts as drift)').toBe(
      codeCommit(),
    );
    expect(run.codeCommit).not.toMatch(/-dirty$/);
    const r = await cli.run(['rerun', run.id]);
    expect(r.code, r.stderr).toBe(0);
    const { experimentId, runId } = ids(r.stdout);
    expect(experimentId).not.toBe(run.experimentId);
    const again = (await tracking.getRun(cli.storage.db, runId!))!;
    expect(again.status).toBe('completed');
    const w1 = weights(run.id);
    expect(weights(again.id)).toEqual(w1);
    const stored = await tracking.getArtifacts(cli.storage.db, again.id);
    for (const f of ['seg.bin', 'dist.bin'])
      expect(stored.find((a) => a.path.endsWith(`/model/${f}`))?.sha256).toBe(w1[f]);
    expect(again.configHash).toBe(run.configHash);
    expect(again.dataHash).toBe(run.dataHash);
    expect(again.codeCommit).toBe(run.codeCommit);
    const params = await tracking.getParams(cli.storage.db, again.id);
    expect(params.rerun_of).toBe(run.id);
    expect(Object.keys(params).filter((k) => k.startsWith('rerun_drift.'))).toEqual([]);

    const [a, b] = [await ml.getRun(run.mlflowRunId!), await ml.getRun(again.mlflowRunId!)];
    expect(b.info.experiment_id).toBe(a.info.experiment_id);
    expect(tagsOf(b)['nucleiflow.experiment_id']).toBe(experimentId);
    expect(b.data.params?.find((p) => p.key === 'rerun_of')?.value).toBe(run.id);
    // Same data, same digests: MLflow links the rerun to the same two datasets.
    const digests = (x: typeof a) => (x.inputs?.dataset_inputs ?? []).map((d) => d.dataset.digest).sort();
    expect(digests(b)).toEqual(digests(a));
    expect(digests(a)).toHaveLength(2);
  });

  it('with --allow-drift submits anyway and records in the new run what drifted, from what to what', async () => {
    const { cli } = fx;
    const run = firstRun();
    await setRun(run.id, { dataHash: 'a'.repeat(64) });
    let r: Awaited<ReturnType<typeof cli.run>>;
    try {
      r = await cli.run(['rerun', run.id, '--allow-drift', '--detach']);
    } finally {
      await setRun(run.id, { dataHash: run.dataHash });
    }
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`rerun despite drift: data hash ${'a'.repeat(64)} -> ${run.dataHash}`);
    const { runId } = ids(r.stdout);
    const params = await tracking.getParams(cli.storage.db, runId!);
    expect(params.rerun_of).toBe(run.id);
    expect(params['rerun_drift.data_hash']).toBe(`${'a'.repeat(64)} -> ${run.dataHash}`);
    expect(params['rerun_drift.code_commit']).toBeUndefined();
    // Its training is not needed here.
    await waitFor(
      'the cancel to be accepted',
      async () => (await cli.run(['cancel', runId!])).code === 0,
      120_000,
    );
    expect((await waitForTerminal(cli, runId!)).status).toBe('cancelled');
  });
});
