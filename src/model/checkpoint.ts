// Training checkpoints: weights, Adam state, epoch, RNG state and config hash in one self-checking file.
//
// Layout: 8-byte magic "NFCKPT01", uint32 LE header length, UTF-8 JSON header, then float32 LE
// payload (weights, Adam m, Adam v, each in unetParamShapes() order). The header carries the
// payload's sha256, so a truncated or corrupted file is detected instead of silently loading
// garbage. Files are written to a temporary name in the same folder and renamed over the old
// checkpoint, so a crash or a full disk mid-write leaves the previous checkpoint intact.
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic-write.ts';
import { type OutputKind, unetParamShapes } from './unet.ts';

const MAGIC = 'NFCKPT01';
export const CHECKPOINT_FILE = 'checkpoint.nfck';

/** Per-epoch training metrics, also the event the platform consumes. */
export interface EpochMetrics {
  readonly stage: 'seg' | 'dist';
  /** 1-based number of the epoch just finished. */
  readonly epoch: number;
  /** Epochs the budget plans; null for a minutes budget (known only when it is spent). */
  readonly epochs: number | null;
  readonly loss: number;
  readonly valLoss: number | null;
  /** The lr of the epoch's last step. */
  readonly lr: number;
  readonly seconds: number;
  readonly imagesPerSecond: number;
  /** Optimiser steps so far. */
  readonly steps: number;
  /** tf.memory().numTensors after the epoch: constant when nothing leaks. */
  readonly numTensors: number;
  readonly rssMB: number;
}

export interface CheckpointHeader {
  readonly version: 1;
  readonly configHash: string;
  readonly stage: 'seg' | 'dist';
  /** Epochs completed. */
  readonly epoch: number;
  /** Optimiser steps so far (all sessions). */
  readonly adamSteps: number;
  readonly rngState: readonly number[];
  /** Training wall time so far (all sessions). */
  readonly wallSeconds: number;
  /** Machine time so far: process CPU seconds / cores (all sessions). */
  readonly cpuSeconds: number;
  readonly history: readonly EpochMetrics[];
  /**
   * Step counts after which the lr changed, all sessions; absent in checkpoints written before it
   * was kept (read as none).
   */
  readonly lrDrops?: readonly number[];
  /** The net's output (unet.ts OutputKind); absent in one-channel checkpoints, which all were before it. */
  readonly output?: OutputKind;
  readonly tensors: readonly { name: string; shape: number[] }[];
  readonly payloadSha256: string;
}

export interface Checkpoint {
  readonly header: Omit<CheckpointHeader, 'payloadSha256' | 'tensors' | 'version'>;
  readonly weights: readonly Float32Array[];
  readonly m: readonly Float32Array[];
  readonly v: readonly Float32Array[];
}

/** A checkpoint that cannot be used: names the file and the problem. */
export class CheckpointError extends UserError {
  constructor(
    readonly file: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`checkpoint ${file}: ${problem}`, options);
    this.name = 'CheckpointError';
  }
}

export type WriteFn = (path: string, data: Uint8Array) => Promise<void>;

/** Serialises a checkpoint; exported for tests that corrupt bytes on purpose. */
export function encodeCheckpoint(ck: Checkpoint): Uint8Array {
  const shapes = unetParamShapes(ck.header.output);
  const groups = [ck.weights, ck.m, ck.v];
  for (const [gi, g] of groups.entries()) {
    if (g.length !== shapes.length)
      throw new RangeError(
        `encodeCheckpoint: group ${gi} has ${g.length} tensors, expected ${shapes.length}`,
      );
  }
  const floats = groups.reduce((s, g) => s + g.reduce((a, t) => a + t.length, 0), 0);
  const payload = new Uint8Array(floats * 4);
  const view = new Float32Array(payload.buffer);
  let off = 0;
  for (const g of groups) {
    for (const [i, t] of g.entries()) {
      const n = shapes[i]!.shape.reduce((a, b) => a * b, 1);
      if (t.length !== n)
        throw new RangeError(`encodeCheckpoint: ${shapes[i]!.name} has ${t.length} values, expected ${n}`);
      view.set(t, off);
      off += n;
    }
  }
  const header: CheckpointHeader = {
    version: 1,
    ...ck.header,
    tensors: shapes.map((s) => ({ name: s.name, shape: s.shape })),
    payloadSha256: createHash('sha256').update(payload).digest('hex'),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(12 + json.length + payload.length);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  out.set(payload, 12 + json.length);
  return out;
}

/** Parses and verifies a checkpoint; every failure is a CheckpointError naming `file`. */
export function decodeCheckpoint(file: string, bytes: Uint8Array): Checkpoint {
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new CheckpointError(
      file,
      'not a NucleiFlow checkpoint (bad magic); delete it or use another --checkpoint-dir',
    );
  }
  const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  if (12 + len > bytes.length) throw new CheckpointError(file, 'truncated header');
  let header: CheckpointHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + len))) as CheckpointHeader;
  } catch (err) {
    throw new CheckpointError(file, 'corrupt header (not JSON)', { cause: err });
  }
  const shapes = unetParamShapes(header.output);
  if (header.version !== 1 || !Array.isArray(header.tensors) || header.tensors.length !== shapes.length) {
    throw new CheckpointError(file, 'unsupported version or network layout');
  }
  header.tensors.forEach((t, i) => {
    if (t.name !== shapes[i]!.name || String(t.shape) !== String(shapes[i]!.shape)) {
      throw new CheckpointError(
        file,
        `tensor ${i} is ${t.name} [${t.shape}], expected ${shapes[i]!.name} [${shapes[i]!.shape}]`,
      );
    }
  });
  // Copy: a Node Buffer's slice is a view whose offset need not be 4-aligned for Float32Array.
  const payload = new Uint8Array(bytes.length - 12 - len);
  payload.set(bytes.subarray(12 + len));
  const perGroup = shapes.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
  if (payload.length !== perGroup * 3 * 4) {
    throw new CheckpointError(file, `truncated payload (${payload.length} bytes, expected ${perGroup * 12})`);
  }
  if (createHash('sha256').update(payload).digest('hex') !== header.payloadSha256) {
    throw new CheckpointError(file, 'payload checksum mismatch (corrupt file)');
  }
  const view = new Float32Array(payload.buffer, payload.byteOffset, payload.length / 4);
  let off = 0;
  const group = () =>
    shapes.map((p) => {
      const n = p.shape.reduce((a, b) => a * b, 1);
      const t = view.slice(off, off + n);
      off += n;
      return t;
    });
  const weights = group();
  const m = group();
  const v = group();
  const { version: _v, tensors: _t, payloadSha256: _p, ...rest } = header;
  return { header: rest, weights, m, v };
}

/** Writes `<dir>/checkpoint.nfck` atomically. `write` is injectable so tests can simulate a full disk. */
export async function saveCheckpoint(
  dir: string,
  ck: Checkpoint,
  write: WriteFn = writeFileAtomic,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, CHECKPOINT_FILE);
  try {
    await write(path, encodeCheckpoint(ck));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOSPC' ? 'disk full' : (err as Error).message;
    throw new CheckpointError(path, `could not be written (${why}); the previous checkpoint is unchanged`, {
      cause: err,
    });
  }
  return path;
}

/** Reads `<dir>/checkpoint.nfck`, or undefined when there is none. */
export async function loadCheckpoint(dir: string): Promise<Checkpoint | undefined> {
  const path = join(dir, CHECKPOINT_FILE);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CheckpointError(path, `cannot be read (${(err as Error).message})`, { cause: err });
  }
  return decodeCheckpoint(path, bytes);
}
