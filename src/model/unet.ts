// U-Net (Ronneberger et al., MICCAI 2015) in the "Keras U-Net starter" layout used by Mahbod et al., ISBI 2019.
//
// Written with raw tfjs ops and explicit variables (not tf.layers) so that every piece of state a
// checkpoint must hold (weights, optimiser moments, dropout randomness) is owned by this code.
// Layout (NHWC, same padding, ELU, he_normal): five encoder blocks conv3x3 -> dropout -> conv3x3 with
// 16/32/64/128/256 filters (dropout 0.1/0.1/0.2/0.2/0.3) and 2x2 max-pooling between them; four
// decoder blocks Conv2DTranspose 2x2 stride 2 -> concat skip -> conv3x3 -> dropout -> conv3x3 with
// 128/64/32/16 filters (dropout 0.2/0.2/0.1/0.1); a 1x1 output convolution with one channel, or three
// for the three-class stage-1 variant (background / interior / boundary, softmax).
// Parameters: 1,178,768 encoder + 174,320 transposed + 588,000 decoder + 17 output = 1,941,105; with
// three output channels 51 output, 1,941,139.
import type { Tf } from './backend.ts';
import type { DropoutMasks } from './dropout.ts';

type Tensor4D = import('@tensorflow/tfjs-node').Tensor4D;
type Variable = import('@tensorflow/tfjs-node').Variable;

/** One entry of the layer sequence; weight shapes follow tfjs conventions. */
export type LayerSpec =
  | { kind: 'conv'; name: string; inC: number; outC: number; k: 1 | 3; activation: 'elu' | 'output' }
  | { kind: 'dropout'; name: string; rate: number }
  | { kind: 'maxpool'; name: string }
  | { kind: 'convT'; name: string; inC: number; outC: number }
  | { kind: 'concat'; name: string; skip: string };

/**
 * What the output means: segmentation probability (one channel), normalised distance (one channel),
 * or scores of background / interior / boundary (three channels, src/groundtruth/three-class.ts).
 */
export type OutputKind = 'sigmoid' | 'linear' | 'softmax3';

/** Output channels of a kind. */
export function outputChannels(output: OutputKind): number {
  return output === 'softmax3' ? 3 : 1;
}

const ENC_FILTERS = [16, 32, 64, 128, 256] as const;
const ENC_DROPOUT = [0.1, 0.1, 0.2, 0.2, 0.3] as const;
const DEC_FILTERS = [128, 64, 32, 16] as const;
const DEC_DROPOUT = [0.2, 0.2, 0.1, 0.1] as const;

/** The exact layer sequence; `unet.test.ts` asserts it and the parameter count. */
export function unetLayers(output: OutputKind = 'sigmoid'): LayerSpec[] {
  const layers: LayerSpec[] = [];
  let inC = 3;
  ENC_FILTERS.forEach((f, i) => {
    const b = `enc${i + 1}`;
    layers.push({ kind: 'conv', name: `${b}_conv1`, inC, outC: f, k: 3, activation: 'elu' });
    layers.push({ kind: 'dropout', name: `${b}_drop`, rate: ENC_DROPOUT[i]! });
    layers.push({ kind: 'conv', name: `${b}_conv2`, inC: f, outC: f, k: 3, activation: 'elu' });
    if (i < ENC_FILTERS.length - 1) layers.push({ kind: 'maxpool', name: `${b}_pool` });
    inC = f;
  });
  DEC_FILTERS.forEach((f, i) => {
    const b = `dec${i + 1}`;
    layers.push({ kind: 'convT', name: `${b}_up`, inC, outC: f });
    layers.push({ kind: 'concat', name: `${b}_concat`, skip: `enc${ENC_FILTERS.length - 1 - i}_conv2` });
    layers.push({ kind: 'conv', name: `${b}_conv1`, inC: 2 * f, outC: f, k: 3, activation: 'elu' });
    layers.push({ kind: 'dropout', name: `${b}_drop`, rate: DEC_DROPOUT[i]! });
    layers.push({ kind: 'conv', name: `${b}_conv2`, inC: f, outC: f, k: 3, activation: 'elu' });
    inC = f;
  });
  layers.push({ kind: 'conv', name: 'out', inC, outC: outputChannels(output), k: 1, activation: 'output' });
  return layers;
}

/** Name and shape of every trainable tensor, in a fixed order (the checkpoint order). */
export function unetParamShapes(
  output: OutputKind = 'sigmoid',
): { name: string; shape: number[]; fanIn: number }[] {
  const out: { name: string; shape: number[]; fanIn: number }[] = [];
  for (const l of unetLayers(output)) {
    if (l.kind === 'conv') {
      out.push({ name: `${l.name}/kernel`, shape: [l.k, l.k, l.inC, l.outC], fanIn: l.k * l.k * l.inC });
      out.push({ name: `${l.name}/bias`, shape: [l.outC], fanIn: 0 });
    } else if (l.kind === 'convT') {
      // tfjs conv2dTranspose filters are [h, w, outChannels, inChannels]; Keras uses the same
      // layout and takes fan_in from the kernel's last two axes the same way.
      out.push({ name: `${l.name}/kernel`, shape: [2, 2, l.outC, l.inC], fanIn: 2 * 2 * l.outC });
      out.push({ name: `${l.name}/bias`, shape: [l.outC], fanIn: 0 });
    }
  }
  return out;
}

/** Total trainable parameters: 1,941,105 for this layout (1,941,139 with three output channels). */
export function unetParamCount(output: OutputKind = 'sigmoid'): number {
  return unetParamShapes(output).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
}

/** Minimal uniform source for initialisation; the run's seeded Rng satisfies it. */
export interface UniformSource {
  next(): number;
}

/**
 * he_normal as Keras draws it: a normal with stddev sqrt(2 / fan_in), truncated at two standard
 * deviations (resampled), and rescaled by 1/0.87962566 so the truncated variance matches.
 */
export function heNormalValues(count: number, fanIn: number, rng: UniformSource): Float32Array {
  const std = Math.sqrt(2 / fanIn) / 0.8796256610342398;
  const out = new Float32Array(count);
  for (let i = 0; i < count; ) {
    // Box-Muller; each pair of uniforms gives two normals.
    const u1 = rng.next() || Number.MIN_VALUE;
    const u2 = rng.next();
    const r = Math.sqrt(-2 * Math.log(u1));
    const z0 = r * Math.cos(2 * Math.PI * u2);
    const z1 = r * Math.sin(2 * Math.PI * u2);
    if (Math.abs(z0) <= 2) out[i++] = z0 * std;
    if (i < count && Math.abs(z1) <= 2) out[i++] = z1 * std;
  }
  return out;
}

export interface UNet {
  readonly output: OutputKind;
  /** Trainable variables in `unetParamShapes()` order. */
  readonly params: readonly Variable[];
  /**
   * Forward pass. `x` is float32 NHWC in [0, 1]; height and width must be multiples of 16.
   * Returns the pre-activation output (logits for 'sigmoid'): losses work on logits for stability.
   * `masks` supplies dropout masks in training; without it dropout is the identity (inference).
   */
  forward(x: Tensor4D, masks?: DropoutMasks): Tensor4D;
  /** Inference: sigmoid for a segmentation net, identity for distance, softmax over the channels for three classes. */
  predict(x: Tensor4D): Tensor4D;
  dispose(): void;
}

/**
 * `values` (another net's weights) for a net of `output`: unchanged when the layouts agree; when only
 * the output convolution differs (a three-class segmentation net starting a one-channel distance net),
 * the body is kept and the head drawn afresh (he_normal kernel from `rng`, zero bias).
 */
export function fitHead(
  values: readonly Float32Array[],
  output: OutputKind,
  rng: UniformSource,
): Float32Array[] {
  const shapes = unetParamShapes(output);
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  if (values.length !== shapes.length)
    throw new RangeError(`U-Net weights: expected ${shapes.length} tensors, got ${values.length}`);
  const body = shapes.length - 2;
  for (let i = 0; i < body; i++)
    if (values[i]!.length !== size(shapes[i]!.shape))
      throw new RangeError(
        `U-Net weights: ${shapes[i]!.name} has ${values[i]!.length} values, expected ${size(shapes[i]!.shape)}`,
      );
  const [k, b] = [shapes[body]!, shapes[body + 1]!];
  if (values[body]!.length === size(k.shape) && values[body + 1]!.length === size(b.shape))
    return [...values];
  return [
    ...values.slice(0, body),
    heNormalValues(size(k.shape), k.fanIn, rng),
    new Float32Array(size(b.shape)),
  ];
}

/** Builds a U-Net with he_normal kernels and zero biases drawn from `rng`. */
export function createUNet(tf: Tf, output: OutputKind, rng: UniformSource): UNet {
  const values = unetParamShapes(output).map((p) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    return p.fanIn === 0 ? new Float32Array(n) : heNormalValues(n, p.fanIn, rng);
  });
  return unetFromValues(tf, output, values);
}

/** Builds a U-Net from flat float32 arrays in `unetParamShapes()` order (checkpoint or shipped model). */
export function unetFromValues(tf: Tf, output: OutputKind, values: readonly Float32Array[]): UNet {
  const shapes = unetParamShapes(output);
  if (values.length !== shapes.length) {
    throw new RangeError(`U-Net weights: expected ${shapes.length} tensors, got ${values.length}`);
  }
  const params = shapes.map((p, i) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (values[i]!.length !== n) {
      throw new RangeError(
        `U-Net weights: ${p.name} has ${values[i]!.length} values, expected ${n} for [${p.shape}]`,
      );
    }
    const init = tf.tensor(values[i]!, p.shape, 'float32');
    const v = tf.variable(init, true, `${p.name}_${uid++}`);
    // The variable keeps its own reference to the buffer; drop the temporary's.
    init.dispose();
    return v;
  });
  const byName = new Map(shapes.map((p, i) => [p.name, params[i]!]));
  const layers = unetLayers(output);
  const w = (n: string) => byName.get(n)! as unknown as import('@tensorflow/tfjs-node').Tensor4D;
  const b = (n: string) => byName.get(n)! as unknown as import('@tensorflow/tfjs-node').Tensor1D;

  const checkInput = (x: Tensor4D) => {
    if (x.shape[1] % 16 !== 0 || x.shape[2] % 16 !== 0) {
      throw new RangeError(
        `U-Net input: height and width must be multiples of 16, got ${x.shape[1]}x${x.shape[2]}`,
      );
    }
  };
  /** Concat layers' skip sources: the only activations kept beyond the next layer. */
  const skipSources = new Set(layers.flatMap((l) => (l.kind === 'concat' ? [l.skip] : [])));

  /**
   * The layer walk. With `free` (inference), each activation is disposed once the next layer has it (a skip source
   * once its concat has run), so peak memory is the skips plus two layers' activations instead of every
   * intermediate of the pass; without (training), nothing is, as the gradient needs them, and `masks` applies
   * dropout. The same ops in the same order either way, so the outputs are bit-identical.
   */
  const pass = (x: Tensor4D, masks: DropoutMasks | undefined, free: boolean): Tensor4D => {
    checkInput(x);
    const skips = new Map<string, Tensor4D>();
    const kept = new Set<Tensor4D>();
    let h = x;
    const release = (t: Tensor4D) => {
      if (free && t !== x && !kept.has(t)) t.dispose();
    };
    const advance = (next: Tensor4D) => {
      const prev = h;
      h = next;
      release(prev);
    };
    for (const l of layers) {
      switch (l.kind) {
        case 'conv': {
          const c = tf.conv2d(h, w(`${l.name}/kernel`), 1, 'same');
          const z = tf.add(c, b(`${l.name}/bias`)) as Tensor4D;
          release(c);
          if (l.activation === 'elu') {
            advance(tf.elu(z));
            release(z);
          } else advance(z);
          if (skipSources.has(l.name)) {
            skips.set(l.name, h);
            kept.add(h);
          }
          break;
        }
        case 'dropout':
          if (masks) advance(masks.apply(l.name, l.rate, h));
          break;
        case 'maxpool':
          advance(tf.maxPool(h, 2, 2, 'valid'));
          break;
        case 'convT': {
          const [n, hh, ww] = h.shape;
          const y = tf.conv2dTranspose(h, w(`${l.name}/kernel`), [n, hh * 2, ww * 2, l.outC], 2, 'same');
          advance(tf.add(y, b(`${l.name}/bias`)) as Tensor4D);
          release(y);
          break;
        }
        case 'concat': {
          const skip = skips.get(l.skip)!;
          advance(tf.concat([h, skip], 3));
          skips.delete(l.skip);
          kept.delete(skip);
          release(skip);
          break;
        }
      }
    }
    return h;
  };

  const forward = (x: Tensor4D, masks?: DropoutMasks): Tensor4D => pass(x, masks, false);

  const predict = (x: Tensor4D): Tensor4D =>
    tf.tidy(() => {
      const h = pass(x, undefined, true);
      if (output === 'linear') return h;
      const out = (output === 'sigmoid' ? tf.sigmoid(h) : tf.softmax(h)) as Tensor4D;
      if (h !== x) h.dispose();
      return out;
    });

  return {
    output,
    params,
    forward,
    predict,
    dispose: () => {
      for (const p of params) p.dispose();
    },
  };
}

let uid = 0;
