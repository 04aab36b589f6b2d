/**
 * What workflows and activities hand each other. Everything here crosses Temporal's payload
 * converter as JSON, so it is plain data: paths, ids and numbers, never images or tensors.
 */

import type { RunSpec } from '../experiments/index.ts';
import type { MapLayer } from '../src/imaging/layers.ts';
import type { PostprocessSetting } from '../src/postprocess/grid.ts';
import type { TrainedStage } from '../src/tracking/index.ts';

export type Stage = 'seg' | 'dist';

/** Task queues, possibly prefixed (tests and shared clusters keep deployments apart). */
export interface Queues {
  /** Workflows and the light activities. */
  readonly main: string;
  /** Training activities: `train-cpu`, or `train-gpu` when the spec asks for it. */
  readonly train: string;
}

export interface SlideRef {
  readonly id: string;
  readonly organ: string;
  /** 'train' for training slides; 'seen'/'unseen' organ for test slides. */
  readonly subset: 'train' | 'seen' | 'unseen';
  readonly image: string;
  readonly labels: string;
}

export interface SplitResult {
  readonly train: SlideRef[];
  readonly test: SlideRef[];
  /** sha256 over the used images' and labels' content hashes, in order. */
  readonly dataHash: string;
}

/** A Macenko stain model as JSON (Float64Arrays as number arrays). */
export interface StainTarget {
  readonly referenceId: string;
  readonly stainMatrix: number[];
  readonly maxConc: number[];
  readonly tissuePixels: number;
}

export interface RunInput {
  readonly runId: string;
  readonly experimentId: string;
  readonly spec: RunSpec;
  readonly queues: Queues;
}

export interface ExperimentInput {
  readonly experimentId: string;
  readonly runs: RunInput[];
  /** The spec's `orchestration.maxParallelRuns`; absent, every run starts at once. */
  readonly maxParallelRuns?: number;
}

export interface TrainInput {
  readonly runId: string;
  readonly stage: Stage;
  readonly spec: RunSpec;
  readonly train: SlideRef[];
  readonly stain: StainTarget | null;
}

export interface TrainOutput {
  readonly stage: Stage;
  /** The checkpoint holding the final weights. */
  readonly checkpoint: string;
  readonly epochsRun: number;
  readonly resumedFrom: number;
  readonly wallSeconds: number;
  /** What ran, over all attempts (runs.trained of this stage). */
  readonly trained: TrainedStage;
}

/** Details of a training heartbeat: where the run stands and where its last checkpoint is. */
export interface TrainHeartbeat {
  readonly stage: Stage;
  readonly epoch: number;
  /** Planned epochs; null for a minutes budget. */
  readonly epochs: number | null;
  readonly checkpoint: string | null;
}

export interface TuneInput {
  readonly runId: string;
  readonly spec: RunSpec;
  /** The training slides: the only images tuning may read. */
  readonly train: SlideRef[];
  readonly stain: StainTarget | null;
  readonly seg: TrainOutput;
  readonly dist: TrainOutput;
}

/** The post-processing setting tuning chose, with its mean scores on the training images. */
export interface TuneOutput {
  /** Its key in tuning_results (src/postprocess/grid.ts settingKey). */
  readonly key: string;
  readonly setting: PostprocessSetting;
  readonly aji: number;
  readonly dice: number;
  readonly f1: number;
  /** How many settings were scored. */
  readonly settings: number;
  /** Ids of the images the settings were scored on (all training slides). */
  readonly images: string[];
}

export interface InferInput {
  readonly runId: string;
  readonly spec: RunSpec;
  readonly test: SlideRef[];
  readonly stain: StainTarget | null;
  readonly seg: TrainOutput;
  readonly dist: TrainOutput;
  /** The setting tuning chose; null or absent: the spec's fixed post-processing. */
  readonly tuned?: TuneOutput | null;
}

export interface Prediction {
  readonly slide: SlideRef;
  /** 16-bit instance label PNG. */
  readonly labels: string;
  /** Instances from the stage-1 map alone (src/postprocess/stage1.ts), same format. */
  readonly stage1Labels?: string;
  /** Contour overlay PNG, when asked for. */
  readonly overlay?: string;
  /** The dashboard viewer's intermediate maps (<image>.<layer>.png), when overlays are asked for. */
  readonly layers?: Readonly<Record<MapLayer, string>>;
}

export interface SubsetMeans {
  readonly n: number;
  /** Means over images: all / seen / unseen organs. */
  readonly all: Record<string, number>;
  readonly seen: Record<string, number> | null;
  readonly unseen: Record<string, number> | null;
}

/** The two-stage method's means, and those of stage 1 alone (Table 1's "U-Net" column). */
export interface EvalSummary extends SubsetMeans {
  /** Null when no prediction had stage-1-alone labels. */
  readonly stage1: SubsetMeans | null;
}

export type RunStage =
  | 'start'
  | 'split'
  | 'reference'
  | 'normalise'
  | 'train'
  | 'tune'
  | 'infer'
  | 'evaluate'
  | 'report'
  | 'deliver'
  | 'done';

export interface RunProgress {
  readonly runId: string;
  readonly stage: RunStage;
  readonly status: 'running' | 'completed' | 'failed' | 'cancelled';
  readonly trained: Stage[];
}

/** One slide for the slide workflow (src/slide/pipeline.ts's job, plain data). */
export interface SlideInput {
  readonly job: import('../src/slide/pipeline.ts').SlideJob;
  /** Regions per region activity (default 4). */
  readonly batch?: number;
  /** Region activities in flight at once, across all workers (default 2). */
  readonly parallel?: number;
}

/** What the slide workflow returns: the summary's headline numbers (the full summary is the JSON file). */
export interface SlideResult {
  readonly slide: string;
  /** 'segmented', or 'skipped' when the same slide was already segmented with the same model. */
  readonly status: 'segmented' | 'skipped';
  readonly regions: number;
  /** Regions computed by this execution; the rest were recorded by an earlier one. */
  readonly computed: number;
  readonly nuclei: number;
  readonly tissueAreaMm2: number;
  readonly summary: string;
}

/** A slide of a folder whose workflow failed (the others go on). */
export interface SlideFailure {
  readonly slide: string;
  readonly status: 'failed';
  readonly error: string;
}

export interface SlideProgress {
  readonly slide: string;
  readonly stage: 'plan' | 'regions' | 'merge' | 'done';
  readonly regions: number;
  readonly done: number;
  readonly computed: number;
  readonly nuclei: number;
}
