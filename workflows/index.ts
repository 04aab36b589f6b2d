/**
 * Temporal workflows: deterministic and thin. An experiment starts one child workflow per run; a
 * run is a DAG of activities:
 *   split -> reference -> normalise -> (train seg || train dist) -> [tune] -> infer -> evaluate -> report
 *   -> register the model (tune only when the spec has a postprocess.grid).
 * All I/O happens in activities (activities/index.ts); this file only sequences them, sets their
 * timeouts and retry policies, and records the outcome. Bundled by the worker; import nothing here
 * but @temporalio/workflow and types.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  executeChild,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type {
  EvalSummary,
  ExperimentInput,
  RunInput,
  RunProgress,
  RunStage,
  SlideFailure,
  SlideInput,
  SlideProgress,
  SlideResult,
  Stage,
  TuneOutput,
} from '../activities/types.ts';

export const progressQuery = defineQuery<RunProgress>('progress');
export const slideProgressQuery = defineQuery<SlideProgress>('slideProgress');

/** Workflow id of a run; `nucleiflow resume` starts a new execution under the same id. */
export const runWorkflowId = (runId: string) => `nucleiflow-run-${runId}`;
export const experimentWorkflowId = (experimentId: string) => `nucleiflow-exp-${experimentId}`;

const fast = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 10,
  nonRetryableErrorTypes: ['UserError', 'InputError', 'ConfigError', 'SpecError'],
};

/** Bookkeeping: quick database writes. */
const book = proxyActivities<Activities>({ startToCloseTimeout: '2 minutes', retry: fast });
/** Data preparation on the main queue: reads and writes images, heartbeats per image. */
const data = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '5 minutes',
  retry: { ...fast, maximumAttempts: 5 },
});

/** Closing an experiment: retried with backoff until MLflow has every record (MLflow may be down a while). */
const closing = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  scheduleToCloseTimeout: '7 days',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '15s' },
});

function errorMessage(err: unknown): string {
  let e = err;
  while ((e instanceof ActivityFailure || e instanceof Error) && (e as Error).cause) e = (e as Error).cause;
  return e instanceof Error ? e.message : String(e);
}

export async function runWorkflow(input: RunInput): Promise<EvalSummary> {
  const { runId, spec } = input;
  const o = spec.orchestration;
  const training = proxyActivities<Activities>({
    taskQueue: input.queues.train,
    startToCloseTimeout: `${o.trainTimeoutMinutes} minutes`,
    heartbeatTimeout: `${o.heartbeatTimeoutSeconds} seconds`,
    retry: { ...fast, maximumAttempts: 20, maximumInterval: '10s' },
  });
  let stage: RunStage = 'start';
  const trained: Stage[] = [];
  let status: RunProgress['status'] = 'running';
  setHandler(progressQuery, () => ({ runId, stage, status, trained: [...trained] }));

  // MLflow delivery during the run is best effort and runs beside the DAG, one delivery at a time
  // (two at once could both create the MLflow run); the experiment workflow insists at the end.
  let delivery: Promise<unknown> = Promise.resolve();
  const deliverInBackground = () => {
    delivery = delivery.then(() =>
      book.deliverOutbox({ runIds: [runId], mustEmpty: false }).catch(() => undefined),
    );
  };

  try {
    await book.startRun({ runId, workflowId: workflowInfo().workflowId });
    stage = 'split';
    const split = await book.splitData({ runId, spec });
    stage = 'reference';
    const stain = await data.selectReference({ runId, spec, train: split.train });
    stage = 'normalise';
    await data.normalise({ runId, spec, slides: [...split.train, ...split.test], stain });
    deliverInBackground();
    stage = 'train';
    const trainOne = async (s: Stage) => {
      const out = await training.trainNet({ runId, stage: s, spec, train: split.train, stain });
      trained.push(s);
      return out;
    };
    // The two nets are independent unless the distance net starts from the segmentation net.
    const [seg, dist] =
      spec.training.distInit === 'seg'
        ? [await trainOne('seg'), await trainOne('dist')]
        : await Promise.all([trainOne('seg'), trainOne('dist')]);
    deliverInBackground();
    // Post-processing chosen on the training slides only; without a grid the spec's fixed rule applies.
    let tuned: TuneOutput | null = null;
    if (spec.postprocess.grid) {
      stage = 'tune';
      tuned = await data.tunePostprocess({ runId, spec, train: split.train, stain, seg, dist });
    }
    stage = 'infer';
    const predictions = await data.infer({ runId, spec, test: split.test, stain, seg, dist, tuned });
    stage = 'evaluate';
    const summary = await data.evaluate({ runId, spec, predictions });
    stage = 'report';
    // Writes the report and marks the run completed.
    await book.report({ runId });
    await book.registerModel({ runId });
    status = 'completed';
    stage = 'deliver';
    await delivery;
    stage = 'done';
    return summary;
  } catch (err) {
    const cancelled = isCancellation(err);
    status = cancelled ? 'cancelled' : 'failed';
    await CancellationScope.nonCancellable(async () => {
      await book.finishRun({
        runId,
        status,
        ...(cancelled ? {} : { error: `${stage}: ${errorMessage(err)}` }),
      });
      deliverInBackground();
      await delivery;
    });
    throw err;
  }
}

/**
 * Runs every planned run as a child workflow, at most `maxParallelRuns` at a time (all at once when
 * unset), starting them in matrix order; waits for all of them (a failed run does not stop its
 * siblings), then waits until MLflow has every record.
 */
export async function experimentWorkflow(input: ExperimentInput): Promise<Record<string, string>> {
  const results: PromiseSettledResult<unknown>[] = [];
  let next = 0;
  // Each lane takes the next unstarted run when its previous one ends; the order is deterministic.
  const lane = async () => {
    while (next < input.runs.length) {
      const i = next++;
      const r = input.runs[i]!;
      try {
        const value = await executeChild(runWorkflow, {
          args: [r],
          workflowId: runWorkflowId(r.runId),
          taskQueue: r.queues.main,
        });
        results[i] = { status: 'fulfilled', value };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  const lanes = Math.min(input.maxParallelRuns ?? input.runs.length, input.runs.length);
  await Promise.all(Array.from({ length: lanes }, lane));
  const outcome: Record<string, string> = {};
  input.runs.forEach((r, i) => {
    const res = results[i]!;
    outcome[r.runId] =
      res.status === 'fulfilled' ? 'completed' : isCancellation(res.reason) ? 'cancelled' : 'failed';
  });
  const status = await closing.closeExperiment({
    experimentId: input.experimentId,
    runIds: input.runs.map((r) => r.runId),
  });
  if (status === 'failed') {
    throw ApplicationFailure.nonRetryable(
      `experiment ${input.experimentId}: ${JSON.stringify(outcome)}`,
      'RunsFailed',
    );
  }
  return outcome;
}

/** A failed or cancelled run continued by `nucleiflow resume`: the run workflow, then the experiment's status. */
export async function resumeWorkflow(input: RunInput): Promise<EvalSummary> {
  try {
    return await runWorkflow(input);
  } finally {
    await CancellationScope.nonCancellable(() =>
      closing.closeExperiment({ experimentId: input.experimentId, runIds: [input.runId] }),
    );
  }
}

/** Slide work on the main queue, where inference runs: region batches heartbeat per region. */
const slideWork = proxyActivities<Activities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '2 minutes',
  retry: { ...fast, maximumAttempts: 5 },
});

/**
 * One slide: plan, region batches fanned out (`parallel` in flight, picked up by whichever workers poll the queue),
 * merge. Every region's result is recorded in the slide's parts folder as it finishes, so a retried batch or a new
 * execution after a restart only computes regions that have none.
 */
export async function slideWorkflow(input: SlideInput): Promise<SlideResult> {
  const { job } = input;
  const slide = job.slide;
  const started = Date.now();
  const base = { workflowId: workflowInfo().workflowId, slide, model: job.model.id, outDir: job.outDir };
  let progress: SlideProgress = { slide, stage: 'plan', regions: 0, done: 0, computed: 0, nuclei: 0 };
  setHandler(slideProgressQuery, () => progress);
  try {
    await book.recordSlide({ ...base, status: 'running' });
    const plan = await slideWork.planSlide({ job });
    const regions = plan.regions.length;
    const known = { identity: plan.identity, regions, tissueAreaMm2: plan.tissueAreaMm2 };
    if (plan.complete) {
      progress = { ...progress, stage: 'done', regions, done: regions };
      await book.recordSlide({ ...base, ...known, status: 'skipped', computed: 0 });
      return {
        slide,
        status: 'skipped',
        regions,
        computed: 0,
        nuclei: 0,
        tissueAreaMm2: plan.tissueAreaMm2,
        summary: '',
      };
    }
    await book.recordSlide({ ...base, ...known, status: 'running' });
    const recorded = new Set(plan.done);
    const todo = plan.regions.filter((id) => !recorded.has(id));
    const size = Math.max(1, input.batch ?? 4);
    const batches: string[][] = [];
    for (let i = 0; i < todo.length; i += size) batches.push(todo.slice(i, i + size));
    progress = { ...progress, stage: 'regions', regions, done: plan.done.length };
    let next = 0;
    const lane = async () => {
      while (next < batches.length) {
        const ids = batches[next++]!;
        const r = await slideWork.segmentSlideRegions({ job, ids });
        progress = {
          ...progress,
          done: progress.done + ids.length,
          computed: progress.computed + r.computed,
          nuclei: progress.nuclei + r.nuclei,
        };
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, input.parallel ?? 2) }, lane));
    progress = { ...progress, stage: 'merge' };
    const merged = await slideWork.mergeSlide({ job });
    progress = { ...progress, stage: 'done', nuclei: merged.nuclei };
    await book.recordSlide({
      ...base,
      ...known,
      status: 'completed',
      computed: progress.computed,
      nuclei: merged.nuclei,
      timings: { wallSeconds: (Date.now() - started) / 1000 },
      summary: merged.summary,
    });
    return {
      slide,
      status: 'segmented',
      regions,
      computed: progress.computed,
      nuclei: merged.nuclei,
      tissueAreaMm2: merged.tissueAreaMm2,
      summary: merged.summary,
    };
  } catch (err) {
    if (!isCancellation(err)) {
      await book.recordSlide({ ...base, status: 'failed', error: errorMessage(err) }).catch(() => undefined);
    }
    throw err;
  }
}

/** A folder of slides: one child workflow per slide, one after another; a failed slide does not stop the rest. */
export async function slidesWorkflow(input: {
  readonly slides: readonly SlideInput[];
  readonly workflowIds: readonly string[];
}): Promise<Array<SlideResult | SlideFailure>> {
  const out: Array<SlideResult | SlideFailure> = [];
  for (const [i, s] of input.slides.entries()) {
    try {
      out.push(await executeChild(slideWorkflow, { args: [s], workflowId: input.workflowIds[i]! }));
    } catch (err) {
      if (isCancellation(err)) throw err;
      out.push({ slide: s.job.slide, status: 'failed', error: errorMessage(err) });
    }
  }
  return out;
}
