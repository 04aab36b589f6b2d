// `nucleiflow segment` for whole slides: each slide runs as the slide workflow on Temporal (workflows/index.ts),
// on the workers polling the main queue, or on an in-process worker where none can (the embedded default, as
// `run`). A folder of slides is one parent workflow with a child per slide. Follows with a progress bar.
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import cliProgress from 'cli-progress';
import type { SlideFailure, SlideInput, SlideProgress, SlideResult } from '../activities/types.ts';
import { openSession } from '../platform/session.ts';
import { queuesFor, TRAIN_QUEUES } from '../platform/temporal.ts';
import { InputError, UserError } from '../src/errors.ts';
import type { SlideJob, SlideModel } from '../src/slide/pipeline.ts';
import { slideProgressQuery, slidesWorkflow, slideWorkflow } from '../workflows/index.ts';

/** The workflow id of one slide's segmentation into one folder: the same id resumes it. */
export function slideWorkflowId(slide: string, outDir: string): string {
  const h = createHash('sha256').update(resolve(slide)).update('\n').update(resolve(outDir)).digest('hex');
  return `nucleiflow-slide-${h.slice(0, 20)}`;
}

export interface SlideSegmentOptions {
  readonly outDir: string;
  readonly model: SlideModel;
  readonly mpp?: number;
  readonly force?: boolean;
  readonly gzip?: boolean;
  readonly parallel?: number;
}

function line(r: SlideResult | SlideFailure): string {
  if (r.status === 'failed') return `${r.slide}: failed: ${r.error}`;
  if (r.status === 'skipped') {
    return `${r.slide}: already segmented with this model (pass --force to redo it)`;
  }
  if (r.regions === 0) return `${r.slide}: no tissue found; wrote empty outputs -> ${r.summary}`;
  const perMm2 = r.tissueAreaMm2 > 0 ? `, ${Math.round(r.nuclei / r.tissueAreaMm2)} per mm^2` : '';
  return `${r.slide}: ${r.nuclei} nuclei in ${r.tissueAreaMm2.toFixed(2)} mm^2 of tissue${perMm2} (${r.regions} regions, ${r.computed} computed now) -> ${r.summary}`;
}

/**
 * Segments whole slides through the slide workflow and prints one line per slide. Returns false when a slide
 * failed. A workflow already running for the same slide and output folder is followed, not started twice.
 */
export async function segmentSlides(slides: readonly string[], o: SlideSegmentOptions): Promise<boolean> {
  const session = await openSession({ worker: 'auto', requireData: false, trainQueue: TRAIN_QUEUES[0] });
  try {
    const { client } = session.temporal;
    const taskQueue = queuesFor(TRAIN_QUEUES[0]).main;
    const inputs: SlideInput[] = slides.map((slide) => {
      const job: SlideJob = {
        slide: resolve(slide),
        outDir: resolve(o.outDir),
        model: o.model,
        ...(o.mpp !== undefined ? { mpp: o.mpp } : {}),
        ...(o.force ? { force: true } : {}),
        ...(o.gzip ? { gzip: true } : {}),
      };
      return { job, ...(o.parallel ? { parallel: o.parallel } : {}) };
    });
    const ids = inputs.map((i) => slideWorkflowId(i.job.slide, i.job.outDir));
    const start = async () => {
      if (inputs.length === 1) {
        return client.workflow.start(slideWorkflow, { taskQueue, workflowId: ids[0]!, args: [inputs[0]!] });
      }
      const parentId = `nucleiflow-slides-${createHash('sha256').update(ids.join('\n')).digest('hex').slice(0, 20)}`;
      return client.workflow.start(slidesWorkflow, {
        taskQueue,
        workflowId: parentId,
        args: [{ slides: inputs, workflowIds: ids }],
      });
    };
    let handle: Awaited<ReturnType<typeof start>>;
    try {
      handle = await start();
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      process.stderr.write(`nucleiflow: ${err.workflowId} is already running; following it\n`);
      handle = client.workflow.getHandle(err.workflowId) as typeof handle;
    }
    const results: unknown = await follow(client, ids, handle.result() as Promise<unknown>).catch((err) => {
      throw userFacing(err);
    });
    const all = (Array.isArray(results) ? results : [results]) as Array<SlideResult | SlideFailure>;
    for (const r of all) process.stdout.write(`${line(r)}\n`);
    return all.every((r) => r.status !== 'failed');
  } finally {
    await session.close();
  }
}

/**
 * A failed slide workflow as the user should see it: the message of the innermost non-retryable application
 * failure (activities fail every UserError that way, so an InputError says which file and what is wrong) as a
 * UserError; anything else as an error naming the workflow's failure.
 */
function userFacing(err: unknown): unknown {
  if (!(err instanceof WorkflowFailedError)) return err;
  let e: unknown = err;
  let userMessage: string | undefined;
  while (e instanceof Error) {
    if (e instanceof ApplicationFailure && e.nonRetryable) userMessage = e.message;
    if (!e.cause) break;
    e = e.cause;
  }
  const message = e instanceof Error ? e.message : String(e);
  return userMessage !== undefined
    ? new UserError(userMessage)
    : new Error(`slide workflow failed: ${message}`, { cause: err });
}

/** A progress bar over the slides' regions (done / planned, nuclei, ETA) until `result` settles. */
async function follow<T>(
  client: Awaited<ReturnType<typeof openSession>>['temporal']['client'],
  ids: readonly string[],
  result: Promise<T>,
): Promise<T> {
  const tty = process.stderr.isTTY === true;
  const bar = new cliProgress.SingleBar(
    {
      format: '{slide} [{bar}] {value}/{total} regions | {nuclei} nuclei | {stage} | ETA {eta_formatted}',
      stream: process.stderr,
      hideCursor: tty,
      noTTYOutput: !tty,
      notTTYSchedule: 10_000,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let settled = false;
  const done = result.finally(() => {
    settled = true;
  });
  try {
    while (!settled) {
      for (const id of ids) {
        const p = await client.workflow
          .getHandle(id)
          .query(slideProgressQuery)
          .catch(() => undefined as SlideProgress | undefined);
        if (!p || p.stage === 'done' || p.stage === 'plan') continue;
        const name = p.slide.split('/').pop()!;
        if (!started) {
          bar.start(Math.max(1, p.regions), p.done, { slide: name, nuclei: p.nuclei, stage: p.stage });
          started = true;
        }
        bar.setTotal(Math.max(1, p.regions));
        bar.update(p.done, { slide: name, nuclei: p.nuclei, stage: p.stage });
      }
      await Promise.race([done.catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
    }
  } finally {
    if (started) bar.stop();
  }
  return done;
}
