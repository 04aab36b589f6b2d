import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRng } from '../src/augment/rng.ts';
import { REPO_ROOT } from '../src/config.ts';
import { loadTf } from '../src/model/backend.ts';
import { seededDropout } from '../src/model/dropout.ts';
import { fromFloat16, toFloat16 } from '../src/model/float16.ts';
import { distLoss, segLoss, segLoss3 } from '../src/model/losses.ts';
import {
  budgetLearningRate,
  learningRate,
  PAPER_DIST,
  PAPER_SEG,
  stepLearningRate,
  type TrainingSchedule,
} from '../src/model/schedule.ts';
import { createUNet, unetLayers, unetParamCount, unetParamShapes } from '../src/model/unet.ts';

const tf = loadTf();

describe('U-Net layout', () => {
  // The split, written out from the layer list in docs/model.md: a k x k conv (or transposed conv)
  // from cin to cout channels has k*k*cin*cout weights and cout biases.
  it('has exactly 1,941,105 trainable parameters (docs/model.md), split by block as the layers imply', () => {
    const conv = (k: number, cin: number, cout: number) => k * k * cin * cout + cout;
    const filters = [16, 32, 64, 128, 256];
    const enc = filters.reduce((s, f, i) => s + conv(3, i ? filters[i - 1]! : 3, f) + conv(3, f, f), 0);
    const dec = [128, 64, 32, 16];
    const up = dec.reduce((s, f) => s + conv(2, 2 * f, f), 0);
    // Each decoder block sees the upsampled map concatenated with the skip: 2f channels in.
    const decConvs = dec.reduce((s, f) => s + conv(3, 2 * f, f) + conv(3, f, f), 0);
    expect([enc, up, decConvs, conv(1, 16, 1)]).toEqual([1_178_768, 174_320, 588_000, 17]);
    expect(unetParamCount()).toBe(1_941_105);
    const count = (pred: (n: string) => boolean) =>
      unetParamShapes()
        .filter((p) => pred(p.name))
        .reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
    expect(count((n) => n.startsWith('enc'))).toBe(enc);
    expect(count((n) => n.includes('_up/'))).toBe(up);
    expect(count((n) => n.startsWith('dec') && !n.includes('_up/'))).toBe(decConvs);
    expect(count((n) => n.startsWith('out/'))).toBe(conv(1, 16, 1));
  });

  it('follows the Keras U-Net starter layer sequence', () => {
    const seq = unetLayers().map((l) =>
      l.kind === 'conv'
        ? `conv${l.k}x${l.k}:${l.outC}`
        : l.kind === 'dropout'
          ? `drop${l.rate}`
          : l.kind === 'convT'
            ? `up:${l.outC}`
            : l.kind,
    );
    const block = (f: number, r: number) => [`conv3x3:${f}`, `drop${r}`, `conv3x3:${f}`];
    expect(seq).toEqual([
      ...block(16, 0.1),
      'maxpool',
      ...block(32, 0.1),
      'maxpool',
      ...block(64, 0.2),
      'maxpool',
      ...block(128, 0.2),
      'maxpool',
      ...block(256, 0.3),
      'up:128',
      'concat',
      ...block(128, 0.2),
      'up:64',
      'concat',
      ...block(64, 0.2),
      'up:32',
      'concat',
      ...block(32, 0.1),
      'up:16',
      'concat',
      ...block(16, 0.1),
      'conv1x1:1',
    ]);
  });

  it('maps NHWC input to one channel of the same size; sigmoid output in (0, 1)', () => {
    const net = createUNet(tf, 'sigmoid', createRng(3));
    const x = tf.randomUniform([1, 32, 48, 3]) as import('@tensorflow/tfjs-node').Tensor4D;
    const before = tf.memory().numTensors;
    const y = net.predict(x);
    expect(y.shape).toEqual([1, 32, 48, 1]);
    const v = y.dataSync();
    expect(Math.min(...v)).toBeGreaterThan(0);
    expect(Math.max(...v)).toBeLessThan(1);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    expect(() => net.forward(tf.zeros([1, 20, 32, 3]))).toThrow(/multiples of 16, got 20x32/);
    net.dispose();
  });

  it('predicts exactly what the forward pass gives, and leaves only its output behind', () => {
    type T4 = import('@tensorflow/tfjs-node').Tensor4D;
    for (const kind of ['sigmoid', 'linear'] as const) {
      const net = createUNet(tf, kind, createRng(11));
      const x = tf.randomUniform([1, 128, 96, 3], 0, 1, 'float32', 4) as T4;
      const a = tf.tidy(() => (kind === 'sigmoid' ? tf.sigmoid(net.forward(x)) : net.forward(x)) as T4);
      const before = tf.memory().numTensors;
      const b = net.predict(x);
      expect(tf.memory().numTensors).toBe(before + 1);
      expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
      for (const t of [a, b, x]) t.dispose();
      net.dispose();
    }
  });

  it('predicts a 1088 px window with both nets under 2 GB peak RSS (2.95 GB when every activation was kept)', () => {
    // Measured 2026-12-04 by this probe: 1,009 MB lean, 2,954 MB with the tidy-scoped forward pass it replaced.
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'testing', 'predict-rss.ts'), '1088'],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
      },
    );
    const { maxRssMB } = JSON.parse(out.trim().split('\n').pop()!) as { maxRssMB: number };
    expect(maxRssMB).toBeLessThan(2000);
  });

  it('initialises he_normal deterministically from the seed', () => {
    const a = createUNet(tf, 'linear', createRng(5));
    const b = createUNet(tf, 'linear', createRng(5));
    const wa = a.params[2]!.dataSync() as Float32Array;
    expect(Array.from(wa)).toEqual(Array.from(b.params[2]!.dataSync()));
    // enc1_conv2 kernel: fan_in 144, std sqrt(2/144) = 0.118 (truncated at 2 sd, rescaled)
    const std = Math.sqrt(wa.reduce((s, x) => s + x * x, 0) / wa.length);
    expect(std).toBeGreaterThan(0.1);
    expect(std).toBeLessThan(0.135);
    a.dispose();
    b.dispose();
  });
});

describe('seeded dropout', () => {
  it('gives the same mask for the same seed and a different one for another seed, with mean preserved', () => {
    const x = tf.ones([1, 64, 64, 16]) as import('@tensorflow/tfjs-node').Tensor4D;
    const m1 = seededDropout(tf, 42).apply('t', 0.2, x).dataSync() as Float32Array;
    const m2 = seededDropout(tf, 42).apply('t', 0.2, x).dataSync();
    const m3 = seededDropout(tf, 43).apply('t', 0.2, x).dataSync();
    expect(Array.from(m1)).toEqual(Array.from(m2));
    expect(Array.from(m1)).not.toEqual(Array.from(m3));
    const dropped = m1.filter((v) => v === 0).length / m1.length;
    expect(dropped).toBeGreaterThan(0.18);
    expect(dropped).toBeLessThan(0.22);
    const mean = m1.reduce((s, v) => s + v, 0) / m1.length;
    expect(mean).toBeGreaterThan(0.97);
    expect(mean).toBeLessThan(1.03);
  });
});

describe('losses', () => {
  it('segLoss = 0.5 BCE + (1 - soft Dice) on logits', () => {
    const y = tf.tensor([1, 0, 1, 0]);
    const logits = tf.tensor([2, -1, 0.5, 0.3]);
    const p = [2, -1, 0.5, 0.3].map((z) => 1 / (1 + Math.exp(-z)));
    const t = [1, 0, 1, 0];
    const bce = -p.reduce((s, pi, i) => s + (t[i]! * Math.log(pi) + (1 - t[i]!) * Math.log(1 - pi)), 0) / 4;
    const inter = p.reduce((s, pi, i) => s + pi * t[i]!, 0);
    const dice = (2 * inter + 1) / (p.reduce((a, b) => a + b, 0) + 2 + 1);
    expect(segLoss(tf, y, logits).dataSync()[0]).toBeCloseTo(0.5 * bce + 1 - dice, 5);
    expect(distLoss(tf, tf.tensor([0, 1]), tf.tensor([0.5, 0.5])).dataSync()[0]).toBeCloseTo(0.25, 6);
  });

  it('segLoss3 = 0.5 softmax CE + (1 - mean soft Dice of interior and boundary), worked by hand', () => {
    // Three pixels (1x1x3 batch), classes 0, 1, 2.
    const z = [
      [2, 0, -1],
      [0.5, 1.5, 0],
      [-1, 0, 1],
    ];
    const cls = [0, 1, 2];
    const p = z.map((r) => {
      const e = r.map(Math.exp);
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / s);
    });
    const ce = -cls.reduce((s, c, i) => s + Math.log(p[i]![c]!), 0) / 3;
    const dice = (k: number) => {
      const inter = cls.reduce((s, c, i) => s + (c === k ? p[i]![k]! : 0), 0);
      const ps = p.reduce((s, r) => s + r[k]!, 0);
      return (2 * inter + 1) / (ps + 1 + 1);
    };
    const want = 0.5 * ce + 1 - (dice(1) + dice(2)) / 2;
    const got = segLoss3(tf, tf.tensor(cls, [1, 1, 3, 1]), tf.tensor(z.flat(), [1, 1, 3, 3])).dataSync()[0];
    expect(got).toBeCloseTo(want, 5);
  });

  it('a three-class net has 1,941,139 parameters and predicts class probabilities that sum to 1', () => {
    expect(unetParamCount('softmax3')).toBe(1_941_139);
    expect(unetParamShapes('softmax3').at(-2)!.shape).toEqual([1, 1, 16, 3]);
    const net = createUNet(tf, 'softmax3', createRng(5));
    const x = tf.randomUniform([1, 32, 32, 3]) as import('@tensorflow/tfjs-node').Tensor4D;
    const y = net.predict(x);
    expect(y.shape).toEqual([1, 32, 32, 3]);
    const v = y.dataSync();
    for (let i = 0; i < v.length; i += 3) expect(v[i]! + v[i + 1]! + v[i + 2]!).toBeCloseTo(1, 5);
    for (const t of [x, y]) t.dispose();
    net.dispose();
  });
});

describe('schedules', () => {
  it('steps the lr x0.4 every 80 epochs (seg) and at 60 (dist) as the paper', () => {
    expect(learningRate(PAPER_SEG, 0)).toBe(1e-3);
    expect(learningRate(PAPER_SEG, 79)).toBe(1e-3);
    expect(learningRate(PAPER_SEG, 80)).toBeCloseTo(4e-4, 12);
    expect(learningRate(PAPER_SEG, 239)).toBeCloseTo(1.6e-4, 12);
    expect(learningRate(PAPER_DIST, 59)).toBe(1e-3);
    expect(learningRate(PAPER_DIST, 60)).toBeCloseTo(4e-4, 12);
  });

  it('minutes budgets drop at equal fractions of the elapsed budget, as many times as lrSchedule.drops', () => {
    const m: TrainingSchedule = {
      ...PAPER_SEG,
      epochs: undefined,
      minutes: 45,
      lrSchedule: { factor: 0.4, drops: 2 },
    };
    expect(budgetLearningRate(m, 0.3)).toBe(1e-3);
    expect(budgetLearningRate(m, 0.34)).toBeCloseTo(4e-4, 12);
    expect(budgetLearningRate(m, 0.67)).toBeCloseTo(1.6e-4, 12);
    expect(budgetLearningRate(m, 1.5)).toBeCloseTo(1.6e-4, 12);
  });

  it('steps budgets drop after ceil(k * steps / (drops + 1)) steps, or after exactly lrSchedule.atSteps', () => {
    const s: TrainingSchedule = {
      ...PAPER_SEG,
      epochs: undefined,
      steps: 5888,
      lrSchedule: { factor: 0.4, drops: 2 },
    };
    const levels = (t: TrainingSchedule) =>
      [0, 1962, 1963, 3925, 3926, 5887].map(
        (d) =>
          // + 0 turns the -0 of level 0 into 0.
          Math.round(Math.log(stepLearningRate(t, d) / 1e-3) / Math.log(0.4)) + 0,
      );
    expect(levels(s)).toEqual([0, 0, 1, 1, 2, 2]);
    const at = { ...s, lrSchedule: { factor: 0.4, atSteps: [1963, 5887] } };
    expect(levels(at)).toEqual([0, 0, 1, 1, 1, 2]);
  });
});

describe('float16 weights', () => {
  // Expected bits cross-checked with numpy: np.float32(v).astype(np.float16).view(np.uint16).
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2.5, 0xc100],
    [0.1, 0x2e66],
    [65504, 0x7bff], // largest finite half
    [65519, 0x7bff], // just below the halfway point to 65536
    [65520, 0x7c00], // halfway, 0x7bff is odd: rounds up to +Inf
    [1e6, 0x7c00],
    [Number.POSITIVE_INFINITY, 0x7c00],
    [Number.NEGATIVE_INFINITY, 0xfc00],
    [Number.NaN, 0x7e00],
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // halfway between 0 and 2^-24: to even, 0
    [2 ** -25 * (1 + 2 ** -20), 0x0001], // just above that halfway point
    [1.5 * 2 ** -24, 0x0002], // halfway between 1 and 2 subnormal units: to even, 2
    [2.5 * 2 ** -24, 0x0002], // halfway between 2 and 3: to even, 2
    [1023 * 2 ** -24, 0x03ff], // largest subnormal
    [1023.5 * 2 ** -24, 0x0400], // halfway, rounds up into the smallest normal
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -26, 0x0000], // underflow keeps the sign
    [-(2 ** -26), 0x8000],
    [1e-40, 0x0000], // a float32 subnormal
    [1 + 2 ** -11, 0x3c00], // halfway above 1: to even, 1
    [1 + 3 * 2 ** -11, 0x3c02], // halfway between 0x3c01 and 0x3c02: to even
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above halfway
    [2 - 2 ** -11, 0x4000], // halfway, 0x3bff is odd: the mantissa carries into the exponent
  ];
  it('packs to the exact IEEE binary16 bits: signed zeros, subnormals, ties to even, overflow, Inf, NaN', () => {
    const bits = toFloat16(Float32Array.from(cases, ([v]) => v));
    expect(Array.from(bits, (b) => b.toString(16))).toEqual(cases.map(([, b]) => b.toString(16)));
  });
  it('unpacks every one of the 65,536 bit patterns exactly and packs it back to the same bits', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const f = fromFloat16(all);
    expect(Object.is(f[0x8000], -0)).toBe(true);
    expect([f[0x0001], f[0x03ff], f[0x0400], f[0x7bff], f[0xfc00]]).toEqual([
      2 ** -24,
      1023 * 2 ** -24,
      2 ** -14,
      65504,
      Number.NEGATIVE_INFINITY,
    ]);
    expect(Number.isNaN(f[0x7c01]!) && Number.isNaN(f[0xfe00]!)).toBe(true);
    const back = toFloat16(f);
    let bad = 0;
    for (let h = 0; h < 65536; h++) {
      const nan = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      // NaN payloads and signs are not kept: fromFloat16 gives the one JS NaN, which packs to 0x7e00.
      if (back[h] !== (nan ? 0x7e00 : h)) bad++;
    }
    expect(bad).toBe(0);
  });
});
