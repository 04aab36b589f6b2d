// A shipped two-stage model (Mahbod et al., ISBI 2019): both U-Nets' weights plus what inference needs to reproduce training's inputs.
//
// Folder layout: model.json (format, tensor list, stain target, per-file sha256), seg.bin and
// dist.bin (weights as little-endian float16 or float32, unetParamShapes() order), card.json
// (provenance and evaluation; written by the training/evaluation tools, not needed to run).
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../config.ts';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic-write.ts';
import type { SeedRule } from '../postprocess/grid.ts';
import type { PostprocessOptions } from '../postprocess/pipeline.ts';
import type { StainModel } from '../stain/macenko.ts';
import { fromFloat16, toFloat16 } from './float16.ts';
import { type OutputKind, unetParamShapes } from './unet.ts';

export const MODEL_FORMAT = 'nucleiflow-two-stage-unet-v1';

/** The model folder shipped in the repository: segment's model when the store has no `default` alias. */
export const SHIPPED_MODEL_DIR = join(REPO_ROOT, 'models', 'cpu-60min-c256');

/**
 * The scale every model is trained at: MoNuSeg's 40x slides at 0.2527 um/px (the scan resolution of
 * the Kumar et al. 2017 images). Inputs at another scale should be resampled to it.
 */
export const TRAINING_SCALE = {
  dataset: 'MoNuSeg 2018 training set (Kumar et al., IEEE TMI 2017)',
  micronsPerPixel: 0.2527,
  magnification: '40x',
} as const;

export interface ModelManifest {
  readonly format: typeof MODEL_FORMAT;
  readonly dtype: 'float16' | 'float32';
  /** The one-channel layout (the distance net's); a `segOutput: softmax3` net differs in its output head. */
  readonly tensors: readonly { name: string; shape: number[] }[];
  readonly files: { readonly seg: string; readonly dist: string };
  readonly sha256: { readonly seg: string; readonly dist: string };
  /** Macenko target of the training run; null when trained on raw colours. */
  readonly stainTarget: { stainMatrix: number[]; maxConc: number[] } | null;
  /** Free-form training summary (schedule, seed, ...), copied from the run. */
  readonly training?: unknown;
  /** Post-processing defaults chosen for this model on its training images (src/postprocess/tune.ts). */
  readonly postprocess?: TunedPostprocess;
  /**
   * The segmentation net's output when it is not one sigmoid channel: `softmax3`, background /
   * interior / boundary (its weights then have the three-channel head, unet.ts unetParamShapes).
   */
  readonly segOutput?: 'softmax3';
  /** How the nets are run by default: `tta` averages them over the 8 flips and rotations. Absent: one view. */
  readonly inference?: ModelInference;
}

export interface ModelInference {
  readonly tta: boolean;
}

/** The subset of PostprocessOptions a model may carry, each chosen on the model's training images. */
export interface TunedPostprocess {
  readonly threshold?: number;
  readonly sigmaScale?: number;
  readonly minDistanceScale?: number;
  readonly peakThreshold?: number;
  /** Pixels the instances grow into the background (PostprocessOptions.expand). */
  readonly expand?: number;
  /** The seed rule (PostprocessOptions.markers): fixed by the run's spec, or chosen with the rest. */
  readonly markers?: SeedRule;
  readonly chosenOn?: string;
}

export interface LoadedModel {
  readonly dir: string;
  readonly manifest: ModelManifest;
  readonly seg: Float32Array[];
  readonly dist: Float32Array[];
  readonly stainTarget: StainModel | null;
}

/** A model folder that cannot be used: names the folder and the problem. */
export class ModelDirError extends UserError {
  constructor(dir: string, problem: string, options?: { cause?: unknown }) {
    super(`model ${dir}: ${problem}`, options);
    this.name = 'ModelDirError';
  }
}

function pack(weights: readonly Float32Array[], dtype: 'float16' | 'float32'): Uint8Array {
  const n = weights.reduce((s, w) => s + w.length, 0);
  const flat = new Float32Array(n);
  let off = 0;
  for (const w of weights) {
    flat.set(w, off);
    off += w.length;
  }
  const arr = dtype === 'float16' ? toFloat16(flat) : flat;
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
}

function unpack(
  dir: string,
  file: string,
  bytes: Uint8Array,
  dtype: 'float16' | 'float32',
  output: OutputKind,
): Float32Array[] {
  const shapes = unetParamShapes(output);
  const total = shapes.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
  const width = dtype === 'float16' ? 2 : 4;
  if (bytes.length !== total * width) {
    throw new ModelDirError(
      dir,
      `${file} has ${bytes.length} bytes, expected ${total * width} (${total} ${dtype} weights)`,
    );
  }
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const flat =
    dtype === 'float16' ? fromFloat16(new Uint16Array(copy.buffer)) : new Float32Array(copy.buffer);
  let off = 0;
  return shapes.map((p) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const t = flat.slice(off, off + n);
    off += n;
    return t;
  });
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export interface SaveModelInput {
  readonly seg: readonly Float32Array[];
  readonly dist: readonly Float32Array[];
  readonly stainTarget: StainModel | null;
  readonly dtype?: 'float16' | 'float32';
  readonly training?: unknown;
  /** The post-processing chosen on the training images, stored as model.json `postprocess`. */
  readonly postprocess?: TunedPostprocess;
  /** Stored as model.json `inference`: what `segment` does with this model unless told otherwise. */
  readonly inference?: ModelInference;
  /** The segmentation net's output head, stored as model.json `segOutput` (absent: one sigmoid channel). */
  readonly segOutput?: 'softmax3';
}

/** Writes seg.bin, dist.bin and model.json (each atomically; model.json last). */
export async function saveModel(dir: string, m: SaveModelInput): Promise<ModelManifest> {
  const dtype = m.dtype ?? 'float16';
  await mkdir(dir, { recursive: true });
  const seg = pack(m.seg, dtype);
  const dist = pack(m.dist, dtype);
  await writeFileAtomic(join(dir, 'seg.bin'), seg);
  await writeFileAtomic(join(dir, 'dist.bin'), dist);
  const manifest: ModelManifest = {
    format: MODEL_FORMAT,
    dtype,
    tensors: unetParamShapes().map((p) => ({ name: p.name, shape: p.shape })),
    files: { seg: 'seg.bin', dist: 'dist.bin' },
    sha256: { seg: sha(seg), dist: sha(dist) },
    stainTarget: m.stainTarget
      ? { stainMatrix: Array.from(m.stainTarget.stainMatrix), maxConc: Array.from(m.stainTarget.maxConc) }
      : null,
    training: m.training,
    ...(m.postprocess ? { postprocess: m.postprocess } : {}),
    ...(m.inference ? { inference: m.inference } : {}),
    ...(m.segOutput ? { segOutput: m.segOutput } : {}),
  };
  await writeFileAtomic(join(dir, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Reads and verifies a model folder; every problem is a one-line ModelDirError. */
export async function loadModel(dir: string): Promise<LoadedModel> {
  let text: string;
  try {
    text = await readFile(join(dir, 'model.json'), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ModelDirError(
      dir,
      code === 'ENOENT'
        ? 'no model.json (not a model folder, or it does not exist)'
        : `model.json unreadable (${code})`,
      { cause: err },
    );
  }
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(text) as ModelManifest;
  } catch (err) {
    throw new ModelDirError(dir, 'model.json is not valid JSON (corrupt)', { cause: err });
  }
  if (manifest.format !== MODEL_FORMAT)
    throw new ModelDirError(dir, `unknown format '${String(manifest.format)}', expected ${MODEL_FORMAT}`);
  if (manifest.dtype !== 'float16' && manifest.dtype !== 'float32')
    throw new ModelDirError(dir, `unknown dtype '${String(manifest.dtype)}'`);
  if (manifest.segOutput !== undefined && manifest.segOutput !== 'softmax3')
    throw new ModelDirError(dir, `unknown segOutput '${String(manifest.segOutput)}'`);
  if (manifest.inference !== undefined && typeof manifest.inference?.tta !== 'boolean')
    throw new ModelDirError(
      dir,
      `model.json inference must be {"tta": true|false}, got ${JSON.stringify(manifest.inference)}`,
    );
  const read = async (which: 'seg' | 'dist') => {
    const file = manifest.files?.[which];
    if (typeof file !== 'string') throw new ModelDirError(dir, `model.json names no ${which} weights file`);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(join(dir, file));
    } catch (err) {
      throw new ModelDirError(dir, `${file} is missing or unreadable`, { cause: err });
    }
    if (sha(bytes) !== manifest.sha256?.[which])
      throw new ModelDirError(dir, `${file} does not match its sha256 in model.json (corrupt)`);
    return unpack(
      dir,
      file,
      bytes,
      manifest.dtype,
      which === 'seg' ? (manifest.segOutput ?? 'sigmoid') : 'linear',
    );
  };
  const seg = await read('seg');
  const dist = await read('dist');
  const st = manifest.stainTarget;
  const stainTarget: StainModel | null = st
    ? {
        stainMatrix: Float64Array.from(st.stainMatrix),
        maxConc: Float64Array.from(st.maxConc),
        tissuePixels: 0,
      }
    : null;
  return { dir, manifest, seg, dist, stainTarget };
}

/** A model's tuned post-processing parameters as PostprocessOptions (absent fields keep the defaults). */
export function tunedOptions(t: TunedPostprocess | undefined): PostprocessOptions {
  if (!t) return {};
  return {
    ...(t.threshold === undefined ? {} : { threshold: t.threshold }),
    ...(t.sigmaScale === undefined ? {} : { sigmaOptions: { scale: t.sigmaScale } }),
    ...(t.minDistanceScale === undefined ? {} : { minDistanceScale: t.minDistanceScale }),
    ...(t.peakThreshold === undefined ? {} : { peakThreshold: t.peakThreshold }),
    ...(t.expand === undefined ? {} : { expand: t.expand }),
    ...(t.markers === undefined ? {} : { markers: t.markers }),
  };
}

/**
 * A model folder's training pixel size: its card's trainingScale (written by `models export`), or
 * TRAINING_SCALE's for a folder without one (every model here is trained on MoNuSeg). Throws
 * ModelDirError for a card whose trainingScale is not a positive number.
 */
export async function modelMicronsPerPixel(dir: string): Promise<number> {
  let card: { trainingScale?: { micronsPerPixel?: unknown } };
  try {
    card = JSON.parse(await readFile(join(dir, 'card.json'), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return TRAINING_SCALE.micronsPerPixel;
    throw new ModelDirError(dir, `card.json unreadable: ${(err as Error).message}`, { cause: err });
  }
  const mpp = card.trainingScale?.micronsPerPixel ?? TRAINING_SCALE.micronsPerPixel;
  if (typeof mpp !== 'number' || !(mpp > 0)) {
    throw new ModelDirError(
      dir,
      `card.json trainingScale.micronsPerPixel must be a number > 0, got ${JSON.stringify(mpp)}`,
    );
  }
  return mpp;
}
