/**
 * Submit and follow: the one way `run`, `train` and `rerun` start an experiment from the CLI.
 * Opens a session (an in-process worker where no shared one can run it), submits the loaded spec,
 * prints the ids, follows the runs to their end and hands the finished runs to the caller.
 */
import type { LoadedSpec } from '../experiments/index.ts';
import { loadConfig, requireDataDir } from '../src/config.ts';
import type { Db } from '../src/storage/index.ts';
import * as tracking from '../src/tracking/index.ts';
import { followRuns, workflowResult } from './follow.ts';
import { openSession } from './session.ts';
import { type SubmitOptions, submitExperiment } from './submit.ts';
import { hasPollers, queuesFor } from './temporal.ts';

export interface LaunchOptions extends SubmitOptions {
  /** Return after submitting (only where shared workers will run it). */
  readonly detach?: boolean;
  /**
   * Runs once the runs have ended (not after a detach), with their summaries and the open
   * database: the CLI prints its results table here.
   */
  readonly finished: (runs: readonly tracking.RunSummary[], db: Db) => Promise<void> | void;
}

/**
 * Submits a loaded spec as one experiment, prints `experiment <id>` and `run <id>` lines, follows
 * its runs to the end and calls `opts.finished`. Sets a non-zero exit code when a run did not
 * complete.
 */
export async function launchExperiment(loaded: LoadedSpec, opts: LaunchOptions): Promise<void> {
  // Everything that can be wrong with the data is found before anything starts.
  requireDataDir(loadConfig());
  const session = await openSession({
    worker: 'auto',
    trainQueue: loaded.runs[0]!.spec.orchestration.trainQueue,
  });
  let abortResult = () => {};
  try {
    if (!session.config.mlflowTrackingUri) {
      process.stderr.write(
        'nucleiflow: MLFLOW_TRACKING_URI is not set; runs are tracked in the database only\n',
      );
    }
    if (!session.worker) {
      for (const q of new Set(loaded.runs.map((r) => queuesFor(r.spec.orchestration.trainQueue).train))) {
        if (!(await hasPollers(session.temporal, q))) {
          process.stderr.write(`nucleiflow: no worker polls ${q} yet; training waits until one does\n`);
        }
      }
    }
    const sub = await submitExperiment(
      session.storage.db,
      session.temporal,
      loaded,
      opts.params ? { params: opts.params } : {},
    );
    process.stdout.write(`experiment ${sub.experimentId}\n`);
    for (const id of sub.runIds) process.stdout.write(`run ${id}\n`);
    if (opts.detach && !session.worker) return;
    if (opts.detach) {
      process.stderr.write(
        'nucleiflow: no shared workers (embedded database or Temporal); following instead of detaching\n',
      );
    }
    const result = workflowResult(session.temporal, sub.workflowId);
    abortResult = result.abort;
    const f = await followRuns(session.storage.db, session.temporal, sub.runIds, { until: result.promise });
    if (f.detached) {
      process.stderr.write(
        session.worker
          ? `\nnucleiflow: detached; the run pauses until a worker runs again (nucleiflow worker), see: nucleiflow runs --experiment ${sub.experimentId}\n`
          : `\nnucleiflow: detached; the run goes on in the workers, see: nucleiflow runs --experiment ${sub.experimentId}\n`,
      );
      return;
    }
    await result.promise.catch(() => {});
    const runs = await tracking.listRunSummaries(session.storage.db, { ids: sub.runIds });
    await opts.finished(runs, session.storage.db);
    if (runs.length < sub.runIds.length || runs.some((r) => r.status !== 'completed')) process.exitCode = 1;
  } finally {
    abortResult();
    await session.close();
  }
}
