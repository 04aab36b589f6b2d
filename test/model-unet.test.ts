import { describe, expect, it } from 'vitest';
import { createRng } from '../src/augment/rng.ts';
import { loadTf } from '../src/model/backend.ts';
import { seededDropout } from '../src/model/dropout.ts';
import { fromFloat16, toFloat16 } from '../src/model/float16.ts';
import { distLoss, segLoss } from '../src/model/losses.ts';
import { budgetLearningRate, CPU60_SEG, learningRate, PAPER_DIST, PAPER_SEG } from '../src/model/schedule.ts';
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

  it('time-budget mode drops at thirds of the budget for the 3-level seg schedule', () => {
    expect(budgetLearningRate(CPU60_SEG, 0.3)).toBe(1e-3);
    expect(budgetLearningRate(CPU60_SEG, 0.34)).toBeCloseTo(4e-4, 12);
    expect(budgetLearningRate(CPU60_SEG, 0.67)).toBeCloseTo(1.6e-4, 12);
    expect(budgetLearningRate(CPU60_SEG, 1.5)).toBeCloseTo(1.6e-4, 12);
  });
});

describe('float16 weights', () => {
  it('round-trips within half precision and keeps specials', () => {
    const x = Float32Array.from([
      0,
      -0,
      1,
      -2.5,
      65504,
      1e-8,
      6.1e-5,
      0.1,
      2.5625,
      Number.POSITIVE_INFINITY,
      1e6,
    ]);
    const y = fromFloat16(toFloat16(x));
    expect(y[2]).toBe(1);
    expect(y[3]).toBe(-2.5);
    expect(y[4]).toBe(65504);
    expect(y[7]).toBeCloseTo(0.1, 3);
    expect(y[8]).toBeCloseTo(2.5625, 2);
    expect(y[9]).toBe(Number.POSITIVE_INFINITY);
    expect(y[10]).toBe(Number.POSITIVE_INFINITY);
    expect(Math.abs(y[6]! - 6.1e-5)).toBeLessThan(1e-7);
  });
});
