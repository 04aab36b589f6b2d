// Training loop for the two U-Nets of Mahbod et al., ISBI 2019: Adam, step lr schedule, a checkpoint after every epoch.
//
// Determinism: one seeded Rng (src/augment/rng.ts) drives initialisation, batch sampling,
// augmentation and dropout, in a fixed order; its state is checkpointed with the weights and the
// Adam moments at every epoch boundary. A run killed at any point resumes from the last complete
// epoch and replays exactly the same random choices; with the same native TensorFlow build on the
// same machine the CPU kernels are deterministic, so the final weights are bit-identical (tested in
// test/model-resume.test.ts).
//
// Budgets (src/model/schedule.ts): an epochs budget runs that many epochs; a steps budget stops
// after exactly that many optimiser steps (the last epoch is cut short when the count is not a
// multiple of the epoch), with the lr a function of the step count, so a resumed run is
// bit-identical to an uninterrupted one; a minutes budget stops at the first epoch boundary where
// one more epoch of the mean length so far would pass the wall-clock budget, counted over all
// sessions (the checkpoint keeps the wall and machine seconds), and drops the lr at equal fractions
// of the elapsed time. Every
// run records the steps after which the lr changed (`lrDrops`), so a minutes run can be replayed
// as a steps budget with `lrSchedule.atSteps`.
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import cliProgress from 'cli-progress';
import { createRng, type Rng, restoreRng } from '../augment/rng.ts';
import { UserError } from '../errors.ts';
import { Adam } from './adam.ts';
import type { Tf } from './backend.ts';
import { requireNativeBackend } from './backend.ts';
import type { Batch, BatchSource, Stage } from './batch.ts';
import {
  type Checkpoint,
  CheckpointError,
  type EpochMetrics,
  loadCheckpoint,
  saveCheckpoint,
  type WriteFn,
} from './checkpoint.ts';
import { seededDropout } from './dropout.ts';
import { distLoss, segLoss, segLoss3 } from './losses.ts';
import {
  type Budget,
  budgetLearningRate,
  budgetOf,
  learningRate,
  stepLearningRate,
  stepsPerEpoch,
  type TrainingSchedule,
} from './schedule.ts';
import { createUNet, fitHead, type OutputKind, type UNet, unetFromValues } from './unet.ts';

export type { EpochMetrics } from './checkpoint.ts';

export interface TrainOptions {
  readonly stage: Stage;
  readonly schedule: TrainingSchedule;
  readonly seed: number;
  readonly data: BatchSource;
  /**
   * Identity of everything else that decides the result (data, preprocessing, augmentation, ground
   * truth). Combined with stage, schedule and seed into the checkpoint's config hash.
   */
  readonly configHash: string;
  /** Where checkpoint.nfck lives; without it nothing is written and nothing resumed. */
  readonly checkpointDir?: string;
  /** Continue from checkpointDir's checkpoint when there is one (default true). */
  readonly resume?: boolean;
  /** Aborting stops at the next step boundary; the last epoch's checkpoint stays valid. */
  readonly signal?: AbortSignal;
  /** Called after every epoch, after its checkpoint is on disk (the platform heartbeats here). */
  readonly onEpoch?: (m: EpochMetrics) => void | Promise<void>;
  /**
   * Start from these weights (unetParamShapes() order) instead of he_normal, e.g. the seg net for dist;
   * a different output head is drawn afresh (unet.ts fitHead).
   */
  readonly initialWeights?: readonly Float32Array[];
  /**
   * The net's output: for `seg` 'sigmoid' (default, 0.5 BCE + Dice on a binary target) or 'softmax3'
   * (three classes, losses.ts segLoss3, the batches' y holding class indices); `dist` is always 'linear'.
   */
  readonly output?: OutputKind;
  /** Progress bar on stderr; default: when stderr is a TTY. */
  readonly progress?: boolean;
  /** Test hook: replaces the atomic file write of checkpoints. */
  readonly writeCheckpoint?: WriteFn;
  readonly allowJsBackend?: boolean;
}

export interface TrainResult {
  readonly stage: Stage;
  /** Final weights in unetParamShapes() order. */
  readonly weights: Float32Array[];
  readonly budget: Budget;
  /** Epochs the budget plans; null for a minutes budget. */
  readonly epochsPlanned: number | null;
  /** Epochs completed in total (including those before a resume); the last may be cut short by a steps budget. */
  readonly epochsRun: number;
  /** Epoch the run resumed from (0 for a fresh start). */
  readonly resumedFrom: number;
  readonly steps: number;
  /** Step counts after which the lr changed, over all sessions (ascending). */
  readonly lrDrops: number[];
  /** Wall time over all sessions of this run. */
  readonly wallSeconds: number;
  /** Machine time: process CPU seconds (all threads) / cores, over all sessions. */
  readonly cpuSeconds: number;
  readonly history: EpochMetrics[];
  readonly configHash: string;
}

/** The hash stored in checkpoints: caller's config + stage + schedule + seed. */
export function runConfigHash(o: Pick<TrainOptions, 'stage' | 'schedule' | 'seed' | 'configHash'>): string {
  const s = o.schedule;
  const l = s.lrSchedule;
  const canon = JSON.stringify([
    o.configHash,
    o.stage,
    o.seed,
    s.epochs ?? null,
    s.batchSize,
    s.inputSize,
    s.stepsPerEpoch ?? null,
    s.lr,
    l.every ?? null,
    l.factor,
    // Two former time-budget fields, kept as nulls so epoch-budget checkpoints keep their hash.
    null,
    null,
    // Appended only when off, so checkpoints of runs with dropout keep their hash.
    ...(s.dropout === false ? ['no-dropout'] : []),
    // Appended only when given, for the same reason.
    ...(s.steps !== undefined ? ['steps', s.steps] : []),
    ...(s.minutes !== undefined ? ['minutes', s.minutes] : []),
    ...(l.drops !== undefined ? ['drops', l.drops] : []),
    ...(l.atSteps !== undefined ? ['atSteps', l.atSteps] : []),
  ]);
  return createHash('sha256').update(canon).digest('hex');
}

function checkSchedule(s: TrainingSchedule): Budget {
  let budget: Budget;
  try {
    budget = budgetOf(s);
  } catch (err) {
    throw new UserError(`training: ${(err as Error).message}`);
  }
  if (budget.kind !== 'minutes' && (!Number.isInteger(budget.value) || budget.value < 1))
    throw new UserError(`training: ${budget.kind} must be an integer >= 1, got ${budget.value}`);
  if (!(budget.value > 0)) throw new UserError(`training: minutes must be > 0, got ${budget.value}`);
  if (!Number.isInteger(s.batchSize) || s.batchSize < 1)
    throw new UserError(`training: batchSize must be >= 1, got ${s.batchSize}`);
  if (!Number.isInteger(s.inputSize) || s.inputSize < 16 || s.inputSize % 16 !== 0) {
    throw new UserError(`training: inputSize must be a multiple of 16, got ${s.inputSize}`);
  }
  return budget;
}

function lossFn(tf: Tf, output: OutputKind) {
  if (output === 'softmax3') return segLoss3.bind(null, tf);
  return output === 'sigmoid' ? segLoss.bind(null, tf) : distLoss.bind(null, tf);
}

function toTensors(tf: Tf, b: Batch) {
  return {
    x: tf.tensor4d(b.x, [b.batch, b.size, b.size, 3]),
    y: tf.tensor4d(b.y, [b.batch, b.size, b.size, 1]),
  };
}

/** A uint32 drawn from the run's Rng (dropout seed of one step). */
function nextSeed(rng: Rng): number {
  return Math.floor(rng.next() * 4294967296) >>> 0;
}

/**
 * One optimiser step on `b` with dropout masks from `dropoutSeed` (no dropout when `dropout` is
 * false), with the loss of the net's output kind; resolves with the batch loss. Leaves no tensors
 * behind. Exported for the benchmark, which times exactly this.
 */
export async function trainStep(
  tf: Tf,
  net: UNet,
  adam: Adam,
  b: Batch,
  dropoutSeed: number,
  lr: number,
  dropout = true,
): Promise<number> {
  const loss = lossFn(tf, net.output);
  const masks = dropout ? seededDropout(tf, dropoutSeed) : undefined;
  const value = tf.tidy(() => {
    const { x, y } = toTensors(tf, b);
    const { value, grads } = tf.variableGrads(() => loss(y, net.forward(x, masks)), [...net.params]);
    adam.apply(
      net.params.map((p) => grads[p.name]!),
      lr,
    );
    return value;
  });
  const lv = (await value.data())[0]!;
  value.dispose();
  return lv;
}

/** Trains one U-Net; see TrainOptions. Resolves with the final weights and the per-epoch history. */
export async function train(o: TrainOptions): Promise<TrainResult> {
  const budget = checkSchedule(o.schedule);
  const tf = requireNativeBackend(o.allowJsBackend ?? false, { training: true });
  const hash = runConfigHash(o);
  const spe = stepsPerEpoch(o.schedule, o.data.imageCount);
  const { batchSize, inputSize } = o.schedule;
  const epochsPlanned =
    budget.kind === 'epochs' ? budget.value : budget.kind === 'steps' ? Math.ceil(budget.value / spe) : null;

  const output: OutputKind = o.stage === 'dist' ? 'linear' : (o.output ?? 'sigmoid');
  if (o.stage === 'dist' && o.output !== undefined && o.output !== 'linear')
    throw new UserError(`training: the distance net's output is linear, got ${o.output}`);
  let ck: Checkpoint | undefined;
  if (o.checkpointDir && o.resume !== false) {
    ck = await loadCheckpoint(o.checkpointDir);
    if (ck && ck.header.configHash !== hash) {
      throw new CheckpointError(
        `${o.checkpointDir}/checkpoint.nfck`,
        `written by config ${ck.header.configHash.slice(0, 12)}, this run is ${hash.slice(0, 12)}; use another checkpoint dir or start without resume`,
      );
    }
    if (ck && ck.header.stage !== o.stage) {
      throw new CheckpointError(
        `${o.checkpointDir}/checkpoint.nfck`,
        `is a ${ck.header.stage} checkpoint, not ${o.stage}`,
      );
    }
  }

  let rng: Rng;
  let net: UNet;
  if (ck) {
    rng = restoreRng(ck.header.rngState);
    net = unetFromValues(tf, output, ck.weights);
  } else {
    rng = createRng(o.seed);
    net = o.initialWeights
      ? unetFromValues(tf, output, fitHead(o.initialWeights, output, rng))
      : createUNet(tf, output, rng);
  }
  const adam = new Adam(tf, net.params);
  if (ck) adam.setState({ t: ck.header.adamSteps, m: ck.m, v: ck.v });
  const history: EpochMetrics[] = ck ? [...ck.header.history] : [];
  const lrDrops: number[] = ck ? [...(ck.header.lrDrops ?? [])] : [];
  const startEpoch = ck?.header.epoch ?? 0;
  const priorWall = ck?.header.wallSeconds ?? 0;
  const priorCpu = ck?.header.cpuSeconds ?? 0;
  const cores = availableParallelism();
  const cpu0 = process.cpuUsage();
  /** Machine-seconds used so far: process CPU time (all threads) / cores, over all sessions. */
  const cpuSpent = () => {
    const u = process.cpuUsage(cpu0);
    return priorCpu + (u.user + u.system) / 1e6 / cores;
  };
  const loss = lossFn(tf, output);
  const t0 = performance.now();
  const wallSpent = () => priorWall + (performance.now() - t0) / 1000;
  const showBar = o.progress ?? process.stderr.isTTY === true;
  const bar = showBar
    ? new cliProgress.SingleBar(
        {
          format: `${o.stage} epoch {epoch}/${epochsPlanned ?? '?'} [{bar}] {value}/{total} steps | loss {loss} | lr {lr} | {eta}s left`,
          stream: process.stderr,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;

  let epoch = startEpoch;
  /** Wall seconds (all sessions) at the end of the last epoch, as its checkpoint records them. */
  let epochEndWall = priorWall;
  // The lr of the last step taken (before a resume: the last epoch's), to record where it changes.
  let prevLr: number | undefined = history.at(-1)?.lr;
  try {
    for (; ; epoch++) {
      let stepsNow = spe;
      let epochLr: number | undefined;
      if (budget.kind === 'epochs') {
        if (epoch >= budget.value) break;
        epochLr = learningRate(o.schedule, epoch);
      } else if (budget.kind === 'steps') {
        stepsNow = Math.min(spe, budget.value - adam.steps);
        if (stepsNow <= 0) break;
      } else {
        // Minutes budget: from the wall time W over all sessions when the last epoch ended (what its
        // checkpoint records) and the epochs E so far, the run ends when one more epoch of the mean
        // length would pass the budget: W + W / E > budget. The lr level is W / budget. Both are
        // functions of the checkpoint, so a resumed run decides as the uninterrupted one would.
        const wallCap = budget.value * 60;
        if (epoch > 0 && epochEndWall + epochEndWall / epoch > wallCap) break;
        epochLr = budgetLearningRate(o.schedule, epochEndWall / wallCap);
      }
      const e0 = performance.now();
      const lrOf = (done: number) => epochLr ?? stepLearningRate(o.schedule, done);
      bar?.start(stepsNow, 0, { epoch: epoch + 1, loss: '-', lr: lrOf(adam.steps).toExponential(1) });
      let lossSum = 0;
      let lr = lrOf(adam.steps);
      for (let s = 0; s < stepsNow; s++) {
        if (o.signal?.aborted) throw o.signal.reason ?? new Error('training aborted');
        lr = lrOf(adam.steps);
        if (prevLr !== undefined && lr !== prevLr) lrDrops.push(adam.steps);
        prevLr = lr;
        const b = o.data.sample(rng, o.stage, batchSize, inputSize);
        // The seed is drawn either way so that the Rng stream does not depend on the dropout switch.
        const lv = await trainStep(tf, net, adam, b, nextSeed(rng), lr, o.schedule.dropout !== false);
        if (!Number.isFinite(lv))
          throw new UserError(
            `${o.stage} training diverged: loss is ${lv} at epoch ${epoch + 1}, step ${s + 1}`,
          );
        lossSum += lv;
        bar?.update(s + 1, { loss: (lossSum / (s + 1)).toFixed(4), lr: lr.toExponential(1) });
        // Let timers, signals and the event loop run between native steps.
        await new Promise<void>((r) => setImmediate(r));
      }
      bar?.stop();
      const valLoss = await validate(tf, net, o.data.validation(o.stage, inputSize), loss);
      const seconds = (performance.now() - e0) / 1000;
      const m: EpochMetrics = {
        stage: o.stage,
        epoch: epoch + 1,
        epochs: epochsPlanned,
        loss: lossSum / stepsNow,
        valLoss,
        lr,
        seconds,
        imagesPerSecond: (stepsNow * batchSize) / seconds,
        steps: adam.steps,
        numTensors: tf.memory().numTensors,
        rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
      };
      history.push(m);
      epochEndWall = wallSpent();
      if (o.checkpointDir) {
        const weights = await readAll(net);
        const st = await adam.getState();
        await saveCheckpoint(
          o.checkpointDir,
          {
            header: {
              configHash: hash,
              stage: o.stage,
              ...(output === 'softmax3' ? { output } : {}),
              epoch: epoch + 1,
              adamSteps: st.t,
              rngState: rng.state(),
              wallSeconds: epochEndWall,
              cpuSeconds: cpuSpent(),
              history,
              lrDrops,
            },
            weights,
            m: st.m,
            v: st.v,
          },
          o.writeCheckpoint,
        );
      }
      await o.onEpoch?.(m);
    }
    const weights = await readAll(net);
    return {
      stage: o.stage,
      weights,
      budget,
      epochsPlanned,
      epochsRun: epoch,
      resumedFrom: startEpoch,
      steps: adam.steps,
      lrDrops,
      wallSeconds: wallSpent(),
      cpuSeconds: cpuSpent(),
      history,
      configHash: hash,
    };
  } finally {
    bar?.stop();
    adam.dispose();
    net.dispose();
  }
}

async function readAll(net: UNet): Promise<Float32Array[]> {
  return Promise.all(net.params.map(async (p) => Float32Array.from(await p.data())));
}

/** Mean inference-mode loss over fixed batches (no dropout); null when there are none. */
export async function validate(
  tf: Tf,
  net: UNet,
  batches: readonly Batch[],
  loss: (
    y: import('@tensorflow/tfjs-node').Tensor,
    p: import('@tensorflow/tfjs-node').Tensor,
  ) => import('@tensorflow/tfjs-node').Scalar,
): Promise<number | null> {
  if (batches.length === 0) return null;
  let sum = 0;
  for (const b of batches) {
    const v = tf.tidy(() => {
      const { x, y } = toTensors(tf, b);
      return loss(y, net.forward(x));
    });
    sum += (await v.data())[0]!;
    v.dispose();
  }
  return sum / batches.length;
}

/**
 * The same run as an async iterator of epoch events, for consumers that prefer `for await`.
 * The iterator's `return value` is the TrainResult.
 */
export async function* trainEvents(
  o: Omit<TrainOptions, 'onEpoch'>,
): AsyncGenerator<EpochMetrics, TrainResult> {
  const queue: EpochMetrics[] = [];
  let wake: (() => void) | undefined;
  let done = false;
  let result: TrainResult | undefined;
  let error: unknown;
  train({
    ...o,
    onEpoch: (m) => {
      queue.push(m);
      wake?.();
    },
  }).then(
    (r) => {
      result = r;
      done = true;
      wake?.();
    },
    (e: unknown) => {
      error = e;
      done = true;
      wake?.();
    },
  );
  for (;;) {
    if (queue.length > 0) {
      yield queue.shift()!;
      continue;
    }
    if (done) break;
    await new Promise<void>((r) => {
      wake = r;
    });
    wake = undefined;
  }
  if (error !== undefined) throw error;
  return result!;
}
