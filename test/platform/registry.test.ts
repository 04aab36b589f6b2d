// The model registry against real PostgreSQL and the real MLflow server: versions per name,
// idempotent registration, aliases refused on unfinished runs, errors listing the known names, and
// the MLflow Model Registry mirror going through the outbox (kept while MLflow is unreachable,
// delivered once when it is back, a redelivery making no second MLflow version).
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq, isNull } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { SHIPPED_MODEL_DIR } from '../../src/model/model-dir.ts';
import { openStorage, type Storage, schema } from '../../src/storage/index.ts';
import * as tracking from '../../src/tracking/index.ts';
import { MlflowClient } from '../../src/tracking/mlflow-client.ts';
import {
  listModels,
  modelCard,
  registerModelVersion,
  resolveModel,
  setAlias,
  TRAINING_SCALE,
} from '../../src/tracking/registry.ts';
import { runCli } from '../helpers/cli.ts';
import { createTestDatabase, services, token } from '../helpers/services.ts';

const SHIPPED = SHIPPED_MODEL_DIR;

describe('model registry', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let s: Storage;
  const home = mkdtempSync(join(tmpdir(), 'nf-registry-'));
  // MLflow's registry is shared by every test database: a name of this file's own.
  const name = `reg-${token()}`;
  beforeAll(async () => {
    db = await createTestDatabase();
    s = await openStorage({ databaseUrl: db.url, home });
  });
  afterAll(async () => {
    await s?.close();
    await db?.drop();
    rmSync(home, { recursive: true, force: true });
  });

  /** A run of spec `name` with a packaged model folder, two-stage and stage-1 results, in `status`. */
  async function newRun(status: tracking.RunStatus) {
    const expId = `e${token()}`;
    const runId = `${expId}-r0`;
    const spec = { name, training: { seg: { steps: 10 } } };
    await tracking.createExperiment(s.db, {
      id: expId,
      name,
      specName: name,
      spec,
      workflowId: `exp-${expId}`,
      runs: [{ id: runId, arm: {}, spec, configHash: 'h', seed: 1, workflowId: `run-${runId}` }],
    });
    await tracking.markRunStarted(s.db, runId, {
      codeCommit: 'c0ffee',
      workerHost: 'box-1',
      workflowId: 'w',
    });
    await tracking.setDataHash(s.db, runId, 'datahash1');
    const row = (subset: 'seen' | 'unseen', image: string, aji: number) => ({
      method: 'two-stage' as const,
      image,
      organ: 'Breast',
      subset,
      dice: 0.8,
      f1: 0.7,
      aji,
      ajiPlus: aji,
      pq: 0.4,
      nGt: 10,
      nPred: 9,
    });
    await tracking.putImageResults(s.db, runId, [
      row('seen', 'a', 0.5),
      row('seen', 'b', 0.7),
      row('unseen', 'c', 0.3),
    ]);
    // Stage-1-alone rows of the same images must not leak into the card's two-stage scores.
    await s.db.insert(schema.imageResults).values({ runId, ...row('seen', 'a', 0.01), method: 'stage1' });
    const dir = join(home, 'runs', runId, 'model');
    cpSync(SHIPPED, dir, { recursive: true });
    if (status !== 'running') await tracking.setRunStatus(s.db, runId, status);
    return { expId, runId, dir };
  }

  let first: { runId: string; dir: string };
  it('registers the next version per name, once per run, with a card from the store', async () => {
    first = await newRun('completed');
    const card = await modelCard(s.db, first.runId, first.dir);
    expect(card).toMatchObject({
      run: first.runId,
      specName: name,
      codeCommit: 'c0ffee',
      dataHash: 'datahash1',
      machine: 'box-1',
      trained: {},
      postprocess: JSON.parse(readFileSync(join(SHIPPED, 'model.json'), 'utf8')).postprocess,
      trainingScale: TRAINING_SCALE,
    });
    expect(card.scores.nImages).toBe(3);
    expect(card.scores.all!.aji).toBeCloseTo(0.5, 12);
    expect(card.scores.seen!.aji).toBeCloseTo(0.6, 12);
    expect(card.scores.unseen!.aji).toBeCloseTo(0.3, 12);
    const r1 = await registerModelVersion(s.db, { name, runId: first.runId, dir: first.dir, card });
    expect(r1).toEqual({ name, version: 1, created: true });
    // A retried activity: the same version, no second outbox row.
    const again = await registerModelVersion(s.db, { name, runId: first.runId, dir: first.dir, card });
    expect(again).toEqual({ name, version: 1, created: false });
    const rows = await s.db
      .select()
      .from(schema.mlflowOutbox)
      .where(and(eq(schema.mlflowOutbox.runId, first.runId), eq(schema.mlflowOutbox.kind, 'model-version')));
    expect(rows).toHaveLength(1);

    const second = await newRun('completed');
    const r2 = await registerModelVersion(s.db, {
      name,
      runId: second.runId,
      dir: second.dir,
      card: await modelCard(s.db, second.runId, second.dir),
    });
    expect(r2.version).toBe(2);
    expect((await listModels(s.db)).filter((v) => v.name === name).map((v) => [v.version, v.runId])).toEqual([
      [1, first.runId],
      [2, second.runId],
    ]);
  });

  it('refuses aliases on unfinished or failed runs and unknown versions, and lists known names', async () => {
    const running = await newRun('running');
    const failed = await newRun('failed');
    for (const r of [running, failed]) {
      const { version } = await registerModelVersion(s.db, {
        name,
        runId: r.runId,
        dir: r.dir,
        card: await modelCard(s.db, r.runId, r.dir),
      });
      await expect(setAlias(s.db, name, version, 'default')).rejects.toThrow(
        new RegExp(`^model ${name}@${version}: its run ${r.runId} is (running|failed), not completed`),
      );
    }
    await expect(setAlias(s.db, name, 99, 'default')).rejects.toThrow(
      `model '${name}': no version 99 (known versions: 1, 2, 3, 4)`,
    );
    await expect(resolveModel(s.db, 'nope')).rejects.toThrow(
      `model 'nope': not in the registry (known models: ${name})`,
    );
    await setAlias(s.db, name, 1, 'default');
    await expect(resolveModel(s.db, `${name}@staging`)).rejects.toThrow(
      `model '${name}': no alias 'staging' (known aliases: default -> 1)`,
    );
    expect((await resolveModel(s.db, `${name}@default`)).version).toBe(1);
    expect((await resolveModel(s.db, `${name}@2`)).runId).not.toBe(first.runId);
    // A bare name resolves to its default alias, not its latest version.
    expect((await resolveModel(s.db, name)).version).toBe(1);
  });

  it('queues the MLflow registry while MLflow is down and delivers it once when it is back', async () => {
    const down = new MlflowClient('http://127.0.0.1:59', { timeoutMs: 2000 });
    const r1 = await tracking.drainOutbox(s.db, down, { runId: first.runId });
    expect(r1.delivered).toBe(0);
    expect(r1.pending).toBeGreaterThan(0);
    expect(r1.error).toMatch(/unreachable/);
    const [before] = await s.db
      .select()
      .from(schema.modelVersions)
      .where(eq(schema.modelVersions.runId, first.runId));
    expect(before!.mlflowVersion).toBeNull();

    const up = new MlflowClient(services().mlflowUri);
    const r2 = await tracking.drainOutbox(s.db, up, { runId: first.runId });
    expect(r2.pending).toBe(0);
    const [after] = await s.db
      .select()
      .from(schema.modelVersions)
      .where(eq(schema.modelVersions.runId, first.runId));
    expect(after!.mlflowVersion).toMatch(/^\d+$/);
    const mlRunId = (await tracking.getRun(s.db, first.runId))!.mlflowRunId!;
    const mlRun = await up.getRun(mlRunId);
    const versions = await up.findModelVersions(name, mlRunId);
    expect(versions).toHaveLength(1);
    expect(versions[0]!.version).toBe(after!.mlflowVersion);
    expect(versions[0]!.run_id).toBe(mlRunId);
    expect(versions[0]!.source).toBe(`${mlRun.info.artifact_uri}/model`);
    expect((await up.getModelVersionByAlias(name, 'default')).version).toBe(after!.mlflowVersion);

    // A crash after MLflow accepted the version but before the row was marked: redelivery reuses it.
    await s.db
      .update(schema.mlflowOutbox)
      .set({ deliveredAt: null })
      .where(and(eq(schema.mlflowOutbox.runId, first.runId), eq(schema.mlflowOutbox.kind, 'model-version')));
    expect((await tracking.drainOutbox(s.db, up, { runId: first.runId })).pending).toBe(0);
    expect(await up.findModelVersions(name, mlRunId)).toHaveLength(1);
  });

  it('leaves MLflow agreeing with the store when an older alias row is delivered last', async () => {
    const runs = (await listModels(s.db)).filter((v) => v.name === name);
    const v2 = runs.find((v) => v.version === 2)!;
    await setAlias(s.db, name, 2, 'default');
    const up = new MlflowClient(services().mlflowUri);
    expect((await tracking.drainOutbox(s.db, up, { runId: v2.runId })).pending).toBe(0);
    const v2ml = (
      await s.db.select().from(schema.modelVersions).where(eq(schema.modelVersions.runId, v2.runId))
    )[0]!.mlflowVersion;
    expect((await up.getModelVersionByAlias(name, 'default')).version).toBe(v2ml);
    // The stale row (default -> 1, on version 1's run) delivered again afterwards changes nothing.
    await s.db
      .update(schema.mlflowOutbox)
      .set({ deliveredAt: null })
      .where(and(eq(schema.mlflowOutbox.runId, first.runId), eq(schema.mlflowOutbox.kind, 'model-alias')));
    expect(
      await s.db
        .select()
        .from(schema.mlflowOutbox)
        .where(and(eq(schema.mlflowOutbox.runId, first.runId), isNull(schema.mlflowOutbox.deliveredAt))),
    ).toHaveLength(1);
    expect((await tracking.drainOutbox(s.db, up, { runId: first.runId })).pending).toBe(0);
    expect((await up.getModelVersionByAlias(name, 'default')).version).toBe(v2ml);

    // The alias moves to a version MLflow does not have yet: the stale row must neither block its
    // run's delivery nor move MLflow's alias; the new version's own rows move it.
    const third = await newRun('completed');
    const { version } = await registerModelVersion(s.db, {
      name,
      runId: third.runId,
      dir: third.dir,
      card: await modelCard(s.db, third.runId, third.dir),
    });
    await setAlias(s.db, name, version, 'default');
    await s.db
      .update(schema.mlflowOutbox)
      .set({ deliveredAt: null })
      .where(and(eq(schema.mlflowOutbox.runId, first.runId), eq(schema.mlflowOutbox.kind, 'model-alias')));
    expect((await tracking.drainOutbox(s.db, up, { runId: first.runId })).pending).toBe(0);
    expect((await up.getModelVersionByAlias(name, 'default')).version).toBe(v2ml);
    expect((await tracking.drainOutbox(s.db, up, { runId: third.runId })).pending).toBe(0);
    const v3ml = (
      await s.db.select().from(schema.modelVersions).where(eq(schema.modelVersions.runId, third.runId))
    )[0]!.mlflowVersion;
    expect((await up.getModelVersionByAlias(name, 'default')).version).toBe(v3ml);
  });

  it('`models alias` while MLflow is down exits 3 with the alias queued; `models sync` delivers it', async () => {
    const env = { ...process.env, DATABASE_URL: db.url, NUCLEIFLOW_HOME: home };
    const down = runCli(['models', 'alias', `${name}@2`, 'staging'], {
      env: { ...env, MLFLOW_TRACKING_URI: 'http://127.0.0.1:59' },
      timeoutMs: 120_000,
    });
    expect(down.status).toBe(3);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toMatch(/^nucleiflow: MLflow registry not updated, 1 record\(s\) queued/);
    const up = new MlflowClient(services().mlflowUri);
    await expect(up.getModelVersionByAlias(name, 'staging')).rejects.toThrow();
    const sync = runCli(['models', 'sync'], {
      env: { ...env, MLFLOW_TRACKING_URI: services().mlflowUri },
      timeoutMs: 120_000,
    });
    expect(sync.status, sync.stderr).toBe(0);
    expect(sync.stdout).toContain('MLflow: delivered');
    const v2 = (await listModels(s.db)).find((v) => v.name === name && v.version === 2)!;
    expect((await up.getModelVersionByAlias(name, 'staging')).version).toBe(v2.mlflowVersion);
    expect(
      runCli(['models', 'sync'], { env: { ...env, MLFLOW_TRACKING_URI: services().mlflowUri } }).stdout,
    ).toBe('Nothing queued for the MLflow registry.\n');
  });

  it('segment with no --model on a Postgres store without the registry tables uses the shipped folder', async () => {
    const empty = await createTestDatabase();
    try {
      const { dataDir } = loadConfig();
      const out = join(home, 'seg-empty');
      const r = runCli(['segment', join(dataDir, 'images', 'TCGA-21-5784-01Z-00-DX1.tif'), '--out', out], {
        env: { ...process.env, DATABASE_URL: empty.url, NUCLEIFLOW_HOME: home, TF_CPP_MIN_LOG_LEVEL: '3' },
        timeoutMs: 300_000,
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain(`model: folder ${SHIPPED} (seg sha256 `);
      expect(r.stderr).not.toMatch(/^nucleiflow:/m);
    } finally {
      await empty.drop();
    }
  });
});
