// `quick` end to end through Temporal: a separate worker process, the CLI, real Postgres and MLflow.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { quickNote } from '../../cli/commands/run.ts';
import { loadSpec } from '../../experiments/index.ts';
import { loadConfig } from '../../src/config.ts';
import { SHIPPED_MODEL_DIR } from '../../src/model/model-dir.ts';
import * as tracking from '../../src/tracking/index.ts';
import { MlflowClient } from '../../src/tracking/mlflow-client.ts';
import { listModelVersions } from '../../src/tracking/queries.ts';
import { usePlatformCli } from '../helpers/platform.ts';
import { services } from '../helpers/services.ts';

describe('quick end to end', { timeout: 900_000 }, () => {
  const fx = usePlatformCli({ worker: true });

  it('runs quick through Temporal into Postgres and MLflow, with results for all 14 test images', async () => {
    const { cli } = fx;
    const r = await cli.run(['run', 'quick']);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code, r.stderr).toBe(0);
    const expId = /^experiment (\S+)$/m.exec(r.stdout)?.[1];
    const runId = /^run (\S+)$/m.exec(r.stdout)?.[1];
    expect(expId).toBeTruthy();
    const { db } = cli.storage;
    const run = (await tracking.getRun(db, runId!))!;
    expect(run.status).toBe('completed');
    expect(run.codeCommit).toMatch(/^[0-9a-f]{40}/);
    expect(run.dataHash).toMatch(/^[0-9a-f]{64}$/);

    // What each net ran: 3 epochs of 4 steps, the lr dropped at epoch 2 (after step 8).
    const trained = tracking.trainedOf(run) as Record<'seg' | 'dist', tracking.TrainedStage>;
    for (const stage of ['seg', 'dist'] as const) {
      const { budget, steps, epochs, lrDrops, wallSeconds } = trained[stage];
      expect({ budget, steps, epochs, lrDrops }, stage).toEqual({
        budget: { kind: 'epochs', value: 3 },
        steps: 12,
        epochs: 3,
        lrDrops: [8],
      });
      expect(wallSeconds).toBeGreaterThan(0);
    }
    // The closing note: a smoke run, what the default model scores (its card), how to reproduce it. This
    // store is new, with no `default` alias, so the default is the shipped folder, as for `segment`.
    expect(r.stdout).toContain(
      await quickNote((await loadSpec('quick')).spec, { dir: SHIPPED_MODEL_DIR, registry: null }),
    );
    expect(r.stdout).toMatch(/Reproduce it with: nucleiflow run cpu-60min-c256\n$/);

    // Per-image results for every Kumar test image: 8 seen-organ, 6 unseen-organ.
    const rows = await tracking.getImageResults(db, runId!);
    expect(rows).toHaveLength(14);
    expect(rows.filter((x) => x.subset === 'seen')).toHaveLength(8);
    for (const x of rows) {
      for (const k of ['dice', 'f1', 'aji', 'ajiPlus', 'pq'] as const) {
        expect(x[k]).toBeGreaterThanOrEqual(0);
        expect(x[k]).toBeLessThanOrEqual(1);
      }
      expect(x.nGt).toBeGreaterThan(0);
    }
    const arts = await tracking.getArtifacts(db, runId!);
    // Stage 1 alone (Table 1's "U-Net" column): a row for every test image, scored apart from the two-stage one.
    const stage1 = await tracking.getImageResults(db, runId!, 'stage1');
    expect(stage1.map((x) => x.image)).toEqual(rows.map((x) => x.image));
    expect(stage1.some((x, i) => x.aji !== rows[i]!.aji || x.nPred !== rows[i]!.nPred)).toBe(true);
    const evalKeys = (await tracking.getMetrics(db, runId!, 'eval')).map((m) => m.key);
    expect(evalKeys).toEqual(expect.arrayContaining(['all_aji', 'stage1_all_aji', 'stage1_unseen_pq']));

    // Post-processing chosen on the training images: every setting of quick's 4-setting grid stored,
    // the best mean AJI marked, no test image read, and the choice packaged with the model.
    const tuning = await tracking.getTuningResults(db, runId!);
    expect(tuning).toHaveLength(4);
    expect(tuning.filter((t) => t.chosen)).toHaveLength(1);
    expect(tuning[0]!.chosen).toBe(true);
    for (const t of tuning) expect(t.images).toBe(4);
    const params = await tracking.getParams(db, runId!);
    expect(params['tuning.images']).toBe('train');
    const tuned = JSON.parse(params['tuning.image_ids']!) as string[];
    expect(tuned).toHaveLength(4);
    for (const id of rows.map((x) => x.image)) expect(tuned).not.toContain(id);
    const modelJson = arts.find((a) => a.kind === 'model' && a.path.endsWith('model.json'))!;
    const chosen = tuning[0]!.params as Record<string, number>;
    expect(JSON.parse(readFileSync(modelJson.path, 'utf8')).postprocess).toMatchObject(chosen);
    const report = readFileSync(arts.find((a) => a.path.endsWith('report.md'))!.path, 'utf8');
    expect(report).toContain('on the 4 training images only (test images took no part)');
    expect(report).toMatch(/^\| stage1 \| Average, all \| 14 \|/m);
    expect(report).toMatch(/^\| two-stage \| Average, all \| 14 \|/m);

    // Per-epoch metrics: steps 1..3 for both nets, no gaps.
    for (const stage of ['seg', 'dist']) {
      const loss = (await tracking.getMetrics(db, runId!, stage)).filter((m) => m.key === 'loss');
      expect(loss.map((m) => m.step)).toEqual([1, 2, 3]);
    }
    expect(arts.filter((a) => a.kind === 'labels')).toHaveLength(14);
    expect(arts.filter((a) => a.kind === 'labels-stage1')).toHaveLength(14);
    expect(arts.filter((a) => a.kind === 'checkpoint')).toHaveLength(2);
    expect(arts.filter((a) => a.kind === 'overlay')).toHaveLength(14);
    // The dashboard viewer's intermediate maps, one of each per test image.
    for (const layer of ['prob', 'distance', 'markers']) {
      const files = arts.filter((a) => a.kind === layer).map((a) => a.path.split('/').at(-1));
      expect(files.sort()).toEqual(rows.map((x) => `${x.image}.${layer}.png`).sort());
    }
    expect(arts.filter((a) => a.kind === 'model').map((a) => a.path.split('/').at(-1))).toEqual([
      'dist.bin',
      'model.json',
      'seg.bin',
    ]);
    for (const a of arts) expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);

    // MLflow: the experiment workflow ends only once the outbox is empty.
    expect(await tracking.pendingOutbox(db, runId!)).toBe(0);
    const ml = new MlflowClient(services().mlflowUri);
    const mlRun = await ml.getRun(run.mlflowRunId!);
    expect(mlRun.info.status).toBe('FINISHED');
    const tags = Object.fromEntries((mlRun.data.tags ?? []).map((t) => [t.key, t.value]));
    expect(tags['mlflow.source.git.commit']).toBe(run.codeCommit);
    expect(tags['nucleiflow.config_hash']).toBe(run.configHash);
    expect(tags['temporal.workflow_id']).toBe(run.workflowId);
    expect((await ml.getMetricHistory(mlRun.info.run_id, 'seg.loss')).map((m) => m.step).sort()).toEqual([
      1, 2, 3,
    ]);
    expect((mlRun.data.metrics ?? []).find((m) => m.key === 'eval.all_aji')?.value).toBeCloseTo(
      rows.reduce((s, x) => s + x.aji, 0) / 14,
      6,
    );
    const files = (await ml.listArtifacts(mlRun.info.run_id, 'report')).map((f) => f.path).sort();
    expect(files).toEqual([
      'report/report.md',
      'report/results-stage1.csv',
      'report/results.csv',
      'report/run-card.json',
    ]);
    expect((await ml.listArtifacts(mlRun.info.run_id, 'model')).map((f) => f.path)).toEqual([
      'model/model.json',
    ]);
    const overlays = await ml.listArtifacts(mlRun.info.run_id, 'overlays');
    expect(overlays.map((f) => f.path).sort()).toEqual(rows.map((x) => `overlays/${x.image}.png`).sort());
    const local = arts.find((a) => a.kind === 'overlay' && a.path.endsWith(`${rows[0]!.image}.png`))!;
    expect(overlays.find((f) => f.path === `overlays/${rows[0]!.image}.png`)?.file_size).toBe(local.bytes);

    // The CLI views read the same rows.
    const show = await cli.run(['show', runId!]);
    expect(show.code).toBe(0);
    for (const x of rows)
      expect(show.stdout).toContain(x.image.replace(/^TCGA-/, '').replace(/-01Z-00-DX1$/, ''));
    expect(show.stdout).toMatch(/Average, unseen organs/);
    const list = await cli.run(['runs', '--json']);
    expect(JSON.parse(list.stdout).map((x: { id: string }) => x.id)).toEqual([runId]);
    const dup = await db.execute(
      sql`select count(*)::int as n from (select run_id, stage, key, step from metrics group by 1,2,3,4 having count(*) > 1) d`,
    );
    expect((dup as unknown as { rows: Array<{ n: number }> }).rows[0]!.n).toBe(0);

    // The model registry: the run registered version 1 of `quick`, mirrored in MLflow's registry.
    const models = await cli.run(['models', '--json']);
    expect(models.code, models.stderr).toBe(0);
    const versions = JSON.parse(models.stdout) as Array<{
      name: string;
      version: number;
      runId: string;
      mlflowVersion: string | null;
    }>;
    expect(versions.map((v) => [v.name, v.version, v.runId])).toEqual([['quick', 1, runId]]);
    expect((await ml.findModelVersions('quick', mlRun.info.run_id)).map((v) => v.version)).toEqual([
      versions[0]!.mlflowVersion,
    ]);
  });

  it('trains on all 30 images with split all: no image scored, a card that says so, tta in model.json', async () => {
    const { cli } = fx;
    // Without a grid and without test images the nets never run after training, so tta costs nothing here.
    const r = await cli.run([
      'run',
      'quick',
      '--set',
      'dataset.split=all',
      '--set',
      'dataset.maxTrainImages=30',
      '--set',
      'postprocess.grid=false',
      '--set',
      'inference={"tta":true}',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const runId = /^run (\S+)$/m.exec(r.stdout)?.[1];
    const { db } = cli.storage;
    expect((await tracking.getRun(db, runId!))!.status).toBe('completed');
    expect(await tracking.getImageResults(db, runId!, 'all')).toEqual([]);
    const params = await tracking.getParams(db, runId!);
    expect(params['dataset.split']).toBe('all');
    const versions = JSON.parse((await cli.run(['models', '--json'])).stdout) as Array<{
      name: string;
      version: number;
      runId: string;
    }>;
    const v = versions.find((x) => x.runId === runId)!;
    const show = await cli.run(['models', 'show', `${v.name}@${v.version}`]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^split {7}all$/m);
    expect(show.stdout).toMatch(/Not scored: it trained on all 30 images, the Kumar test images among them/);
    const [entry] = (await listModelVersions(db)).filter((x) => x.runId === runId);
    const manifest = JSON.parse(readFileSync(join(entry!.dir, 'model.json'), 'utf8'));
    expect(manifest.inference).toEqual({ tta: true });
  });

  it('runs the three-class variant with interior seeds: a softmax3 seg net in model.json, scored on the test images, usable by segment', async () => {
    const { cli } = fx;
    const r = await cli.run([
      'run',
      'quick',
      '--set',
      'groundTruth.target=three-class',
      '--set',
      'gtErosion=false',
      '--set',
      'dataset.maxTestImages=2',
      '--set',
      'postprocess.markers=interior',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const runId = /^run (\S+)$/m.exec(r.stdout)?.[1];
    const { db } = cli.storage;
    expect((await tracking.getRun(db, runId!))!.status).toBe('completed');
    const results = await tracking.getImageResults(db, runId!, 'all');
    expect(results.map((x) => x.method).sort()).toEqual(['stage1', 'stage1', 'two-stage', 'two-stage']);
    const [entry] = (await listModelVersions(db)).filter((x) => x.runId === runId);
    const dir = entry!.dir;
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    expect(manifest.segOutput).toBe('softmax3');
    // The seed rule travels with the model, beside the setting tuned on the training images.
    expect(manifest.postprocess.markers).toBe('interior');
    expect(manifest.postprocess.chosenOn).toMatch(/training images/);
    // float32 weights: 1,941,139 for the three-class head, 1,941,105 for the distance net.
    expect(statSync(join(dir, 'seg.bin')).size).toBe(1_941_139 * 4);
    expect(statSync(join(dir, 'dist.bin')).size).toBe(1_941_105 * 4);
    const out = join(dir, '..', 'segment-out');
    const seg = await cli.run([
      'segment',
      join(loadConfig().dataDir, 'images', 'TCGA-21-5784-01Z-00-DX1.tif'),
      '--model',
      `${entry!.name}@${entry!.version}`,
      '--out',
      out,
    ]);
    expect(seg.code, seg.stderr).toBe(0);
    expect(existsSync(join(out, 'TCGA-21-5784-01Z-00-DX1.labels.png'))).toBe(true);
  });
});
