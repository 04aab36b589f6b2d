// The tunePostprocess activity (every setting stored, the chosen one marked, test images refused) and
// the evaluate/report activities with both methods (two-stage and stage 1 alone), on embedded PGlite.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asyncLocalStorage, type Context } from '@temporalio/activity';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TuneCall, TuneOutcome } from '../activities/compute.ts';
import { createActivities } from '../activities/index.ts';
import { realCompute } from '../activities/pipeline.ts';
import type { Prediction, SlideRef, TrainOutput } from '../activities/types.ts';
import { recipeHash, resolveSpec } from '../experiments/index.ts';
import quick from '../experiments/quick.ts';
import { loadConfig } from '../src/config.ts';
import { writeLabelsPng } from '../src/imaging/io.ts';
import type { LabelImage } from '../src/imaging/types.ts';
import type { SettingScore } from '../src/postprocess/tune.ts';
import { openStorage, type Storage } from '../src/storage/index.ts';
import { compareResults } from '../src/tracking/compare.ts';
import * as tracking from '../src/tracking/index.ts';

/** Just enough of an activity context for heartbeat() and Context.current().cancellationSignal. */
const fakeContext = {
  heartbeat: () => {},
  cancellationSignal: new AbortController().signal,
  log: { info() {}, warn() {}, error() {}, debug() {}, trace() {} },
  info: { heartbeatDetails: undefined },
} as unknown as Context;
const inActivity = <T>(fn: () => Promise<T>) => asyncLocalStorage.run(fakeContext, fn);

const spec = resolveSpec('quick', quick).runs[0]!.spec;
const trainOut = (stage: 'seg' | 'dist'): TrainOutput => ({
  stage,
  checkpoint: `/nowhere/${stage}/checkpoint.json`,
  epochsRun: 1,
  resumedFrom: 0,
  wallSeconds: 1,
  trained: {
    budget: { kind: 'epochs', value: 1 },
    steps: 4,
    epochs: 1,
    lrDrops: [],
    wallSeconds: 1,
    cpuSeconds: 1,
  },
});
const score = (threshold: number, aji: number): SettingScore => {
  const setting = { threshold, sigmaScale: 0.25, minDistanceScale: 0.25, expand: 0 };
  return {
    key: `thr=${threshold},sigma=0.25,seed=0.25,grow=0`,
    setting,
    aji,
    dice: aji + 0.1,
    f1: aji + 0.05,
    images: 2,
  };
};

describe('tunePostprocess, evaluate and report activities', () => {
  const home = mkdtempSync(join(tmpdir(), 'nf-tune-'));
  const config = { ...loadConfig(), home };
  let storage: Storage;
  const runId = 'e1-r0';
  const tuneCalls: TuneCall[] = [];
  const scores = [score(0.5, 0.4), score(0.8, 0.6), score(0.9, 0.55)];

  beforeAll(async () => {
    storage = await openStorage({ home });
    await tracking.createExperiment(storage.db, {
      id: 'e1',
      name: 'quick',
      specName: 'quick',
      spec,
      workflowId: 'exp-e1',
      runs: [{ id: runId, arm: {}, spec, configHash: 'h', seed: 1, workflowId: 'run-e1-r0' }],
    });
  });
  afterAll(async () => {
    await storage?.close();
    rmSync(home, { recursive: true, force: true });
  });

  const activities = () =>
    createActivities({
      config,
      db: storage.db,
      mlflow: undefined,
      compute: {
        ...realCompute(config),
        // The nets and the grid search are the library's (test/postprocess-tune.test.ts); here: what the activity keeps.
        async tune(call): Promise<TuneOutcome> {
          tuneCalls.push(call);
          return { scores, chosen: scores[1]!, images: call.slides.map((s) => s.id) };
        },
      },
    });
  const slide = (id: string, subset: SlideRef['subset']): SlideRef => ({
    id,
    organ: 'Liver',
    subset,
    image: `/data/${id}.png`,
    labels: `/data/${id}.labels.png`,
  });

  it('stores every setting, marks the chosen one, records that only training images were read', async () => {
    const input = {
      runId,
      spec,
      train: [slide('train-a', 'train'), slide('train-b', 'train')],
      stain: null,
      seg: trainOut('seg'),
      dist: trainOut('dist'),
    };
    // Twice: a retried activity leaves the same rows.
    for (let i = 0; i < 2; i++) {
      const out = await inActivity(() => activities().tunePostprocess(input));
      expect(out).toMatchObject({
        key: scores[1]!.key,
        aji: 0.6,
        settings: 3,
        images: ['train-a', 'train-b'],
      });
    }
    const rows = await tracking.getTuningResults(storage.db, runId);
    expect(rows.map((r) => [r.setting, r.aji, r.chosen, r.images])).toEqual([
      [scores[1]!.key, 0.6, true, 2],
      [scores[2]!.key, 0.55, false, 2],
      [scores[0]!.key, 0.4, false, 2],
    ]);
    expect(rows[0]!.params).toEqual(scores[1]!.setting);
    const params = await tracking.getParams(storage.db, runId);
    expect(params['tuning.images']).toBe('train');
    expect(JSON.parse(params['tuning.image_ids']!)).toEqual(['train-a', 'train-b']);
    expect(params['tuning.chosen']).toBe(scores[1]!.key);
    expect(tuneCalls.at(-1)!.slides.map((s) => s.subset)).toEqual(['train', 'train']);
  });

  it('refuses a test slide among the tuning images before anything runs', async () => {
    const before = tuneCalls.length;
    await expect(
      inActivity(() =>
        activities().tunePostprocess({
          runId,
          spec,
          train: [slide('train-a', 'train'), slide('test-x', 'seen')],
          stain: null,
          seg: trainOut('seg'),
          dist: trainOut('dist'),
        }),
      ),
    ).rejects.toThrow(/test-x is a seen test slide; tuning reads training slides only/);
    expect(tuneCalls.length).toBe(before);
  });

  it('scores both methods per image, keeps the run result two-stage, and reports both', async () => {
    const dir = join(home, 'maps');
    mkdirSync(dir, { recursive: true });
    const W = 8;
    /** Two 2x2 nuclei at columns 1 and 4 of row 1; `merge` joins them into one (what stage 1 alone does). */
    const map = (merge: boolean): LabelImage => {
      const d = new Int32Array(W * W);
      for (const y of [1, 2])
        for (const x of [1, 2, 3, 4, 5]) d[y * W + x] = x === 3 ? (merge ? 1 : 0) : x < 3 || merge ? 1 : 2;
      return { width: W, height: W, data: d };
    };
    const preds: Prediction[] = [];
    for (const [id, subset] of [
      ['img-s', 'seen'],
      ['img-u', 'unseen'],
    ] as const) {
      const gt = join(dir, `${id}.gt.png`);
      const two = join(dir, `${id}.png`);
      const one = join(dir, `${id}.stage1.png`);
      await writeLabelsPng(gt, map(false));
      await writeLabelsPng(two, map(false));
      await writeLabelsPng(one, map(true));
      preds.push({ slide: { ...slide(id, subset), labels: gt }, labels: two, stage1Labels: one });
    }
    const summary = await inActivity(() => activities().evaluate({ runId, spec, predictions: preds }));
    expect(summary.n).toBe(2);
    expect(summary.all.aji).toBeCloseTo(1, 12);
    expect(summary.stage1?.n).toBe(2);
    expect(summary.stage1!.all.aji).toBeLessThan(0.9);

    const all = await tracking.getImageResults(storage.db, runId, 'all');
    expect(all.map((r) => `${r.method}:${r.image}`).sort()).toEqual([
      'stage1:img-s',
      'stage1:img-u',
      'two-stage:img-s',
      'two-stage:img-u',
    ]);
    const two = await tracking.getImageResults(storage.db, runId);
    expect(two.map((r) => r.method)).toEqual(['two-stage', 'two-stage']);
    const s1 = await tracking.getImageResults(storage.db, runId, 'stage1');
    for (const r of s1) expect(r.aji).not.toBe(two.find((t) => t.image === r.image)!.aji);
    expect((await tracking.getImageResult(storage.db, runId, 'img-s'))?.method).toBe('two-stage');
    // The runs list means are the two-stage result's.
    const [sum] = await tracking.listRunSummaries(storage.db, { ids: [runId] });
    expect(sum!.ajiAll).toBeCloseTo(1, 12);
    expect(sum!.nImages).toBe(2);
    const [exp] = await tracking.listExperimentSummaries(storage.db);
    expect(exp!.bestAji).toBeCloseTo(1, 12);
    // compare reads two-stage rows only, whatever it is handed.
    const cmp = compareResults([runId], [...two, ...s1]);
    expect(cmp.rows).toHaveLength(2);
    expect(cmp.averages.find((a) => a.subset === 'all')!.means[0]!.aji).toBeCloseTo(1, 12);
    const evalMetrics = Object.fromEntries(
      (await tracking.getMetrics(storage.db, runId, 'eval')).map((m) => [m.key, m.value]),
    );
    expect(evalMetrics.all_aji).toBeCloseTo(1, 12);
    expect(evalMetrics.stage1_all_aji).toBeCloseTo(summary.stage1!.all.aji, 12);
    expect(evalMetrics.stage1_seen_aji).toBeDefined();
    // The run scored the Kumar test split: its recipe and the time are recorded, and a retried
    // evaluation keeps the first time.
    const p1 = await tracking.getParams(storage.db, runId);
    expect(p1['test.recipe']).toBe(recipeHash(spec));
    expect(new Date(p1['test.scored_at']!).getTime()).toBeGreaterThan(Date.now() - 600_000);
    await new Promise((r) => setTimeout(r, 5));
    await inActivity(() => activities().evaluate({ runId, spec, predictions: preds }));
    expect((await tracking.getParams(storage.db, runId))['test.scored_at']).toBe(p1['test.scored_at']);
    // And MLflow is sent the param once: a second, different value would be refused there.
    const queued = await storage.db.execute(
      sql`select count(*)::int as n from mlflow_outbox where run_id = ${runId} and payload::text like '%test.scored_at%'`,
    );
    expect((queued as unknown as { rows: Array<{ n: number }> }).rows[0]!.n).toBe(1);
    // A recipe is the spec without seed and split: another seed is the same recipe, another net is not.
    expect(recipeHash({ ...spec, seed: 99 })).toBe(recipeHash(spec));
    expect(recipeHash({ ...spec, dataset: { ...spec.dataset, split: 'kumar-val' } })).toBe(recipeHash(spec));
    expect(recipeHash({ ...spec, groundTruth: { ...spec.groundTruth, erosion: false } })).not.toBe(
      recipeHash(spec),
    );

    const md = readFileSync(await activities().report({ runId }), 'utf8');
    expect(md).toMatch(/^\| stage1 \| Average, all \| 2 \|/m);
    expect(md).toMatch(/^\| two-stage \| Average, all \| 2 \| .* \| 100\.00 \|/m);
    expect(md).toContain('## Stage 1 alone');
    expect(md).toMatch(
      /post-processing: thr=0\.8,sigma=0\.25,seed=0\.25,grow=0, chosen among 3 settings on the 2 training images only \(test images took no part\)/,
    );
    const csv = readFileSync(join(home, 'runs', runId, 'results.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(csv).toHaveLength(3);
    const csv1 = readFileSync(join(home, 'runs', runId, 'results-stage1.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(csv1).toHaveLength(3);
  });
});
