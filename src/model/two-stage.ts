// Trains both U-Nets of Mahbod et al., ISBI 2019 on the Kumar training split and writes a model folder.
//
// Stage 1 (segmentation, modified GT) then stage 2 (normalised distance maps). Each stage keeps its
// own checkpoint folder under `runDir`, so an interrupted run resumes the stage it was in. Stage 2
// starts from the trained stage-1 weights when `distInit` is 'seg' (the cpu-60min choice: the
// encoder already knows nuclei, so the short distance schedule converges faster) or from he_normal
// like the paper when 'scratch'.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { HedJitter } from '../augment/hed.ts';
import { kumarSplit } from '../data/manifest.ts';
import { UserError } from '../errors.ts';
import type { GroundTruthModification } from '../groundtruth/modify.ts';
import { readRgb } from '../imaging/io.ts';
import { fitMacenko, type StainModel } from '../stain/macenko.ts';
import { selectReferenceImage } from '../stain/select-reference.ts';
import { type Stage, stageSeed } from './batch.ts';
import { type Checkpoint, loadCheckpoint } from './checkpoint.ts';
import { type SlideFiles, TrainingSet } from './dataset.ts';
import { type ModelManifest, saveModel } from './model-dir.ts';
import type { TrainingSchedule } from './schedule.ts';
import { type EpochMetrics, runConfigHash, type TrainResult, train } from './train.ts';

export interface TwoStageOptions {
  readonly dataDir: string;
  readonly cacheDir: string;
  /** Checkpoints go to `<runDir>/seg` and `<runDir>/dist`. */
  readonly runDir: string;
  /** Model folder written when both stages are complete. */
  readonly outDir?: string;
  readonly stages: readonly Stage[];
  readonly seed: number;
  readonly schedules: { readonly seg: TrainingSchedule; readonly dist: TrainingSchedule };
  readonly stainNormalisation: boolean;
  /**
   * 'paper': the Macenko target is the training slide whose ground-truth nuclei and background
   * histograms differ most (src/stain/select-reference.ts); 'first': the first training slide in
   * manifest order (the first shipped model, cpu-60min-s1, was trained this way).
   */
  readonly referenceSelection: 'paper' | 'first';
  readonly hed: HedJitter | null;
  readonly flipRotate: boolean;
  readonly groundTruth: GroundTruthModification;
  readonly distInit: 'seg' | 'scratch';
  /** Use only the first N training slides (tests, smoke runs). */
  readonly maxTrainImages?: number;
  readonly onEpoch?: (m: EpochMetrics) => void | Promise<void>;
  readonly signal?: AbortSignal;
  readonly progress?: boolean;
  /** Extra provenance copied into model.json's `training`. */
  readonly provenance?: Record<string, unknown>;
}

export interface TwoStageResult {
  readonly results: Partial<Record<Stage, TrainResult>>;
  readonly model?: ModelManifest;
  readonly stainTarget: StainModel | null;
  readonly trainSlides: readonly string[];
  readonly peakRssMB: number;
  readonly datasetBytes: number;
}

/** The four organs' first slides: fixed validation crops (no held-out data; the paper trains on all 16). */
function validationSlides(train: readonly SlideFiles[], organs: readonly string[]): SlideFiles[] {
  const seen = new Set<string>();
  const out: SlideFiles[] = [];
  train.forEach((s, i) => {
    if (!seen.has(organs[i]!)) {
      seen.add(organs[i]!);
      out.push(s);
    }
  });
  return out;
}

export async function trainTwoStage(o: TwoStageOptions): Promise<TwoStageResult> {
  const split = await kumarSplit(o.dataDir);
  const train0 = split.train.slice(0, o.maxTrainImages ?? split.train.length);
  const slides: SlideFiles[] = train0.map((s) => {
    if (!s.labelPath) throw new UserError(`${s.id}: training slide has no label PNG in the manifest`);
    return { id: s.id, image: s.imagePath, labels: s.labelPath };
  });
  const referenceId = !o.stainNormalisation
    ? null
    : o.referenceSelection === 'paper'
      ? (
          await selectReferenceImage(
            slides.map((s) => ({ id: s.id, imagePath: s.image, labelPath: s.labels })),
          )
        ).chosen.id
      : slides[0]!.id;
  const reference = slides.find((s) => s.id === referenceId);
  const stainTarget = reference ? fitMacenko(await readRgb(reference.image)) : null;
  const data = await TrainingSet.load({
    slides,
    stainTarget,
    cacheDir: o.cacheDir,
    hed: o.hed,
    flipRotate: o.flipRotate,
    groundTruth: o.groundTruth,
    validationSlides: validationSlides(
      slides,
      train0.map((s) => s.organ),
    ),
  });
  let peakRss = process.memoryUsage().rss;
  const configHash = createHash('sha256')
    .update(
      JSON.stringify({
        slides: slides.map((s) => s.id),
        stain: stainTarget ? [Array.from(stainTarget.stainMatrix), Array.from(stainTarget.maxConc)] : null,
        hed: o.hed,
        flipRotate: o.flipRotate,
        gt: o.groundTruth,
        distInit: o.distInit,
      }),
    )
    .digest('hex');

  const results: Partial<Record<Stage, TrainResult>> = {};
  const onEpoch = async (m: EpochMetrics) => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    await o.onEpoch?.(m);
  };
  const segDir = join(o.runDir, 'seg');
  const distDir = join(o.runDir, 'dist');
  const common = { seed: o.seed, data, configHash, onEpoch, signal: o.signal, progress: o.progress };

  if (o.stages.includes('seg')) {
    results.seg = await train({
      ...common,
      stage: 'seg',
      schedule: o.schedules.seg,
      checkpointDir: segDir,
    });
  }
  // Without a stage-1 run in this process, stage 1 comes from its checkpoint: read (23 MB) once,
  // for the distance net's initial weights, the model's weights and its run record.
  let segCheckpoint: Checkpoint | undefined;
  const segStage = async (): Promise<TrainResult | Checkpoint> => {
    if (results.seg) return results.seg;
    if (segCheckpoint) return segCheckpoint;
    const ck = await loadCheckpoint(segDir);
    const want = runConfigHash({ ...common, stage: 'seg', schedule: o.schedules.seg });
    if (!ck || ck.header.configHash !== want) {
      throw new UserError(
        `stage dist needs a finished stage-1 run of this config in ${segDir}; run --stage seg first`,
      );
    }
    segCheckpoint = ck;
    return ck;
  };
  const segWeights = async (): Promise<Float32Array[]> => [...(await segStage()).weights];
  if (o.stages.includes('dist')) {
    results.dist = await train({
      ...common,
      seed: stageSeed(o.seed, 'dist'),
      stage: 'dist',
      schedule: o.schedules.dist,
      checkpointDir: distDir,
      initialWeights: o.distInit === 'seg' ? await segWeights() : undefined,
    });
  }
  let model: ModelManifest | undefined;
  if (o.outDir && results.dist) {
    const seg = await segStage();
    model = await saveModel(o.outDir, {
      seg: [...seg.weights],
      dist: results.dist.weights,
      stainTarget,
      training: {
        ...o.provenance,
        seed: o.seed,
        schedules: o.schedules,
        distInit: o.distInit,
        referenceSelection: o.referenceSelection,
        referenceId,
        hed: o.hed,
        flipRotate: o.flipRotate,
        groundTruth: o.groundTruth,
        trainSlides: slides.map((s) => s.id),
        // Each stage's per-epoch history, so the card and learning curves can be rebuilt after the
        // checkpoints in the cache are gone (another machine, a cleared cache).
        runs: {
          seg: stageRecord('header' in seg ? seg.header : seg),
          dist: stageRecord(results.dist),
        },
      },
    });
  }
  return {
    results,
    model,
    stainTarget,
    trainSlides: slides.map((s) => s.id),
    peakRssMB: Math.round(peakRss / 2 ** 20),
    datasetBytes: data.bytes,
  };
}

/** What model.json keeps of one stage's run: totals and the per-epoch history (a few kB). */
export interface StageRecord {
  readonly epochs: number;
  readonly steps: number;
  readonly wallSeconds: number;
  readonly machineSeconds: number;
  readonly configHash: string;
  readonly history: readonly EpochMetrics[];
}

/** A stage's record from a finished run in this process or from its checkpoint header. */
export function stageRecord(r: TrainResult | Checkpoint['header']): StageRecord {
  const done = 'epochsRun' in r;
  return {
    epochs: done ? r.epochsRun : r.epoch,
    steps: done ? r.steps : r.adamSteps,
    wallSeconds: Math.round(r.wallSeconds),
    machineSeconds: Math.round(r.cpuSeconds),
    configHash: r.configHash,
    history: r.history,
  };
}
