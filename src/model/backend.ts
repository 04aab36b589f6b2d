import { createRequire } from 'node:module';
import { UserError } from '../errors.ts';

// tfjs-node is CommonJS and loads a native addon; require keeps its load synchronous and lazy,
// so modules that never train do not pay for 800 MB of TensorFlow.
const require = createRequire(import.meta.url);

export type Tf = typeof import('@tensorflow/tfjs-node');

/**
 * The TensorFlow build loadTf loads. Only the CPU build is wired in: there is no GPU build
 * (tfjs-node-gpu) behind it yet, so nothing may claim to train on a GPU.
 */
export const TF_BUILD: { readonly package: string; readonly device: 'cpu' | 'gpu' } = {
  package: '@tensorflow/tfjs-node',
  device: 'cpu',
};

export interface BackendInfo {
  readonly backend: string;
  readonly native: boolean;
  readonly tfVersion: string;
  readonly error?: string;
}

let cached: Tf | undefined;

export interface LoadOptions {
  /** The process is going to train (asks for oneDNN; see loadTf). */
  readonly training?: boolean;
}

/** Loads @tensorflow/tfjs-node, or throws a UserError that says how to build its addon. */
export function loadTf(o: LoadOptions = {}): Tf {
  if (cached) return cached;
  // TensorFlow's own C++ log filter (2: warnings and errors only), not NucleiFlow configuration.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  // TensorFlow turns its oneDNN kernels on by itself only on CPUs with AVX512-VNNI/BF16 or AMX.
  // On an AVX2-only 2-core EPYC they make the 512^2 train step (batch 2) 1.6x faster, 3.0 -> 1.9 s,
  // but a whole-image prediction (batch 1, 1008^2) 1.45x slower, 1.06 -> 1.54 s: their batch-1
  // convolutions are slower. So a process that trains asks for them and one that only predicts
  // keeps TensorFlow's own choice. The first load decides for the whole process, and a
  // TF_ENABLE_ONEDNN_OPTS the user set always wins.
  if (o.training) process.env.TF_ENABLE_ONEDNN_OPTS ??= '1';
  try {
    cached = require(TF_BUILD.package) as Tf;
  } catch (err) {
    throw new UserError(
      `native TensorFlow could not be loaded (${(err as Error).message.split('\n')[0]}). Run 'npm run setup:tf' to build tfjs-node against the tensorflow-cpu wheel.`,
      { cause: err },
    );
  }
  return cached;
}

/** Reports which tfjs backend is active, without throwing. */
export function backendInfo(): BackendInfo {
  try {
    const tf = loadTf();
    return { backend: tf.getBackend(), native: tf.getBackend() === 'tensorflow', tfVersion: tf.version.tfjs };
  } catch (err) {
    return { backend: 'none', native: false, tfVersion: '-', error: (err as Error).message };
  }
}

/**
 * Training on the pure-JS backend is about 1000x slower than native TensorFlow; refuse unless
 * the caller explicitly allows it.
 */
export function requireNativeBackend(allowJs: boolean, o: LoadOptions = {}): Tf {
  const tf = loadTf(o);
  if (tf.getBackend() !== 'tensorflow' && !allowJs) {
    throw new UserError(
      `tfjs backend is '${tf.getBackend()}', not native 'tensorflow': training would be about 1000x slower. Run 'npm run setup:tf', or set NUCLEIFLOW_ALLOW_JS_BACKEND=1 to train anyway.`,
    );
  }
  return tf;
}
