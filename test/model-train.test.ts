import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRng } from '../src/augment/rng.ts';
import { loadConfig } from '../src/config.ts';
import { Adam } from '../src/model/adam.ts';
import { loadTf } from '../src/model/backend.ts';
import { CHECKPOINT_FILE, CheckpointError, loadCheckpoint } from '../src/model/checkpoint.ts';
import type { TrainingSchedule } from '../src/model/schedule.ts';
import { type EpochMetrics, runConfigHash, train, trainEvents, trainStep } from '../src/model/train.ts';
import { trainTwoStage } from '../src/model/two-stage.ts';
import { createUNet } from '../src/model/unet.ts';
import { synthetic } from './helpers/synthetic-batches.ts';

const tf = loadTf();

const schedule: TrainingSchedule = {
  epochs: 3,
  batchSize: 2,
  inputSize: 32,
  stepsPerEpoch: 2,
  lr: 1e-3,
  lrSchedule: { every: 2, factor: 0.4 },
};
const base = {
  stage: 'seg' as const,
  schedule,
  seed: 11,
  data: synthetic,
  configHash: 'test',
  progress: false,
};
const tmp = () => mkdtempSync(join(tmpdir(), 'nf-train-'));
const same = (a: Float32Array[], b: Float32Array[]) =>
  a.length === b.length && a.every((w, i) => Buffer.from(w.buffer).equals(Buffer.from(b[i]!.buffer)));

describe('train()', () => {
  it('reports every epoch, leaks no tensors, and checkpoints each epoch', async () => {
    const dir = tmp();
    const events: EpochMetrics[] = [];
    const before = tf.memory().numTensors;
    const r = await train({ ...base, checkpointDir: dir, onEpoch: (m) => void events.push(m) });
    expect(events.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(events.map((e) => e.lr)).toEqual([1e-3, 1e-3, 4e-4]);
    for (const e of events) {
      expect(e.loss).toBeGreaterThan(0);
      expect(e.valLoss).not.toBeNull();
      expect(e.imagesPerSecond).toBeGreaterThan(0);
      expect(e.numTensors).toBe(events[0]!.numTensors);
    }
    expect(r.steps).toBe(6);
    expect(r.lrDrops).toEqual([4]);
    expect(tf.memory().numTensors).toBe(before);
    const ck = await loadCheckpoint(dir);
    expect(ck?.header.epoch).toBe(3);
    expect(same([...ck!.weights], r.weights)).toBe(true);
  });

  it('resumes after an abort to bit-identical final weights', async () => {
    const full = await train({ ...base });
    const dir = tmp();
    const ac = new AbortController();
    await expect(
      train({
        ...base,
        checkpointDir: dir,
        signal: ac.signal,
        onEpoch: (m) => (m.epoch === 1 ? ac.abort(new Error('stop')) : undefined),
      }),
    ).rejects.toThrow('stop');
    expect((await loadCheckpoint(dir))?.header.epoch).toBe(1);
    const resumed = await train({ ...base, checkpointDir: dir });
    expect(resumed.resumedFrom).toBe(1);
    expect(same(resumed.weights, full.weights)).toBe(true);
  });

  it('trains a three-class seg net (class-index targets), checkpoints its head and resumes bit-identically', async () => {
    // Classes from the red channel: < 0.4 background, < 0.7 interior, else boundary.
    const three = {
      ...synthetic,
      sample: (rng: Parameters<typeof synthetic.sample>[0], st: 'seg' | 'dist', n: number, size: number) => {
        const b = synthetic.sample(rng, st, n, size);
        const y = new Float32Array(b.y.length);
        for (let i = 0; i < y.length; i++) {
          const r = b.x[3 * i]!;
          y[i] = r < 0.4 ? 0 : r < 0.7 ? 1 : 2;
        }
        return { ...b, y };
      },
    };
    const o = { ...base, data: three, output: 'softmax3' as const };
    const full = await train(o);
    expect(full.weights.at(-2)!.length).toBe(16 * 3);
    expect(full.history.every((e) => Number.isFinite(e.loss) && e.loss > 0)).toBe(true);
    const dir = tmp();
    const ac = new AbortController();
    await expect(
      train({
        ...o,
        checkpointDir: dir,
        signal: ac.signal,
        onEpoch: (m) => (m.epoch === 1 ? ac.abort(new Error('stop')) : undefined),
      }),
    ).rejects.toThrow('stop');
    expect((await loadCheckpoint(dir))?.header.output).toBe('softmax3');
    const resumed = await train({ ...o, checkpointDir: dir });
    expect(resumed.resumedFrom).toBe(1);
    expect(same(resumed.weights, full.weights)).toBe(true);
    // A distance net started from it keeps the body and draws a one-channel head.
    const dist = await train({
      ...base,
      stage: 'dist',
      initialWeights: full.weights,
      schedule: { ...schedule, epochs: 1 },
    });
    expect(dist.weights.at(-2)!.length).toBe(16);
    await expect(train({ ...base, stage: 'dist', output: 'softmax3' })).rejects.toThrow(
      /the distance net's output is linear, got softmax3/,
    );
  });

  it('streams the same epochs through the async iterator', async () => {
    const it = trainEvents({ ...base, schedule: { ...schedule, epochs: 2 } });
    const seen: number[] = [];
    let r = await it.next();
    while (!r.done) {
      seen.push(r.value.epoch);
      r = await it.next();
    }
    expect(seen).toEqual([1, 2]);
    expect(r.value.epochsRun).toBe(2);
  });

  it('refuses a checkpoint written by another config', async () => {
    const dir = tmp();
    await train({ ...base, schedule: { ...schedule, epochs: 1 }, checkpointDir: dir });
    await expect(
      train({ ...base, schedule: { ...schedule, epochs: 1, lr: 2e-3 }, checkpointDir: dir }),
    ).rejects.toThrow(
      /checkpoint .*checkpoint\.nfck: written by config [0-9a-f]{12}, this run is [0-9a-f]{12}/,
    );
  });

  it('rejects a corrupt or truncated checkpoint with a one-line error', async () => {
    const dir = tmp();
    await train({ ...base, schedule: { ...schedule, epochs: 1 }, checkpointDir: dir });
    const file = join(dir, CHECKPOINT_FILE);
    const good = readFileSync(file);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 100]! ^= 0xff;
    writeFileSync(file, flipped);
    await expect(train({ ...base, checkpointDir: dir })).rejects.toThrow(
      /checksum mismatch \(corrupt file\)/,
    );
    writeFileSync(file, good.subarray(0, good.length - 7));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/truncated payload/);
    writeFileSync(file, 'hello');
    await expect(loadCheckpoint(dir)).rejects.toBeInstanceOf(CheckpointError);
  });

  it('keeps the previous checkpoint valid when a write fails (disk full)', async () => {
    const dir = tmp();
    const { writeFileAtomic } = await import('../src/io/atomic-write.ts');
    let calls = 0;
    const write = async (path: string, data: Uint8Array) => {
      calls += 1;
      if (calls === 2) {
        // What a full disk does mid-write: the temp file gets part of the bytes, then ENOSPC.
        writeFileSync(`${path}.partial.tmp`, data.subarray(0, 1000));
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      await writeFileAtomic(path, data);
    };
    await expect(train({ ...base, checkpointDir: dir, writeCheckpoint: write })).rejects.toThrow(
      /checkpoint .*checkpoint\.nfck: could not be written \(disk full\); the previous checkpoint is unchanged/,
    );
    const ck = await loadCheckpoint(dir);
    expect(ck?.header.epoch).toBe(1);
    // And the run continues from it once space is back.
    const r = await train({ ...base, checkpointDir: dir });
    expect(r.resumedFrom).toBe(1);
    expect(r.epochsRun).toBe(3);
  });

  it('rejects a bad schedule before touching TensorFlow state', async () => {
    await expect(train({ ...base, schedule: { ...schedule, inputSize: 30 } })).rejects.toThrow(
      /multiple of 16, got 30/,
    );
  });

  it('trains without dropout when the schedule turns it off, under its own config hash', async () => {
    const noDrop = { ...schedule, epochs: 1, dropout: false };
    expect(runConfigHash({ ...base, schedule: noDrop })).not.toBe(
      runConfigHash({ ...base, schedule: { ...schedule, epochs: 1 } }),
    );
    // The paper's schedule (dropout on) keeps the hash it had before the switch existed.
    expect(runConfigHash({ ...base, schedule: { ...schedule, epochs: 1, dropout: true } })).toBe(
      runConfigHash({ ...base, schedule: { ...schedule, epochs: 1 } }),
    );
    const dir = tmp();
    await train({ ...base, schedule: { ...schedule, epochs: 1 }, checkpointDir: dir });
    await expect(train({ ...base, schedule: noDrop, checkpointDir: dir })).rejects.toThrow(
      /written by config/,
    );
    // Without dropout the first step's loss does not depend on the dropout seed; with it, it does.
    const firstLoss = async (dropoutSeed: number, dropout: boolean) => {
      const net = createUNet(tf, 'sigmoid', createRng(5));
      const adam = new Adam(tf, net.params);
      const b = synthetic.sample(createRng(6), 'seg', 2, 32);
      try {
        return await trainStep(tf, net, adam, b, dropoutSeed, 1e-3, dropout);
      } finally {
        adam.dispose();
        net.dispose();
      }
    };
    expect(await firstLoss(1, false)).toBe(await firstLoss(2, false));
    expect(await firstLoss(1, true)).not.toBe(await firstLoss(2, true));
  });
});

describe('budgets', () => {
  it('a steps budget stops after exactly its steps, mid-epoch, and resumes bit-identically', async () => {
    const steps: TrainingSchedule = {
      ...schedule,
      epochs: undefined,
      steps: 5,
      lrSchedule: { factor: 0.4, drops: 1 },
    };
    const full = await train({ ...base, schedule: steps });
    expect([full.steps, full.epochsRun, full.epochsPlanned]).toEqual([5, 3, 3]);
    expect(full.history.map((h) => h.steps)).toEqual([2, 4, 5]);
    // One drop at half of 5 steps: after ceil(5 / 2) = 3 steps, inside epoch 2.
    expect(full.lrDrops).toEqual([3]);
    expect(full.budget).toEqual({ kind: 'steps', value: 5 });
    const dir = tmp();
    const ac = new AbortController();
    await expect(
      train({
        ...base,
        schedule: steps,
        checkpointDir: dir,
        signal: ac.signal,
        onEpoch: (m) => (m.epoch === 1 ? ac.abort(new Error('stop')) : undefined),
      }),
    ).rejects.toThrow('stop');
    const resumed = await train({ ...base, schedule: steps, checkpointDir: dir });
    expect(resumed.resumedFrom).toBe(1);
    expect(resumed.lrDrops).toEqual([3]);
    expect(same(resumed.weights, full.weights)).toBe(true);
  });

  it('a minutes budget records the steps and lr drops it ran; replayed by steps they give the same weights', async () => {
    const minutes: TrainingSchedule = {
      ...schedule,
      epochs: undefined,
      minutes: 0.15,
      lrSchedule: { factor: 0.4, drops: 2 },
    };
    const dir = tmp();
    const r = await train({ ...base, schedule: minutes, checkpointDir: dir });
    expect(r.budget).toEqual({ kind: 'minutes', value: 0.15 });
    expect(r.epochsPlanned).toBeNull();
    expect(r.steps).toBe(2 * r.epochsRun);
    // The lr changes only at epoch boundaries, and lrDrops are exactly where the history's lr changes.
    const changes = r.history.flatMap((h, i) =>
      i > 0 && h.lr !== r.history[i - 1]!.lr ? [r.history[i - 1]!.steps] : [],
    );
    expect(r.lrDrops).toEqual(changes);
    expect(r.lrDrops.length).toBeGreaterThan(0);
    expect(r.wallSeconds).toBeGreaterThan(0);
    // The budget is counted across resumes: once spent, a resumed run trains no further step.
    const again = await train({ ...base, schedule: minutes, checkpointDir: dir });
    expect([again.steps, again.epochsRun, again.resumedFrom]).toEqual([r.steps, r.epochsRun, r.epochsRun]);
    expect(same(again.weights, r.weights)).toBe(true);
    // Replay on "another machine": a steps budget with the recorded drop points.
    const replay = await train({
      ...base,
      schedule: {
        ...schedule,
        epochs: undefined,
        steps: r.steps,
        lrSchedule: { factor: 0.4, atSteps: r.lrDrops },
      },
    });
    expect(replay.lrDrops).toEqual(r.lrDrops);
    expect(replay.history.map((h) => h.lr)).toEqual(r.history.map((h) => h.lr));
    expect(same(replay.weights, r.weights)).toBe(true);
  });

  it('refuses a schedule with two budgets before training', async () => {
    await expect(train({ ...base, schedule: { ...schedule, steps: 4 } })).rejects.toThrow(
      /^training: give one budget \(epochs, steps or minutes\), got epochs and steps$/,
    );
  });
});

describe('trainTwoStage', () => {
  it("writes a model folder that keeps each stage's run record without the checkpoints", async () => {
    const config = loadConfig();
    const dir = tmp();
    const out = join(dir, 'model');
    const s2: TrainingSchedule = {
      epochs: 2,
      batchSize: 2,
      inputSize: 64,
      stepsPerEpoch: 2,
      lr: 1e-3,
      lrSchedule: { every: 1, factor: 0.4 },
    };
    await trainTwoStage({
      dataDir: config.dataDir,
      cacheDir: config.cacheDir,
      runDir: join(dir, 'run'),
      outDir: out,
      stages: ['seg', 'dist'],
      seed: 1,
      schedules: { seg: s2, dist: { ...s2, epochs: 1 } },
      stainNormalisation: true,
      referenceSelection: 'first',
      hed: null,
      flipRotate: true,
      groundTruth: {},
      distInit: 'seg',
      maxTrainImages: 2,
      progress: false,
    });
    const runs = (
      JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as {
        training: {
          runs: Record<'seg' | 'dist', { epochs: number; steps: number; history: EpochMetrics[] }>;
        };
      }
    ).training.runs;
    expect([runs.seg.epochs, runs.seg.steps, runs.dist.epochs, runs.dist.steps]).toEqual([2, 4, 1, 2]);
    expect(runs.seg.history.map((h) => [h.stage, h.epoch])).toEqual([
      ['seg', 1],
      ['seg', 2],
    ]);
    expect(runs.dist.history.map((h) => [h.stage, h.epoch])).toEqual([['dist', 1]]);
  });
});
