/**
 * The science the platform schedules, as one interface of plain-data calls: the activities
 * (activities/index.ts) own tracking, heartbeats and file layout, and call these functions for the
 * work itself. `realCompute` (activities/pipeline.ts) binds them to src/; tests of the orchestration
 * alone may pass their own.
 *
 * A worker runs realCompute in child processes (platform/compute-process.ts), so every argument and
 * result must survive structured clone, except functions (called back in the worker, awaited; their
 * results return to the child) and AbortSignals (aborted in the child when aborted in the worker), at
 * any depth in arrays and plain objects. Errors come back with name, message and stack, a UserError as
 * a UserError. New methods need no change to the proxy.
 */
import type { RunSpec } from '../experiments/index.ts';
import type { TunedPostprocess } from '../src/model/model-dir.ts';
import type { SettingScore } from '../src/postprocess/tune.ts';
import type {
  PlanOutcome,
  RegionProgress,
  RegionsOutcome,
  SlideJob,
  SlideSummary,
} from '../src/slide/pipeline.ts';
import type { ImageResultRow } from '../src/tracking/index.ts';
import type { Prediction, SlideRef, SplitResult, Stage, StainTarget, TrainOutput } from './types.ts';

/** One finished epoch, as the training loop reports it. */
export interface EpochEvent {
  readonly stage: Stage;
  /** 1-based. */
  readonly epoch: number;
  /** Planned epochs; null for a minutes budget. */
  readonly epochs: number | null;
  /** Scalars recorded for this epoch (loss, val_loss, lr, seconds, images_per_s, ...). */
  readonly values: Record<string, number>;
}

export interface TrainCall {
  readonly stage: Stage;
  readonly spec: RunSpec;
  /** Hash of the resolved run spec; a checkpoint from another config is refused. */
  readonly configHash: string;
  readonly train: readonly SlideRef[];
  readonly stain: StainTarget | null;
  readonly checkpointDir: string;
  readonly signal: AbortSignal;
  /** Called after each epoch's checkpoint is on disk. */
  readonly onEpoch: (e: EpochEvent) => Promise<void>;
}

export interface TuneCall {
  readonly spec: RunSpec;
  /** Training slides only; their ground truth scores the settings. */
  readonly slides: readonly SlideRef[];
  readonly stain: StainTarget | null;
  readonly seg: TrainOutput;
  readonly dist: TrainOutput;
  /** Where both nets are packaged (without a tuned setting) to run them. */
  readonly modelDir: string;
  readonly signal: AbortSignal;
  /** Called after each image's nets ran and after each setting was scored. */
  readonly onProgress: (p: { images: number; settings: number }) => void;
}

export interface TuneOutcome {
  /** Every setting of the spec's grid, in grid order. */
  readonly scores: SettingScore[];
  readonly chosen: SettingScore;
  /** Ids of the images that were read, in order. */
  readonly images: string[];
}

export interface InferCall {
  readonly spec: RunSpec;
  readonly slides: readonly SlideRef[];
  readonly stain: StainTarget | null;
  readonly seg: TrainOutput;
  readonly dist: TrainOutput;
  /** Label maps go here as <slide id>.png. */
  readonly outDir: string;
  /** Where both nets are packaged as a model folder (src/model/model-dir.ts). */
  readonly modelDir: string;
  /** Stage-1-alone label maps go here as <slide id>.png. */
  readonly stage1Dir: string;
  /** The setting tuning chose, packaged into model.json; null: the spec's fixed post-processing. */
  readonly tuned: TunedPostprocess | null;
  /** Contour overlays as <slide id>.png, or null for none. */
  readonly overlayDir: string | null;
  readonly signal: AbortSignal;
  /** Called after each image's label map is written. */
  readonly onImage: (p: Prediction, index: number) => Promise<void>;
}

export interface SlideRegionsCall {
  readonly job: SlideJob;
  readonly ids: readonly string[];
  readonly signal: AbortSignal;
  /** Called after each region is recorded (or found recorded). */
  readonly onRegion: (p: RegionProgress) => Promise<void>;
}

export interface Compute {
  split(dataDir: string, spec: RunSpec): Promise<SplitResult>;
  selectReference(spec: RunSpec, train: readonly SlideRef[]): Promise<StainTarget | null>;
  /** Normalises the slides into the content-addressed cache; returns how many were already there. */
  normalise(
    spec: RunSpec,
    slides: readonly SlideRef[],
    stain: StainTarget | null,
    onImage: (i: number) => void,
  ): Promise<{ cached: number; computed: number }>;
  train(call: TrainCall): Promise<Omit<TrainOutput, 'stage'>>;
  /** Runs both nets once per training slide and scores every setting of spec.postprocess.grid. */
  tune(call: TuneCall): Promise<TuneOutcome>;
  infer(call: InferCall): Promise<Prediction[]>;
  /** One row per method the prediction has: 'two-stage', and 'stage1' when it has stage-1-alone labels. */
  evaluate(spec: RunSpec, p: Prediction): Promise<ImageResultRow[]>;
  /** Whole slides (src/slide/pipeline.ts): plan with the model's nets for the calibration, regions, merge. */
  slidePlan(job: SlideJob): Promise<PlanOutcome>;
  slideRegions(call: SlideRegionsCall): Promise<RegionsOutcome>;
  slideMerge(job: SlideJob): Promise<SlideSummary>;
}
