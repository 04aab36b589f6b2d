// Training data of Mahbod et al., ISBI 2019: stain-normalised H&E crops with modified binary (stage 1) or distance-map (stage 2) targets.
//
// Memory: per training image one uint8 RGB copy (normalised), one uint8 stage-1 target (binary, or
// the class of the three-class target) and one
// uint8 distance target quantised to 1/255 (the per-nucleus normalised distance lies in [0, 1]);
// 5 MB per 1000x1000 image, 80 MB for the 16 Kumar training images. Float32 exists only for the
// current batch. Normalised images are cached as raw uint8 under `<cacheDir>/stain-normalised/`,
// keyed by the sha256 of the source file bytes and the stain target, so later runs skip Macenko.
//
// Crop policy: a crop's top-left corner is uniform over all positions that keep it inside the
// image. A crop larger than the image (the paper's 1024 input on 1000 px slides) is mirror-padded
// at the bottom/right instead of resized, so the pixel scale seen in training equals inference's.
// Random draws per crop, in this order: image index, y0, x0, dihedral (when on), 6 HED numbers
// (when on).
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomDihedral } from '../augment/geometry.ts';
import { applyHedParams, drawHedParams, type HedJitter } from '../augment/hed.ts';
import type { Rng } from '../augment/rng.ts';
import { distanceTargets } from '../groundtruth/distance-targets.ts';
import { type GroundTruthModification, modifyGroundTruth } from '../groundtruth/modify.ts';
import { threeClassTarget } from '../groundtruth/three-class.ts';
import { mirrorIndex } from '../imaging/crop.ts';
import { readLabels, readRgb } from '../imaging/io.ts';
import type { RgbImage } from '../imaging/types.ts';
import { writeFileAtomic } from '../io/atomic-write.ts';
import { normalizeMacenko, type StainModel } from '../stain/macenko.ts';
import type { Batch, BatchSource, Stage } from './batch.ts';

export interface SlideFiles {
  readonly id: string;
  readonly image: string;
  readonly labels: string;
}

export interface DatasetOptions {
  readonly slides: readonly SlideFiles[];
  /** Macenko target (fitted on the reference image); null trains on the raw colours. */
  readonly stainTarget: StainModel | null;
  /** Cache root (config.cacheDir); normalised images go under stain-normalised/. */
  readonly cacheDir: string;
  /** HED colour jitter; null turns it off. */
  readonly hed: HedJitter | null;
  /** Random rot90 + flips. */
  readonly flipRotate: boolean;
  /** Stage-1 target modification (erosion switch) of the binary target. */
  readonly groundTruth: GroundTruthModification;
  /**
   * The three-class stage-1 target instead of the binary one: background 0, interior 1, boundary 2 of
   * this width (src/groundtruth/three-class.ts), the class index as the batches' y.
   */
  readonly threeClass?: { readonly boundaryWidth: number };
  /** Slides whose centre crops form the fixed validation batches (may overlap `slides`). */
  readonly validationSlides?: readonly SlideFiles[];
}

interface Prepared {
  readonly id: string;
  readonly width: number;
  readonly height: number;
  readonly rgb: Uint8Array;
  readonly seg: Uint8Array;
  /** Distance target x 255, rounded. */
  readonly dist: Uint8Array;
}

const CACHE_VERSION = 'macenko-v1';

function stainKey(target: StainModel | null): string {
  return target ? JSON.stringify([Array.from(target.stainMatrix), Array.from(target.maxConc)]) : 'raw';
}

/** Stain-normalised RGB of `file`, from the cache when present. */
export async function normalisedImage(
  file: string,
  target: StainModel | null,
  cacheDir: string,
): Promise<RgbImage> {
  return (await loadNormalised(file, target, cacheDir)).image;
}

/** As normalisedImage, and says whether the normalised copy came from the cache. */
export async function loadNormalised(
  file: string,
  target: StainModel | null,
  cacheDir: string,
): Promise<{ image: RgbImage; cached: boolean }> {
  const img = await readRgb(file);
  if (!target) return { image: img, cached: false };
  const bytes = await readFile(file);
  const key = createHash('sha256').update(CACHE_VERSION).update(stainKey(target)).update(bytes).digest('hex');
  const dir = join(cacheDir, 'stain-normalised');
  const path = join(dir, `${key}.rgb`);
  try {
    const cached = await readFile(path);
    if (cached.length === img.data.length)
      return {
        image: {
          width: img.width,
          height: img.height,
          data: new Uint8Array(cached.buffer, cached.byteOffset, cached.length),
        },
        cached: true,
      };
  } catch {
    // Not cached yet.
  }
  const out = normalizeMacenko(img, target);
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(path, out.data);
  return { image: out, cached: false };
}

async function prepare(s: SlideFiles, o: DatasetOptions): Promise<Prepared> {
  const [rgb, labels] = await Promise.all([
    normalisedImage(s.image, o.stainTarget, o.cacheDir),
    readLabels(s.labels),
  ]);
  if (rgb.width !== labels.width || rgb.height !== labels.height) {
    throw new RangeError(
      `${s.id}: image ${rgb.width}x${rgb.height} and labels ${labels.width}x${labels.height} differ`,
    );
  }
  const seg = o.threeClass
    ? threeClassTarget(labels, o.threeClass.boundaryWidth).data
    : modifyGroundTruth(labels, o.groundTruth).data;
  const d = distanceTargets(labels).data;
  const dist = new Uint8Array(d.length);
  for (let i = 0; i < d.length; i++) dist[i] = Math.round(d[i]! * 255);
  return { id: s.id, width: rgb.width, height: rgb.height, rgb: rgb.data, seg, dist };
}

/** size x size crop at (x0, y0), mirror-padded past the image edge. */
function crop(
  p: Prepared,
  x0: number,
  y0: number,
  size: number,
  stage: Stage,
): { rgb: RgbImage; t: { width: number; height: number; data: Uint8Array } } {
  const rgb = new Uint8Array(size * size * 3);
  const t = new Uint8Array(size * size);
  const src = stage === 'seg' ? p.seg : p.dist;
  for (let y = 0; y < size; y++) {
    const sy = mirrorIndex(y0 + y, p.height);
    for (let x = 0; x < size; x++) {
      const si = sy * p.width + mirrorIndex(x0 + x, p.width);
      const di = y * size + x;
      rgb[3 * di] = p.rgb[3 * si]!;
      rgb[3 * di + 1] = p.rgb[3 * si + 1]!;
      rgb[3 * di + 2] = p.rgb[3 * si + 2]!;
      t[di] = src[si]!;
    }
  }
  return { rgb: { width: size, height: size, data: rgb }, t: { width: size, height: size, data: t } };
}

function put(
  batch: { x: Float32Array; y: Float32Array },
  b: number,
  rgb: Uint8Array,
  t: Uint8Array,
  stage: Stage,
): void {
  const n = t.length;
  const xo = b * n * 3;
  for (let i = 0; i < n * 3; i++) batch.x[xo + i] = rgb[i]! / 255;
  const yo = b * n;
  if (stage === 'seg') for (let i = 0; i < n; i++) batch.y[yo + i] = t[i]!;
  else for (let i = 0; i < n; i++) batch.y[yo + i] = t[i]! / 255;
}

export class TrainingSet implements BatchSource {
  private readonly valCache = new Map<string, Batch[]>();

  private constructor(
    private readonly train: readonly Prepared[],
    private readonly val: readonly Prepared[],
    private readonly o: DatasetOptions,
  ) {}

  /** Reads, normalises (cached) and prepares targets for every slide. */
  static async load(o: DatasetOptions): Promise<TrainingSet> {
    if (o.slides.length === 0) throw new RangeError('TrainingSet: no training slides');
    const train: Prepared[] = [];
    for (const s of o.slides) train.push(await prepare(s, o));
    const val: Prepared[] = [];
    for (const s of o.validationSlides ?? []) {
      val.push(train.find((t) => t.id === s.id) ?? (await prepare(s, o)));
    }
    return new TrainingSet(train, val, o);
  }

  get imageCount(): number {
    return this.train.length;
  }

  /** Bytes held for the whole set (uint8 buffers). */
  get bytes(): number {
    return [...new Set([...this.train, ...this.val])].reduce(
      (s, p) => s + p.rgb.length + p.seg.length + p.dist.length,
      0,
    );
  }

  sample(rng: Rng, stage: Stage, batch: number, size: number): Batch {
    const out = { x: new Float32Array(batch * size * size * 3), y: new Float32Array(batch * size * size) };
    for (let b = 0; b < batch; b++) {
      const p = this.train[rng.int(this.train.length)]!;
      const y0 = rng.int(Math.max(1, p.height - size + 1));
      const x0 = rng.int(Math.max(1, p.width - size + 1));
      let { rgb, t } = crop(p, x0, y0, size, stage);
      if (this.o.flipRotate) [rgb, t] = randomDihedral(rng, [rgb, t] as const).images;
      if (this.o.hed) rgb = applyHedParams(rgb, drawHedParams(rng, this.o.hed));
      put(out, b, rgb.data, t.data, stage);
    }
    return { batch, size, ...out };
  }

  validation(stage: Stage, size: number): readonly Batch[] {
    const key = `${stage}:${size}`;
    const hit = this.valCache.get(key);
    if (hit) return hit;
    const batches: Batch[] = [];
    for (let i = 0; i < this.val.length; i += 2) {
      const group = this.val.slice(i, i + 2);
      const out = {
        x: new Float32Array(group.length * size * size * 3),
        y: new Float32Array(group.length * size * size),
      };
      group.forEach((p, b) => {
        const { rgb, t } = crop(
          p,
          Math.max(0, (p.width - size) >> 1),
          Math.max(0, (p.height - size) >> 1),
          size,
          stage,
        );
        put(out, b, rgb.data, t.data, stage);
      });
      batches.push({ batch: group.length, size, ...out });
    }
    this.valCache.set(key, batches);
    return batches;
  }
}
