/**
 * Live progress of runs: stage from the run workflow's `progress` query, epochs from the metric
 * rows. A progress bar per run on a terminal, one line per change otherwise. Ctrl-C detaches: the
 * follower stops, the runs do not.
 */
import { setMaxListeners } from 'node:events';
import cliProgress from 'cli-progress';
import type { RunProgress } from '../activities/types.ts';
import type { RunSpec } from '../experiments/schema.ts';
import { plannedEpochs } from '../src/model/schedule.ts';
import type { Db } from '../src/storage/index.ts';
import * as tracking from '../src/tracking/index.ts';
import { progressQuery, runWorkflowId } from '../workflows/index.ts';
import type { TemporalHandle } from './temporal.ts';

export interface FollowResult {
  /** True when the user pressed Ctrl-C before the runs ended. */
  readonly detached: boolean;
  readonly statuses: Record<string, string>;
}

interface RunView {
  status: string;
  stage: string;
  epochs: number;
  /** Planned epochs of both nets; null when a net has a minutes budget (known only when spent). */
  total: number | null;
}

/** Training images of the Kumar split (experiments/schema.ts dataset.maxTrainImages caps it). */
const KUMAR_TRAIN_IMAGES = 16;

/** Epochs both nets of a run will train, or null when one has a minutes budget. */
export function plannedRunEpochs(spec: RunSpec): number | null {
  const images = spec.dataset.maxTrainImages ?? KUMAR_TRAIN_IMAGES;
  const nets = (['seg', 'dist'] as const).map((s) => plannedEpochs(spec.training[s], images));
  return nets.some((n) => n === null) ? null : nets.reduce<number>((a, n) => a + n!, 0);
}

async function view(
  db: Db,
  temporal: TemporalHandle,
  runIds: readonly string[],
): Promise<Record<string, RunView>> {
  const steps = await tracking.lastSteps(db, runIds);
  const out: Record<string, RunView> = {};
  for (const id of runIds) {
    const run = await tracking.getRun(db, id);
    const spec = run?.spec as RunSpec | undefined;
    const total = spec ? plannedRunEpochs(spec) : 0;
    const epochs = steps.filter((s) => s.runId === id && s.stage !== 'eval').reduce((n, s) => n + s.step, 0);
    let stage = run?.status ?? 'unknown';
    if (run && !tracking.TERMINAL.includes(run.status as tracking.RunStatus)) {
      try {
        const p: RunProgress = await temporal.client.workflow
          .getHandle(runWorkflowId(id))
          .query(progressQuery);
        stage = p.stage;
      } catch {
        // Not started yet, or no worker to answer the query: keep the status.
      }
    }
    out[id] = { status: run?.status ?? 'unknown', stage, epochs, total };
  }
  return out;
}

/**
 * Follows runs until all are terminal (or `until` settles), drawing progress. Resolves early with
 * detached=true on SIGINT.
 */
export async function followRuns(
  db: Db,
  temporal: TemporalHandle,
  runIds: readonly string[],
  opts: { until?: Promise<unknown>; intervalMs?: number; out?: NodeJS.WriteStream } = {},
): Promise<FollowResult> {
  const out = opts.out ?? process.stderr;
  const tty = out.isTTY === true;
  let detached = false;
  let settled = false;
  let wake: (() => void) | undefined;
  const onSigint = () => {
    detached = true;
    wake?.();
  };
  process.on('SIGINT', onSigint);
  opts.until?.then(
    () => {
      settled = true;
      wake?.();
    },
    () => {
      settled = true;
      wake?.();
    },
  );
  const multi = tty
    ? new cliProgress.MultiBar(
        {
          format: '{run} [{bar}] {value}/{of} epochs | {stage}',
          stream: out,
          hideCursor: true,
          clearOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const bars = new Map<string, cliProgress.SingleBar>();
  const last = new Map<string, string>();
  let current: Record<string, RunView> = {};
  try {
    for (;;) {
      try {
        current = await view(db, temporal, runIds);
      } catch {
        // The database is briefly unreachable (e.g. restarting): try again on the next tick.
      }
      for (const [id, v] of Object.entries(current)) {
        if (multi) {
          let bar = bars.get(id);
          // A minutes budget's length is not known in advance: the bar keeps one epoch ahead.
          const total = Math.max(1, v.total ?? v.epochs + 1);
          const of = v.total ?? '?';
          if (!bar) {
            bar = multi.create(total, 0, { run: id, stage: v.stage, of });
            bars.set(id, bar);
          }
          bar.setTotal(total);
          bar.update(Math.min(v.epochs, total), { stage: v.stage, of });
        } else {
          const line = `${id}: ${v.stage} (${v.epochs}/${v.total ?? '?'} epochs)`;
          if (last.get(id) !== line) {
            out.write(`${line}\n`);
            last.set(id, line);
          }
        }
      }
      const allDone =
        runIds.length > 0 &&
        runIds.every(
          (id) => current[id] && tracking.TERMINAL.includes(current[id]!.status as tracking.RunStatus),
        );
      if (detached || settled || allDone) break;
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, opts.intervalMs ?? 1000);
      });
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
    multi?.stop();
  }
  if (settled && !detached) current = await view(db, temporal, runIds).catch(() => current);
  return { detached, statuses: Object.fromEntries(Object.entries(current).map(([k, v]) => [k, v.status])) };
}

/**
 * A workflow's result as a promise that can be abandoned: `abort()` ends the long poll, so the
 * connection can close (e.g. after Ctrl-C) without a pending gRPC retry outliving it.
 */
export function workflowResult(
  temporal: TemporalHandle,
  workflowId: string,
): { promise: Promise<unknown>; abort: () => void } {
  const ac = new AbortController();
  // The client adds an abort listener per gRPC call (each long poll of the history) and never
  // removes it: past 10, Node would print a MaxListenersExceededWarning on the user's terminal.
  setMaxListeners(0, ac.signal);
  const wf = temporal.client.workflow;
  const promise = wf.withAbortSignal(ac.signal, () => wf.getHandle(workflowId).result());
  promise.catch(() => {});
  return { promise, abort: () => ac.abort() };
}
