import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRng, type Rng } from '../src/augment/rng.ts';
import { Adam } from '../src/model/adam.ts';
import { loadTf } from '../src/model/backend.ts';
import type { Batch, BatchSource, Stage } from '../src/model/batch.ts';
import { CHECKPOINT_FILE, CheckpointError, loadCheckpoint } from '../src/model/checkpoint.ts';
import type { TrainingSchedule } from '../src/model/schedule.ts';
import { type EpochMetrics, runConfigHash, train, trainEvents, trainStep } from '../src/model/train.ts';
import { createUNet } from '../src/model/unet.ts';
import { runCli } from './helpers/cli.ts';

const tf = loadTf();

/** Synthetic task: target = red channel > 0.5; every value drawn from the run's Rng. */
const synthetic: BatchSource = {
  imageCount: 4,
  sample(rng: Rng, _stage: Stage, batch: number, size: number): Batch {
    const x = new Float32Array(batch * size * size * 3);
    const y = new Float32Array(batch * size * size);
    for (let i = 0; i < x.length; i++) x[i] = rng.next();
    for (let i = 0; i < y.length; i++) y[i] = x[3 * i]! > 0.5 ? 1 : 0;
    return { batch, size, x, y };
  },
  validation(_stage: Stage, size: number): Batch[] {
    const x = new Float32Array(size * size * 3).fill(0.25);
    return [{ batch: 1, size, x, y: new Float32Array(size * size) }];
  },
};

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
  a.every((w, i) => Buffer.from(w.buffer).equals(Buffer.from(b[i]!.buffer)));

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
    expect(r.completed).toBe(true);
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
        return await trainStep(tf, net, adam, 'seg', b, dropoutSeed, 1e-3, dropout);
      } finally {
        adam.dispose();
        net.dispose();
      }
    };
    expect(await firstLoss(1, false)).toBe(await firstLoss(2, false));
    expect(await firstLoss(1, true)).not.toBe(await firstLoss(2, true));
  });
});

describe('nucleiflow train flags', () => {
  const trainCli = (...args: string[]) =>
    runCli(['train', '--name', 'flag-check', ...args], {
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
      // A flag check that wrongly passes would start a real training run; fail instead of waiting for it.
      timeoutMs: 120_000,
    });

  it('rejects a stage budget on an epoch schedule, or a zero budget, before training', () => {
    const a = trainCli('--schedule', 'paper', '--seg-minutes', '45');
    expect(a.status).toBe(1);
    expect(a.stderr).toMatch(/--seg-minutes sets the time budget of a time-budget schedule/);
    const b = trainCli('--dist-epochs', '3', '--dist-minutes', '10');
    expect(b.stderr).toMatch(/--dist-minutes sets the time budget/);
    const c = trainCli('--seg-minutes', '0');
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/option '--seg-minutes <m>' argument '0' is invalid\. Expected a number > 0/);
  });

  it("writes a model folder that keeps each stage's run record without the checkpoints", () => {
    const dir = tmp();
    const out = join(dir, 'model');
    const r = trainCli(
      ...['--schedule', 'paper', '--seg-epochs', '2', '--dist-epochs', '1', '--steps-per-epoch', '2'],
      ...['--input-size', '64', '--max-train-images', '2', '--no-progress'],
      ...['--run-dir', join(dir, 'run'), '--out', out],
    );
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
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
