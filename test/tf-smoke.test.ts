import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../src/config.ts';
import { loadTf, requireNativeBackend } from '../src/model/backend.ts';

/** Loads TensorFlow in a fresh process with TF's own INFO log on; returns that log and the flag it saw. */
function loadInChild(onednn: string | undefined, training: boolean): { log: string; flag: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, TF_CPP_MIN_LOG_LEVEL: '0' };
  delete env.TF_ENABLE_ONEDNN_OPTS;
  if (onednn !== undefined) env.TF_ENABLE_ONEDNN_OPTS = onednn;
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `const m = await import('./src/model/backend.ts'); m.loadTf({ training: ${training} }); console.log(String(process.env.TF_ENABLE_ONEDNN_OPTS));`,
    ],
    { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 60_000 },
  );
  if (r.status !== 0) throw new Error(`loading TensorFlow failed (${r.status}):\n${r.stderr}`);
  return { log: r.stderr, flag: r.stdout.trim() };
}

describe('native TensorFlow', () => {
  it('loads tfjs-node on the native tensorflow backend', () => {
    const tf = loadTf();
    expect(tf.getBackend()).toBe('tensorflow');
    expect(() => requireNativeBackend(false)).not.toThrow();
  });

  // TensorFlow enables oneDNN by itself only on AVX512-VNNI/AMX CPUs; on AVX2 it trains 1.6x faster
  // with it but predicts whole images 1.45x slower.
  it('asks for the oneDNN kernels in a training process, unless TF_ENABLE_ONEDNN_OPTS says otherwise', () => {
    const training = loadInChild(undefined, true);
    expect(training.flag).toBe('1');
    expect(training.log).toMatch(/oneDNN custom operations are on/);
    const off = loadInChild('0', true);
    expect(off.flag).toBe('0');
    expect(off.log).not.toMatch(/oneDNN custom operations are on/);
    // A process that only predicts leaves the choice to TensorFlow (on where the CPU has AVX512-VNNI or AMX).
    expect(loadInChild(undefined, false).flag).toBe('undefined');
  }, 120_000);

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
    const x = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 3);
    const y = tf.tidy(() => x.mean(3, true).greater(0.5).toFloat());
    type Tensor = import('@tensorflow/tfjs-node').Tensor;
    const lossOf = () => {
      const t = tf.tidy(() => tf.losses.sigmoidCrossEntropy(y, model.apply(x) as Tensor));
      const v = t.dataSync()[0]!;
      t.dispose();
      return v;
    };
    const start = tf.memory().numTensors;
    const opt = tf.train.adam(0.05);
    const step = () =>
      tf.tidy(() => {
        opt.minimize(
          () =>
            tf.metrics
              .binaryCrossentropy(y, model.apply(x) as Tensor)
              .mean() as import('@tensorflow/tfjs-node').Scalar,
        );
      });
    const before = lossOf();
    for (let i = 0; i < 5; i++) step();
    const after = lossOf();
    expect(Number.isFinite(after)).toBe(true);
    expect(after).toBeLessThan(before);
    // Adam holds two scalars (its beta powers) and, from the first step on, two moments per weight;
    // nothing else may survive a step.
    const kept = 2 + 2 * model.trainableWeights.length;
    expect(model.trainableWeights.length).toBe(4);
    expect(tf.memory().numTensors).toBe(start + kept);
    step();
    expect(tf.memory().numTensors).toBe(start + kept);
    opt.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});
