// Inference of the two-stage U-Net of Mahbod et al., ISBI 2019: normalise, both nets, post-process into instances.
//
// Tiling policy: the U-Nets are fully convolutional, so an image up to `tile` (default 1024) px a
// side runs in one pass after mirror-padding (bottom/right) to a multiple of 16; a larger image is
// cut into tiles of `tile` px overlapping by 2 x `margin` (default 64) px, each mirror-padded at
// the image border, and only each tile's central part (the margin trimmed, except at the image
// edge) is kept, so every output pixel saw at least `margin` px of context. No resizing: the pixel
// scale is the training scale (40x). Minimum input: 256 px a side.
import { InputError } from '../errors.ts';
import { mirrorIndex } from '../imaging/crop.ts';
import type { FloatImage, LabelImage, RgbImage } from '../imaging/types.ts';
import { assertBuffer } from '../imaging/types.ts';
import { iterativePostprocess, type PostprocessOptions, postprocess } from '../postprocess/pipeline.ts';
import { applyStainModel, normalizeMacenko, type StainModel } from '../stain/macenko.ts';
import { requireNativeBackend, type Tf } from './backend.ts';
import { type LoadedModel, loadModel, tunedOptions } from './model-dir.ts';
import { outputChannels, type UNet, unetFromValues } from './unet.ts';

export const MIN_INPUT_SIZE = 256;

export interface SegmentOptions {
  /** Tile side in px (multiple of 16, >= 256). Default 1024. */
  readonly tile?: number;
  /** Context trimmed from each side of an inner tile edge. Default 64. */
  readonly margin?: number;
  /** Average the nets' outputs over the 8 flips/rotations (8x slower). Default: the model's `inference.tta`, else false. */
  readonly tta?: boolean;
  /** Post-processing parameters (defaults: the paper's, see src/postprocess/pipeline.ts). */
  readonly postprocess?: PostprocessOptions;
  /** Re-estimate the nucleus size from the instances and post-process again (paper's future work). */
  readonly iterative?: boolean;
  /**
   * The image's stain model, fitted once elsewhere (e.g. on a whole slide's tissue), mapped onto the model's
   * stain target instead of fitting Macenko to this image: the regions of one slide then share one fit. Ignored
   * when the model has no stain target. Default: fit this image (normalizeMacenko).
   */
  readonly sourceStain?: StainModel;
}

export interface SegmentResult {
  readonly labels: LabelImage;
  /** Stage-1 nucleus probability. */
  readonly foreground: FloatImage;
  /** Stage-2 predicted normalised distance. */
  readonly distance: FloatImage;
  /** A three-class segmentation net's interior probability (absent for a one-channel net). */
  readonly interior?: FloatImage;
  /** The stain-normalised input the nets saw. */
  readonly normalised: RgbImage;
  /** Watershed seeds (label k at the k-th marker pixel). */
  readonly markers: LabelImage;
  readonly count: number;
  /** The watershed's Gaussian sigma and seed spacing, as given or as derived from this image's nucleus size. */
  readonly sigma: number;
  readonly minDistance: number;
  readonly timingsMs: { normalise: number; nets: number; postprocess: number };
}

export interface Segmenter {
  readonly model: LoadedModel;
  /** `source` names the image in errors. */
  segment(img: RgbImage, source?: string, opts?: SegmentOptions): Promise<SegmentResult>;
  dispose(): void;
}

/** One tile's input as float32 NHWC [1, th, tw, 3] in [0, 1], mirror-padded outside the image. */
function tileInput(img: RgbImage, x0: number, y0: number, tw: number, th: number): Float32Array {
  const out = new Float32Array(tw * th * 3);
  for (let y = 0; y < th; y++) {
    const sy = mirrorIndex(y0 + y, img.height);
    for (let x = 0; x < tw; x++) {
      const si = (sy * img.width + mirrorIndex(x0 + x, img.width)) * 3;
      const di = (y * tw + x) * 3;
      out[di] = img.data[si]! / 255;
      out[di + 1] = img.data[si + 1]! / 255;
      out[di + 2] = img.data[si + 2]! / 255;
    }
  }
  return out;
}

const ceil16 = (v: number) => Math.ceil(v / 16) * 16;

/** Tile origins along one axis: stride tile - 2*margin, last tile flush with the end. */
function origins(len: number, tile: number, margin: number): number[] {
  if (len <= tile) return [0];
  const stride = tile - 2 * margin;
  const out: number[] = [];
  for (let o = 0; o + tile < len; o += stride) out.push(o);
  out.push(len - tile);
  return out;
}

/**
 * Runs both nets over the image; returns [nucleus probability, distance, interior probability (a
 * three-class segmentation net only, else null)].
 */
async function runNets(
  tf: Tf,
  seg: UNet,
  dist: UNet,
  img: RgbImage,
  opts: SegmentOptions,
): Promise<[Float32Array, Float32Array, Float32Array | null]> {
  const tile = opts.tile ?? 1024;
  const margin = opts.margin ?? 64;
  if (tile % 16 !== 0 || tile < MIN_INPUT_SIZE || margin < 0 || 2 * margin >= tile) {
    throw new RangeError(
      `segment: tile must be a multiple of 16 >= ${MIN_INPUT_SIZE} and margin < tile/2, got tile ${tile}, margin ${margin}`,
    );
  }
  const { width: W, height: H } = img;
  const prob = new Float32Array(W * H);
  const distance = new Float32Array(W * H);
  const three = seg.output === 'softmax3';
  const interior = three ? new Float32Array(W * H) : null;
  const channels = outputChannels(seg.output);
  const xs = origins(W, tile, margin);
  const ys = origins(H, tile, margin);
  for (const [yi, y0] of ys.entries()) {
    for (const [xi, x0] of xs.entries()) {
      const tw = W <= tile ? ceil16(W) : tile;
      const th = H <= tile ? ceil16(H) : tile;
      const input = tileInput(img, x0, y0, tw, th);
      const out = tf.tidy(() => {
        const x = tf.tensor4d(input, [1, th, tw, 3]);
        const views = opts.tta ? 8 : 1;
        let p = tf.zeros([1, th, tw, channels]);
        let d = tf.zeros([1, th, tw, 1]);
        for (let v = 0; v < views; v++) {
          // View v: k = v % 4 quarter turns, flipped left-right when v >= 4; undone on the output.
          const k = v % 4;
          const flip = v >= 4;
          let xv: import('@tensorflow/tfjs-node').Tensor4D = flip ? tf.reverse(x, 2) : x;
          for (let r = 0; r < k; r++) xv = tf.reverse(tf.transpose(xv, [0, 2, 1, 3]), 1);
          let pv = seg.predict(xv);
          let dv = dist.predict(xv);
          for (let r = 0; r < k; r++) {
            pv = tf.transpose(tf.reverse(pv, 1), [0, 2, 1, 3]);
            dv = tf.transpose(tf.reverse(dv, 1), [0, 2, 1, 3]);
          }
          if (flip) {
            pv = tf.reverse(pv, 2);
            dv = tf.reverse(dv, 2);
          }
          p = tf.add(p, pv);
          d = tf.add(d, dv);
        }
        const mean = tf.div(p, views);
        if (!three) return [mean, tf.div(d, views)];
        // A three-class net: nucleus probability 1 - P(background) (interior + boundary), and P(interior).
        const bg = tf.slice(mean, [0, 0, 0, 0], [-1, -1, -1, 1]);
        return [tf.sub(1, bg), tf.div(d, views), tf.slice(mean, [0, 0, 0, 1], [-1, -1, -1, 1])];
      });
      const [pd, dd, id] = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
      for (const t of out) t.dispose();
      // Keep the tile's centre: trim the margin on sides that face another tile.
      const kx0 = xi === 0 ? 0 : margin;
      const ky0 = yi === 0 ? 0 : margin;
      const kx1 = xi === xs.length - 1 ? Math.min(tw, W - x0) : tile - margin;
      const ky1 = yi === ys.length - 1 ? Math.min(th, H - y0) : tile - margin;
      for (let y = ky0; y < ky1; y++) {
        const src = y * tw;
        const dst = (y0 + y) * W + x0;
        for (let x = kx0; x < kx1; x++) {
          prob[dst + x] = pd![src + x]!;
          distance[dst + x] = dd![src + x]!;
        }
        if (interior) for (let x = kx0; x < kx1; x++) interior[dst + x] = id![src + x]!;
      }
    }
  }
  return [prob, distance, interior];
}

/** Loads a model folder (see model-dir.ts) and builds both nets once, for many images. */
export async function loadSegmenter(
  modelDir: string,
  opts: { allowJsBackend?: boolean } = {},
): Promise<Segmenter> {
  const model = await loadModel(modelDir);
  const tf = requireNativeBackend(opts.allowJsBackend ?? false);
  const seg = unetFromValues(tf, model.manifest.segOutput ?? 'sigmoid', model.seg);
  const dist = unetFromValues(tf, 'linear', model.dist);
  return {
    model,
    async segment(img, source = 'image', o = {}) {
      assertBuffer('segment', img, 3);
      if (img.width < MIN_INPUT_SIZE || img.height < MIN_INPUT_SIZE) {
        throw new InputError(
          source,
          `image is ${img.width}x${img.height}; segment needs at least ${MIN_INPUT_SIZE}x${MIN_INPUT_SIZE} px`,
        );
      }
      const t0 = performance.now();
      const target = model.stainTarget;
      const normalised = !target
        ? img
        : o.sourceStain
          ? applyStainModel(img, o.sourceStain, target)
          : normalizeMacenko(img, target, { onWarning: () => {} });
      const t1 = performance.now();
      const [p, d, inner] = await runNets(tf, seg, dist, normalised, {
        ...o,
        tta: o.tta ?? model.manifest.inference?.tta ?? false,
      });
      const t2 = performance.now();
      const foreground = { width: img.width, height: img.height, data: p };
      const distance = { width: img.width, height: img.height, data: d };
      const interior = inner ? { width: img.width, height: img.height, data: inner } : undefined;
      // The model's own defaults (chosen on its training images) first, then the caller's options.
      const input = {
        ...tunedOptions(model.manifest.postprocess),
        ...o.postprocess,
        foreground,
        distance,
        ...(interior ? { interior } : {}),
      };
      const pp = o.iterative ? iterativePostprocess(input) : postprocess(input);
      const t3 = performance.now();
      let count = 0;
      for (let i = 0; i < pp.labels.data.length; i++)
        if (pp.labels.data[i]! > count) count = pp.labels.data[i]!;
      return {
        labels: pp.labels,
        foreground,
        distance,
        ...(interior ? { interior } : {}),
        normalised,
        markers: pp.markers,
        count,
        sigma: pp.sigma,
        minDistance: pp.minDistance,
        timingsMs: { normalise: t1 - t0, nets: t2 - t1, postprocess: t3 - t2 },
      };
    },
    dispose() {
      seg.dispose();
      dist.dispose();
    },
  };
}
