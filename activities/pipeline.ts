/**
 * The real Compute: each function adapts one call into src/ (manifest and split, stain reference,
 * Macenko normalisation cache, the training loop, inference, metrics). No science lives here;
 * only the mapping from the experiment spec to the library's options.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RunSpec } from '../experiments/index.ts';
import { HED_PRESETS } from '../src/augment/hed.ts';
import type { Config } from '../src/config.ts';
import { readManifest, type Slide } from '../src/data/manifest.ts';
import { splitSlides } from '../src/data/splits.ts';
import { UserError } from '../src/errors.ts';
import type { GroundTruthModification } from '../src/groundtruth/modify.ts';
import { assertSameLabelSize, readLabels, readRgb, writeLabelsPng, writeRgbPng } from '../src/imaging/io.ts';
import { writeLayerPng } from '../src/imaging/layers.ts';
import { contourOverlay } from '../src/imaging/overlay.ts';
import type { LabelImage } from '../src/imaging/types.ts';
import { evaluate } from '../src/metrics/index.ts';
import { stageSeed } from '../src/model/batch.ts';
import { CHECKPOINT_FILE, type EpochMetrics, loadCheckpoint } from '../src/model/checkpoint.ts';
import { loadNormalised, type SlideFiles, TrainingSet } from '../src/model/dataset.ts';
import { loadSegmenter, type Segmenter } from '../src/model/infer.ts';
import { saveModel, type TunedPostprocess, tunedOptions } from '../src/model/model-dir.ts';
import { train } from '../src/model/train.ts';
import type { PostprocessOptions } from '../src/postprocess/pipeline.ts';
import { stage1Instances } from '../src/postprocess/stage1.ts';
import { type TuningImage, tunePostprocess } from '../src/postprocess/tune.ts';
import { mergeSlide, planSlide, segmentSlideRegions } from '../src/slide/pipeline.ts';
import { fitMacenko, type StainModel, stainModelFromJson, stainModelToJson } from '../src/stain/macenko.ts';
import { selectReferenceImage } from '../src/stain/select-reference.ts';
import { type EvalMethod, hashFile, imageResultRow } from '../src/tracking/index.ts';
import type { Compute, EpochEvent } from './compute.ts';
import type { Prediction, SlideRef, StainTarget, TrainOutput } from './types.ts';

export function toStainModel(t: StainTarget | null): StainModel | null {
  return t ? stainModelFromJson(t) : null;
}

export function groundTruthOptions(spec: RunSpec): GroundTruthModification {
  return spec.groundTruth.erosion
    ? { enabled: true, erosion: { shape: 'disk', radius: spec.groundTruth.erosionRadius, iterations: 1 } }
    : { enabled: false };
}

const files = (s: SlideRef): SlideFiles => ({ id: s.id, image: s.image, labels: s.labels });

function ref(s: Slide, subset: SlideRef['subset']): SlideRef {
  if (!s.labelPath) throw new UserError(`${s.id}: no label PNG in the manifest`);
  return { id: s.id, organ: s.organ, subset, image: s.imagePath, labels: s.labelPath };
}

/** First slide of each organ: fixed validation crops (the Kumar split has no held-out training data). */
function validationSlides(train: readonly SlideRef[]): SlideFiles[] {
  const organs = new Set<string>();
  return train.filter((s) => !organs.has(s.organ) && organs.add(s.organ)).map(files);
}

function epochEvent(m: EpochMetrics): EpochEvent {
  return {
    stage: m.stage,
    epoch: m.epoch,
    epochs: m.epochs,
    values: {
      loss: m.loss,
      ...(m.valLoss === null ? {} : { val_loss: m.valLoss }),
      lr: m.lr,
      seconds: m.seconds,
      images_per_s: m.imagesPerSecond,
      steps: m.steps,
      num_tensors: m.numTensors,
      rss_mb: m.rssMB,
    },
  };
}

export function realCompute(config: Config): Compute {
  return {
    async split(dataDir, spec) {
      const k = splitSlides(await readManifest(dataDir), spec.dataset.split);
      const train = k.train
        .slice(0, spec.dataset.maxTrainImages ?? k.train.length)
        .map((s) => ref(s, 'train'));
      const test = [...k.seen.map((s) => ref(s, 'seen')), ...k.unseen.map((s) => ref(s, 'unseen'))].slice(
        0,
        spec.dataset.maxTestImages ?? Number.POSITIVE_INFINITY,
      );
      const h = createHash('sha256');
      for (const s of [...train, ...test]) {
        h.update(
          `${s.subset}:${s.id}:${(await hashFile(s.image)).sha256}:${(await hashFile(s.labels)).sha256}\n`,
        );
      }
      return { train, test, dataHash: h.digest('hex') };
    },

    async selectReference(spec, train) {
      if (!spec.preprocessing.stainNormalisation) return null;
      if (train.length === 0)
        throw new UserError('dataset: no training slides to choose a stain reference from');
      let chosen = train[0]!;
      if (spec.preprocessing.referenceSelection === 'paper') {
        const ranking = await selectReferenceImage(
          train.map((s) => ({ id: s.id, imagePath: s.image, labelPath: s.labels })),
        );
        chosen = train.find((s) => s.id === ranking.chosen.id)!;
      }
      const m = fitMacenko(await readRgb(chosen.image));
      return { referenceId: chosen.id, ...stainModelToJson(m) };
    },

    async normalise(_spec, slides, stain, onImage) {
      const target = toStainModel(stain);
      if (!target) return { cached: 0, computed: 0 };
      let i = 0;
      let cached = 0;
      for (const s of slides) {
        if ((await loadNormalised(s.image, target, config.cacheDir)).cached) cached++;
        onImage(++i);
      }
      return { cached, computed: slides.length - cached };
    },

    async train(call) {
      const { spec, stage } = call;
      const data = await TrainingSet.load({
        slides: call.train.map(files),
        stainTarget: toStainModel(call.stain),
        cacheDir: config.cacheDir,
        hed: spec.augmentation.hed === 'off' ? null : HED_PRESETS[spec.augmentation.hed],
        flipRotate: spec.augmentation.flipRotate,
        groundTruth: groundTruthOptions(spec),
        ...(threeClass(spec) ? { threeClass: { boundaryWidth: spec.groundTruth.boundaryWidth ?? 2 } } : {}),
        validationSlides: validationSlides(call.train),
      });
      let initialWeights: Float32Array[] | undefined;
      if (stage === 'dist' && spec.training.distInit === 'seg') {
        const seg = await loadCheckpoint(join(call.checkpointDir, '..', '..', 'seg', 'checkpoint'));
        if (!seg) throw new UserError('training.distInit is seg, but the segmentation net has no checkpoint');
        initialWeights = [...seg.weights];
      }
      // A kill between a checkpoint write and its metrics write would leave a gap: the checkpoint's
      // own history is replayed (upserts, so nothing is duplicated) before and after training.
      const previous = await loadCheckpoint(call.checkpointDir);
      for (const m of previous?.header.history ?? []) await call.onEpoch(epochEvent(m));
      const r = await train({
        stage,
        schedule: spec.training[stage],
        seed: stageSeed(spec.seed, stage),
        data,
        configHash: call.configHash,
        checkpointDir: call.checkpointDir,
        resume: true,
        signal: call.signal,
        progress: false,
        allowJsBackend: config.allowJsBackend,
        ...(stage === 'seg' && threeClass(spec) ? { output: 'softmax3' as const } : {}),
        ...(initialWeights ? { initialWeights } : {}),
        onEpoch: (m) => call.onEpoch(epochEvent(m)),
      });
      for (const m of r.history) await call.onEpoch(epochEvent(m));
      return {
        checkpoint: join(call.checkpointDir, CHECKPOINT_FILE),
        epochsRun: r.epochsRun,
        resumedFrom: r.resumedFrom,
        wallSeconds: r.wallSeconds,
        trained: {
          budget: r.budget,
          steps: r.steps,
          epochs: r.epochsRun,
          lrDrops: r.lrDrops,
          wallSeconds: r.wallSeconds,
          cpuSeconds: r.cpuSeconds,
        },
      };
    },

    async tune(call) {
      const grid = call.spec.postprocess.grid;
      if (!grid) throw new UserError('postprocess.grid: not set, so there is nothing to tune');
      for (const s of call.slides)
        if (s.subset !== 'train') throw new UserError(`${s.id}: a test slide cannot take part in tuning`);
      await packageModel(call, null);
      const segmenter = await loadSegmenter(call.modelDir, { allowJsBackend: config.allowJsBackend });
      const images: TuningImage[] = [];
      try {
        for (const s of call.slides) {
          if (call.signal.aborted) throw call.signal.reason ?? new Error('tuning cancelled');
          const [rgb, gt] = await Promise.all([readRgb(s.image), readLabels(s.labels)]);
          const r = await segmenter.segment(rgb, s.image);
          assertSameLabelSize(s.image, r.labels, s.labels, gt);
          images.push({
            id: s.id,
            gt,
            foreground: r.foreground,
            distance: r.distance,
            ...(r.interior ? { interior: r.interior } : {}),
          });
          call.onProgress({ images: images.length, settings: 0 });
        }
      } finally {
        segmenter.dispose();
      }
      const r = await tunePostprocess(images, grid, {
        iterative: call.spec.postprocess.iterativeSizeReestimation,
        ...(call.spec.postprocess.markers ? { markers: call.spec.postprocess.markers } : {}),
        onSetting: async (_s, i) => {
          if (call.signal.aborted) throw call.signal.reason ?? new Error('tuning cancelled');
          call.onProgress({ images: images.length, settings: i + 1 });
          // Lets heartbeats and cancellation through between settings.
          await new Promise((resolve) => setImmediate(resolve));
        },
      });
      return { ...r, images: images.map((im) => im.id) };
    },

    async infer(call) {
      const { modelDir, overlayDir } = call;
      await packageModel(call, call.tuned);
      // The model folder's post-processing (the tuned setting) applies; the spec's fixed fields on top.
      const segmenter = await loadSegmenter(modelDir, { allowJsBackend: config.allowJsBackend });
      const pp = call.spec.postprocess;
      const ppOptions: PostprocessOptions = {
        ...(pp.sigmaRule === 'fixed' && pp.sigma !== undefined ? { sigma: pp.sigma } : {}),
        ...(pp.expand === undefined ? {} : { expand: pp.expand }),
        ...(pp.markers === undefined ? {} : { markers: pp.markers }),
      };
      // Stage 1 alone is thresholded and grown as the two-stage chain is, so the two differ only by stage 2.
      const effective = { ...tunedOptions(segmenter.model.manifest.postprocess), ...ppOptions };
      const stage1Options = {
        ...(effective.threshold === undefined ? {} : { threshold: effective.threshold }),
        ...(effective.expand === undefined ? {} : { expand: effective.expand }),
      };
      const out: Prediction[] = [];
      try {
        for (const [i, slide] of call.slides.entries()) {
          if (call.signal.aborted) throw call.signal.reason ?? new Error('inference cancelled');
          const labels = join(call.outDir, `${slide.id}.png`);
          const stage1 = join(call.stage1Dir, `${slide.id}.png`);
          const overlay = overlayDir ? join(overlayDir, `${slide.id}.png`) : undefined;
          // The viewer's intermediate maps go beside the overlays, as <image>.<layer>.png.
          const layers = overlayDir
            ? {
                prob: join(dirname(overlayDir), 'layers', `${slide.id}.prob.png`),
                distance: join(dirname(overlayDir), 'layers', `${slide.id}.distance.png`),
                markers: join(dirname(overlayDir), 'layers', `${slide.id}.markers.png`),
              }
            : undefined;
          // Files are written atomically, so one left by an earlier attempt is complete.
          const layersMissing = layers !== undefined && Object.values(layers).some((f) => !existsSync(f));
          const netsNeeded = !existsSync(labels) || !existsSync(stage1) || layersMissing;
          if (netsNeeded || (overlay && !existsSync(overlay))) {
            const rgb = await readRgb(slide.image);
            let instances: LabelImage;
            if (!netsNeeded) {
              instances = await readLabels(labels);
            } else {
              const r = await segmenter.segment(rgb, slide.image, {
                iterative: pp.iterativeSizeReestimation,
                postprocess: ppOptions,
              });
              instances = r.labels;
              // From the stage-1 map the nets already computed: no second pass through them.
              await writeLabelsPng(stage1, stage1Instances(r.foreground, stage1Options));
              if (layers) {
                await writeLayerPng(layers.prob, r.foreground);
                await writeLayerPng(layers.distance, r.distance);
                await writeLayerPng(layers.markers, r.markers);
              }
              await writeLabelsPng(labels, instances);
            }
            if (overlay) await writeRgbPng(overlay, contourOverlay(rgb, instances));
          }
          const p: Prediction = {
            slide,
            labels,
            stage1Labels: stage1,
            ...(overlay ? { overlay } : {}),
            ...(layers ? { layers } : {}),
          };
          out.push(p);
          await call.onImage(p, i);
        }
      } finally {
        segmenter.dispose();
      }
      return out;
    },

    async evaluate(_spec, p) {
      const { subset } = p.slide;
      if (subset === 'train') throw new UserError(`${p.slide.id}: a training slide cannot be evaluated`);
      const slide = { ...p.slide, subset };
      const gt = await readLabels(p.slide.labels);
      const score = async (file: string, method: EvalMethod) => {
        const pred = await readLabels(file);
        assertSameLabelSize(file, pred, p.slide.labels, gt);
        return imageResultRow(slide, evaluate(gt, pred), method);
      };
      return [
        await score(p.labels, 'two-stage'),
        ...(p.stage1Labels ? [await score(p.stage1Labels, 'stage1')] : []),
      ];
    },

    async slidePlan(job) {
      return planSlide(job, { segmenter: await slideSegmenter(job.model.dir, config) });
    },

    async slideRegions(call) {
      const segmenter = await slideSegmenter(call.job.model.dir, config);
      return segmentSlideRegions(call.job, call.ids, segmenter, {
        signal: call.signal,
        onRegion: call.onRegion,
      });
    },

    slideMerge: (job) => mergeSlide(job),
  };
}

let cachedSegmenter: { dir: string; segmenter: Promise<Segmenter> } | undefined;
/**
 * The nets of one model folder, kept for the next call: a slide's region activities arrive one after another in
 * the same compute process, and building both nets costs about a second. One model at a time.
 */
function slideSegmenter(dir: string, config: Config): Promise<Segmenter> {
  if (cachedSegmenter?.dir !== dir) {
    const previous = cachedSegmenter;
    cachedSegmenter = { dir, segmenter: loadSegmenter(dir, { allowJsBackend: config.allowJsBackend }) };
    previous?.segmenter.then((s) => s.dispose()).catch(() => {});
    cachedSegmenter.segmenter.catch(() => {
      cachedSegmenter = undefined;
    });
  }
  return cachedSegmenter.segmenter;
}

/** Whether the run's segmentation net learns the three-class target. */
const threeClass = (spec: RunSpec) => spec.groundTruth.target === 'three-class';

/**
 * Packages both nets' final checkpoints as a model folder (the format `nucleiflow segment --model`
 * reads), with the tuned post-processing when there is one.
 */
async function packageModel(
  call: { spec: RunSpec; stain: StainTarget | null; seg: TrainOutput; dist: TrainOutput; modelDir: string },
  tuned: TunedPostprocess | null,
): Promise<void> {
  const interiorSeeds = call.spec.postprocess.markers === 'interior';
  const [seg, dist] = await Promise.all([
    loadCheckpoint(dirname(call.seg.checkpoint)),
    loadCheckpoint(dirname(call.dist.checkpoint)),
  ]);
  if (!seg || !dist)
    throw new UserError(`missing final checkpoint of the ${seg ? 'distance' : 'segmentation'} net`);
  await saveModel(call.modelDir, {
    seg: seg.weights,
    dist: dist.weights,
    stainTarget: toStainModel(call.stain),
    dtype: 'float32',
    training: { spec: call.spec },
    // The seed rule is the spec's, not tuned: the model keeps it so segment seeds as the run did.
    ...(tuned || interiorSeeds
      ? { postprocess: { ...tuned, ...(interiorSeeds ? { markers: 'interior' as const } : {}) } }
      : {}),
    ...(call.spec.inference ? { inference: call.spec.inference } : {}),
    ...(threeClass(call.spec) ? { segOutput: 'softmax3' as const } : {}),
  });
}
