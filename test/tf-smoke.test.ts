import { describe, expect, it } from 'vitest';
import { loadTf, requireNativeBackend } from '../src/model/backend.ts';

describe('native TensorFlow', () => {
  it('loads tfjs-node on the native tensorflow backend', () => {
    const tf = loadTf();
    expect(tf.getBackend()).toBe('tensorflow');
    expect(() => requireNativeBackend(false)).not.toThrow();
  });

  it('refuses to train on the pure-JS backend unless explicitly allowed', async () => {
    const tf = loadTf();
    await tf.setBackend('cpu');
    try {
      expect(() => requireNativeBackend(false)).toThrow(
        /not native 'tensorflow'.*NUCLEIFLOW_ALLOW_JS_BACKEND=1/,
      );
      expect(requireNativeBackend(true).getBackend()).toBe('cpu');
    } finally {
      await tf.setBackend('tensorflow');
    }
  });

  it('trains one step of a tiny conv net and lowers its loss', () => {
    const tf = loadTf();
    tf.setBackend('tensorflow');
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [16, 16, 3],
          filters: 4,
          kernelSize: 3,
          padding: 'same',
          activation: 'relu',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
        }),
        tf.layers.conv2d({
          filters: 1,
          kernelSize: 1,
          activation: 'sigmoid',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
        }),
      ],
    });
    const opt = tf.train.adam(0.05);
    const x = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 3);
    const y = tf.tidy(() => x.mean(3, true).greater(0.5).toFloat());
    const lossOf = () =>
      tf.tidy(() =>
        tf.losses.sigmoidCrossEntropy(y, model.apply(x) as import('@tensorflow/tfjs-node').Tensor),
      );
    const before = lossOf().dataSync()[0]!;
    const tensorsBefore = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      tf.tidy(() => {
        opt.minimize(
          () =>
            tf.metrics
              .binaryCrossentropy(y, model.apply(x) as import('@tensorflow/tfjs-node').Tensor)
              .mean() as import('@tensorflow/tfjs-node').Scalar,
        );
      });
    }
    const after = lossOf().dataSync()[0]!;
    expect(Number.isFinite(after)).toBe(true);
    expect(after).toBeLessThan(before);
    // Adam creates its slot variables on the first step only; later steps must not leak.
    tf.tidy(() => {
      opt.minimize(
        () =>
          tf.metrics
            .binaryCrossentropy(y, model.apply(x) as import('@tensorflow/tfjs-node').Tensor)
            .mean() as import('@tensorflow/tfjs-node').Scalar,
      );
    });
    const settled = tf.memory().numTensors;
    tf.tidy(() => {
      opt.minimize(
        () =>
          tf.metrics
            .binaryCrossentropy(y, model.apply(x) as import('@tensorflow/tfjs-node').Tensor)
            .mean() as import('@tensorflow/tfjs-node').Scalar,
      );
    });
    expect(tf.memory().numTensors).toBe(settled);
    expect(settled).toBeGreaterThanOrEqual(tensorsBefore);
  });
});
