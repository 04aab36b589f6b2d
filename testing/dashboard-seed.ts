/**
 * Seeds a tracking database with realistic rows for the dashboard's tests and benchmark, through
 * the storage module (the same schema the platform writes): experiments with ablation arms, runs
 * in every status, params, per-epoch curves of both nets, per-image results for the 14 test
 * images of the Kumar split, and for chosen runs real per-image layers (label map, stage-1
 * probability, distance map, markers) derived from the real MoNuSeg ground truth of one image.
 * Values come from a seeded RNG, so every seed is reproducible.
 */

import { createHash } from 'node:crypto';
import { cpSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { eq } from 'drizzle-orm';
import sharp from 'sharp';
import { imageArtifactPath, type Layer } from '../dashboards/server/artifacts.ts';
import { readLabels, writeLabelsPng } from '../src/imaging/io.ts';
import { SHIPPED_MODEL_DIR } from '../src/model/model-dir.ts';
import type { Db } from '../src/storage/index.ts';
import { schema } from '../src/storage/index.ts';
import { modelCard, registerModelVersion, setAlias } from '../src/tracking/registry.ts';

export interface TestImage {
  image: string;
  organ: string;
  subset: 'seen' | 'unseen';
}

/** The 8 + 6 test images of the Kumar split, read from the data's manifest. */
export function testImages(dataDir: string): TestImage[] {
  const lines = readFileSync(resolve(dataDir, 'manifest.csv'), 'utf8').trim().split('\n');
  const head = lines[0]!.split(',');
  const col = (n: string) => head.indexOf(n);
  const out: TestImage[] = [];
  for (const line of lines.slice(1)) {
    const c = line.split(',');
    const split = c[col('split_kumar')];
    if (split !== 'test_same_organ' && split !== 'test_diff_organ') continue;
    out.push({
      image: c[col('slide')]!,
      organ: c[col('organ')]!,
      subset: split === 'test_same_organ' ? 'seen' : 'unseen',
    });
  }
  return out;
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SeedOptions {
  /** Total number of runs (grouped into two-arm experiments). */
  runs: number;
  epochs?: number;
  /** Ids of runs (by index) that get real per-image layers for `layerImage`. */
  withLayers?: number[];
  layerImage?: string;
  seed?: number;
  /** Register the completed runs of the first experiment as versions of its spec's model, alias `default` on the first. */
  models?: boolean;
}

export interface SeededRun {
  id: string;
  experimentId: string;
  status: string;
}

/** An 8- or 16-bit grey PNG (the depth follows the array type). */
function pngGrey(width: number, height: number, values: Uint8Array | Uint16Array): Promise<Buffer> {
  return sharp(values, { raw: { width, height, channels: 1 } })
    .toColourspace(values instanceof Uint16Array ? 'grey16' : 'b-w')
    .png()
    .toBuffer();
}

/** City-block distance of every instance pixel to the nearest pixel outside its instance (two passes). */
function distanceInside(l: { width: number; height: number; data: Int32Array }): Float32Array {
  const { width: w, height: h, data } = l;
  const d = new Float32Array(w * h);
  const step = (i: number, j: number, inside: boolean) => (inside && data[j] === data[i] ? d[j]! + 1 : 1);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (data[i]! > 0) d[i] = Math.min(step(i, i - 1, x > 0), step(i, i - w, y > 0));
    }
  for (let y = h - 1; y >= 0; y--)
    for (let x = w - 1; x >= 0; x--) {
      const i = y * w + x;
      if (data[i]! > 0) d[i] = Math.min(d[i]!, step(i, i + 1, x < w - 1), step(i, i + w, y < h - 1));
    }
  return d;
}

/**
 * Writes the four layers of one image for one run: predicted labels = the GT with every k-th
 * nucleus dropped and a one- or two-pixel rim peeled off (so contours differ visibly from the GT);
 * probability = a smoothed foreground; distance = the inside distance; markers = nucleus cores.
 */
async function writeLayers(home: string, dataDir: string, runId: string, image: string, variant: number) {
  const gt = await readLabels(resolve(dataDir, 'labels', `${image}.png`));
  const { width: w, height: h } = gt;
  const dist = distanceInside(gt);
  const pred = new Uint16Array(w * h);
  const drop = variant === 0 ? 7 : 11;
  for (let i = 0; i < pred.length; i++) {
    const v = gt.data[i]!;
    if (v > 0 && v % drop !== 0 && dist[i]! > variant + 1) pred[i] = v;
  }
  const prob = new Uint8Array(w * h);
  for (let i = 0; i < prob.length; i++) prob[i] = gt.data[i]! > 0 ? Math.min(255, 150 + dist[i]! * 20) : 12;
  const distance = new Uint16Array(w * h);
  for (let i = 0; i < distance.length; i++) distance[i] = Math.round(dist[i]! * 100);
  const markers = new Uint16Array(w * h);
  for (let i = 0; i < markers.length; i++) if (dist[i]! >= 4 && pred[i]) markers[i] = pred[i]!;
  const rows: (typeof schema.artifacts.$inferInsert)[] = [];
  const register = async (layer: Layer, abs: string, stored: string) => {
    const buf = await readFile(abs);
    rows.push({
      runId,
      kind: layer,
      path: stored,
      sha256: createHash('sha256').update(buf).digest('hex'),
      bytes: buf.length,
    });
  };
  // Label maps where the platform's infer activity writes them (absolute path, as it registers them).
  const labelsAbs = join(home, 'runs', runId, 'labels', `${image}.png`);
  await mkdir(dirname(labelsAbs), { recursive: true });
  await writeLabelsPng(labelsAbs, { width: w, height: h, data: Int32Array.from(pred) });
  await register('labels', labelsAbs, labelsAbs);
  // Intermediate maps in the dashboard's documented layout (paths relative to home).
  const maps: [Layer, Buffer][] = [
    ['prob', await pngGrey(w, h, prob)],
    ['distance', await pngGrey(w, h, distance)],
    ['markers', await pngGrey(w, h, markers)],
  ];
  for (const [layer, buf] of maps) {
    const rel = imageArtifactPath(runId, image, layer);
    const abs = join(home, rel);
    await mkdir(dirname(abs), { recursive: true });
    await writeFile(abs, buf);
    await register(layer, abs, rel);
  }
  return rows;
}

export async function seedDashboard(
  db: Db,
  home: string,
  dataDir: string,
  o: SeedOptions,
): Promise<SeededRun[]> {
  const r = rng(o.seed ?? 42);
  const epochs = o.epochs ?? 40;
  const images = testImages(dataDir);
  const specs = ['quick', 'ablation-erosion', 'paper'];
  const t0 = Date.UTC(2026, 10, 20, 8, 0, 0);
  const seeded: SeededRun[] = [];
  const nExp = Math.ceil(o.runs / 2);
  for (let e = 0; e < nExp; e++) {
    const specName = specs[e % specs.length]!;
    const expId = `exp-${String(e + 1).padStart(4, '0')}`;
    const created = new Date(t0 + e * 3_600_000);
    await db.insert(schema.experiments).values({
      id: expId,
      name: `${specName} #${e + 1}`,
      specName,
      spec: { name: specName, matrix: { gtErosion: [true, false] } },
      status: 'completed',
      workflowId: `experiment-${expId}`,
      createdAt: created,
    });
    for (let a = 0; a < 2 && seeded.length < o.runs; a++) {
      const idx = seeded.length;
      const id = `run-${String(idx + 1).padStart(4, '0')}`;
      const erosion = a === 0;
      // The last few runs are still going or failed, so every status shows up.
      // Statuses as the platform writes them (src/tracking: pending, running, completed, failed, cancelled).
      const status = idx >= o.runs - 1 ? 'running' : idx === o.runs - 3 ? 'failed' : 'completed';
      const started = new Date(created.getTime() + 60_000);
      const finished =
        status === 'completed' ? new Date(started.getTime() + (600 + r() * 3000) * 1000) : null;
      await db.insert(schema.runs).values({
        id,
        experimentId: expId,
        arm: { gtErosion: erosion },
        status,
        spec: { name: specName, gtErosion: erosion, seg: { epochs }, dist: { epochs: epochs / 2 } },
        configHash: createHash('sha256').update(`${expId}/${a}`).digest('hex').slice(0, 16),
        seed: 1234 + e,
        codeCommit: createHash('sha1').update(`commit${e}`).digest('hex'),
        dataHash: createHash('sha256').update('monuseg').digest('hex').slice(0, 16),
        workflowId: `run-${expId}-${a}`,
        workerHost: `worker-${(idx % 3) + 1}`,
        mlflowRunId: createHash('md5').update(id).digest('hex'),
        error: status === 'failed' ? 'ActivityFailure: train-seg: worker lost (heartbeat timeout)' : null,
        timings:
          status === 'completed'
            ? { normalise: 12.5, trainSeg: 820, trainDist: 410, infer: 35, evaluate: 9 }
            : {},
        createdAt: created,
        startedAt: started,
        finishedAt: finished,
      });
      await db.insert(schema.params).values(
        Object.entries({
          'data.split': 'kumar',
          'pre.normalise': 'true',
          'pre.reference': 'TCGA-18-5592-01Z-00-DX1',
          'aug.hed': 'true',
          'gt.erosion': String(erosion),
          'gt.erosionRadius': '1',
          'seg.epochs': String(epochs),
          'seg.lr': '0.001',
          'seg.batch': '2',
          'seg.inputSize': '256',
          'dist.epochs': String(epochs / 2),
          'dist.lr': '0.001',
          'post.sigmaRule': 'mean-radius/2',
          'post.iterative': 'true',
          seed: String(1234 + e),
        }).map(([key, value]) => ({ runId: id, key, value })),
      );
      const curveRows = [];
      const done =
        status === 'running'
          ? Math.floor(epochs * 0.6)
          : status === 'failed'
            ? Math.floor(epochs * 0.3)
            : epochs;
      for (const [stage, n] of [
        ['seg', done],
        ['dist', Math.floor(done / 2)],
      ] as const) {
        const base = stage === 'seg' ? 0.9 : 0.05;
        for (let s = 1; s <= n; s++) {
          const loss = base * (0.25 + 0.75 * Math.exp(-s / (epochs / 5))) * (1 + (r() - 0.5) * 0.06);
          const lrv = 1e-3 * 0.4 ** Math.floor(s / Math.max(1, Math.floor(epochs / 3)));
          curveRows.push(
            { runId: id, stage, key: 'loss', step: s, value: loss },
            {
              runId: id,
              stage,
              key: 'val_loss',
              step: s,
              value: loss * (1.08 + 0.1 * (s / epochs)) + (erosion ? 0 : 0.01 * base),
            },
            { runId: id, stage, key: 'lr', step: s, value: lrv },
          );
        }
      }
      if (curveRows.length) await db.insert(schema.metrics).values(curveRows);
      if (status === 'completed') {
        const armShift = erosion ? 0.012 : -0.004;
        await db.insert(schema.imageResults).values(
          images.map((im) => {
            const aji = 0.5 + armShift + r() * 0.14;
            const nGt = 300 + Math.floor(r() * 900);
            return {
              runId: id,
              image: im.image,
              organ: im.organ,
              subset: im.subset,
              dice: 0.74 + r() * 0.08,
              f1: 0.78 + r() * 0.08,
              aji,
              ajiPlus: aji + 0.005 + r() * 0.02,
              pq: aji - 0.02 + r() * 0.03,
              nGt,
              nPred: Math.round(nGt * (0.9 + r() * 0.2)),
            };
          }),
        );
        // The report activity's files: absolute paths under home, kind 'report'.
        const card = `${JSON.stringify({ run: id, experiment: expId, arm: { gtErosion: erosion }, seed: 1234 + e }, null, 2)}\n`;
        const report = `# Run ${id}\n\nSpec ${specName}, arm gtErosion=${erosion}.\n`;
        await mkdir(join(home, 'runs', id), { recursive: true });
        for (const [name, body] of [
          ['run-card.json', card],
          ['report.md', report],
        ] as const) {
          const abs = join(home, 'runs', id, name);
          await writeFile(abs, body);
          await db.insert(schema.artifacts).values({
            runId: id,
            kind: 'report',
            path: abs,
            sha256: createHash('sha256').update(body).digest('hex'),
            bytes: Buffer.byteLength(body),
          });
        }
      }
      if (o.withLayers?.includes(idx) && o.layerImage) {
        const rows = await writeLayers(home, dataDir, id, o.layerImage, a);
        await db.insert(schema.artifacts).values(rows);
      }
      seeded.push({ id, experimentId: expId, status });
    }
  }
  if (o.models) {
    for (const run of seeded.filter((x) => x.experimentId === 'exp-0001' && x.status === 'completed'))
      await registerSeededModel(db, home, run.id);
    await setAlias(db, specs[0]!, 1, 'default');
  }
  return seeded;
}

export interface AblationSeed {
  experimentId: string;
  /** Run ids in creation order: erosion on seeds 1, 2, then erosion off seeds 1, 2. */
  runIds: string[];
  /** An experiment whose only run is still running, with no results. */
  pendingExperimentId: string;
  pendingRunId: string;
}

/**
 * A two-arm, two-seed ablation with values simple enough to check by hand (report and compare
 * tests). Two-stage AJI of the k-th image of a subset (k from 0, manifest order):
 * seen 0.60 + 0.01k, unseen 0.50 + 0.01k; plus, for erosion on, 0.02 + 0.002 for odd k and
 * 0.02 - 0.002 for even k; plus 0.004 for seed 2. Dice = AJI + 0.25, F1 = AJI + 0.30,
 * AJI+ = AJI + 0.01, PQ = AJI - 0.02. Stage 1 alone is every two-stage score minus 0.10 (only
 * with `stage1`). Also trained facts, a chosen and a rejected post-processing setting, and four
 * epochs of curves per net.
 */
export async function seedAblation(
  db: Db,
  dataDir: string,
  o: { stage1?: boolean } = {},
): Promise<AblationSeed> {
  const images = testImages(dataDir);
  const experimentId = 'exp-abl';
  const t0 = Date.UTC(2026, 10, 25, 8, 0, 0);
  await db.insert(schema.experiments).values({
    id: experimentId,
    name: 'ablation-erosion #seeded',
    specName: 'ablation-erosion',
    spec: { name: 'ablation-erosion', matrix: { gtErosion: [true, false], seed: [1, 2] } },
    status: 'completed',
    workflowId: `experiment-${experimentId}`,
    createdAt: new Date(t0),
  });
  const runIds: string[] = [];
  let n = 0;
  for (const erosion of [true, false]) {
    for (const seed of [1, 2]) {
      const id = `abl-${erosion ? 'on' : 'off'}-s${seed}`;
      runIds.push(id);
      const created = new Date(t0 + 60_000 * ++n);
      await db.insert(schema.runs).values({
        id,
        experimentId,
        arm: { 'groundTruth.erosion': erosion, seed },
        status: 'completed',
        spec: { name: 'ablation-erosion', seed },
        configHash: createHash('sha256').update(id).digest('hex').slice(0, 16),
        seed,
        codeCommit: 'c0ffee0123456789abcdef0123456789abcdef01',
        dataHash: 'd4t4h45h',
        workflowId: `run-${id}`,
        workerHost: 'worker-1',
        trained: {
          seg: {
            budget: { kind: 'steps', value: 400 },
            steps: 400,
            epochs: 4,
            lrDrops: [200, 300],
            wallSeconds: 1200,
            cpuSeconds: 2100,
          },
          dist: {
            budget: { kind: 'steps', value: 200 },
            steps: 200,
            epochs: 4,
            lrDrops: [100],
            wallSeconds: 300,
          },
        },
        createdAt: created,
        startedAt: created,
        finishedAt: new Date(created.getTime() + 1_800_000),
      });
      const curveRows = [];
      for (const stage of ['seg', 'dist'])
        for (let s = 1; s <= 4; s++)
          curveRows.push(
            { runId: id, stage, key: 'loss', step: s, value: 1 / s },
            { runId: id, stage, key: 'val_loss', step: s, value: 1 / s + 0.1 },
            { runId: id, stage, key: 'lr', step: s, value: s <= 2 ? 1e-3 : 1e-4 },
          );
      await db.insert(schema.metrics).values(curveRows);
      await db.insert(schema.tuningResults).values([
        {
          runId: id,
          setting: 'thr=0.5,sigma=1',
          params: { threshold: 0.5, sigma: 1 },
          aji: 0.61,
          dice: 0.8,
          f1: 0.85,
          images: 16,
          chosen: true,
        },
        {
          runId: id,
          setting: 'thr=0.6,sigma=1',
          params: { threshold: 0.6, sigma: 1 },
          aji: 0.59,
          dice: 0.79,
          f1: 0.84,
          images: 16,
          chosen: false,
        },
      ]);
      const k = { seen: 0, unseen: 0 };
      const rows = images.flatMap((im) => {
        const i = k[im.subset]++;
        const aji =
          (im.subset === 'seen' ? 0.6 : 0.5) +
          0.01 * i +
          (erosion ? 0.02 + (i % 2 ? 0.002 : -0.002) : 0) +
          (seed === 2 ? 0.004 : 0);
        const row = (method: string, d: number) => ({
          runId: id,
          method,
          image: im.image,
          organ: im.organ,
          subset: im.subset,
          aji: aji - d,
          dice: aji + 0.25 - d,
          f1: aji + 0.3 - d,
          ajiPlus: aji + 0.01 - d,
          pq: aji - 0.02 - d,
          nGt: 100,
          nPred: 100,
        });
        return o.stage1 === false ? [row('two-stage', 0)] : [row('two-stage', 0), row('stage1', 0.1)];
      });
      await db.insert(schema.imageResults).values(rows);
    }
  }
  const pendingExperimentId = 'exp-abl-pending';
  const pendingRunId = 'abl-pending-s1';
  await db.insert(schema.experiments).values({
    id: pendingExperimentId,
    name: 'ablation-erosion #pending',
    specName: 'ablation-erosion',
    spec: { name: 'ablation-erosion' },
    status: 'running',
    workflowId: `experiment-${pendingExperimentId}`,
    createdAt: new Date(t0 + 3_600_000),
  });
  await db.insert(schema.runs).values({
    id: pendingRunId,
    experimentId: pendingExperimentId,
    arm: {},
    status: 'running',
    spec: { name: 'ablation-erosion' },
    configHash: 'pending0pending0',
    seed: 1,
    workflowId: `run-${pendingRunId}`,
    createdAt: new Date(t0 + 3_600_000),
  });
  return { experimentId, runIds, pendingExperimentId, pendingRunId };
}

/**
 * Registers a seeded run's model the way the registerModel activity does: the shipped model's
 * files copied to the run's model folder, a card built from the run's rows.
 */
/** A third seed of seedAblation's erosion-on arm, still running with no results: `abl-on-s3`. */
export async function addRunningSeed(db: Db): Promise<string> {
  const id = 'abl-on-s3';
  await db.insert(schema.runs).values({
    id,
    experimentId: 'exp-abl',
    arm: { 'groundTruth.erosion': true, seed: 3 },
    status: 'running',
    spec: {},
    configHash: id,
    seed: 3,
  });
  return id;
}

export async function registerSeededModel(db: Db, home: string, runId: string) {
  const dir = join(home, 'runs', runId, 'model');
  cpSync(SHIPPED_MODEL_DIR, dir, { recursive: true });
  const [run] = await db.select().from(schema.runs).where(eq(schema.runs.id, runId));
  const name = (run!.spec as { name: string }).name;
  return registerModelVersion(db, { name, runId, dir, card: await modelCard(db, runId, dir) });
}
