/**
 * Turns a loaded spec into an experiment: ids, tracking rows, and the experiment workflow. Also
 * resume and cancel of single runs.
 */
import { randomBytes } from 'node:crypto';
import { WorkflowIdReusePolicy } from '@temporalio/client';
import type { RunInput } from '../activities/types.ts';
import type { LoadedSpec } from '../experiments/index.ts';
import type { RunSpec } from '../experiments/schema.ts';
import { UserError } from '../src/errors.ts';
import type { Db } from '../src/storage/index.ts';
import * as tracking from '../src/tracking/index.ts';
import {
  experimentWorkflow,
  experimentWorkflowId,
  resumeWorkflow,
  runWorkflowId,
} from '../workflows/index.ts';
import { queuePrefix, queuesFor, type TemporalHandle } from './temporal.ts';

/** `<spec>-<yyyymmdd-hhmmss>-<4 hex>`: sortable, readable, unique. */
export function newExperimentId(specName: string, now = new Date()): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${specName}-${t}-${randomBytes(2).toString('hex')}`;
}

export interface Submitted {
  readonly experimentId: string;
  readonly workflowId: string;
  readonly runIds: string[];
}

export interface SubmitOptions {
  /**
   * Params recorded on every new run in the transaction that creates it (e.g. a rerun's
   * `rerun_of`), so no run exists without them.
   */
  readonly params?: Readonly<Record<string, string>>;
}

/**
 * Records the experiment and its runs (with `opts.params`) in one transaction, then starts the
 * experiment workflow.
 */
export async function submitExperiment(
  db: Db,
  temporal: TemporalHandle,
  loaded: LoadedSpec,
  opts: SubmitOptions = {},
): Promise<Submitted> {
  const experimentId = newExperimentId(loaded.spec.name);
  const prefix = queuePrefix();
  const runs: RunInput[] = loaded.runs.map((r) => ({
    runId: `${experimentId}-r${r.index}`,
    experimentId,
    spec: r.spec,
    queues: queuesFor(r.spec.orchestration.trainQueue, prefix),
  }));
  const workflowId = experimentWorkflowId(experimentId);
  await tracking.createExperiment(db, {
    id: experimentId,
    name: loaded.spec.name,
    specName: loaded.spec.name,
    spec: loaded.spec,
    workflowId,
    runs: loaded.runs.map((r, i) => ({
      id: runs[i]!.runId,
      arm: r.arm as Record<string, unknown>,
      spec: r.spec,
      configHash: r.configHash,
      seed: r.spec.seed,
      workflowId: runWorkflowId(runs[i]!.runId),
      ...(opts.params ? { params: opts.params } : {}),
    })),
  });
  await tracking.setExperimentStatus(db, experimentId, 'running');
  await temporal.client.workflow.start(experimentWorkflow, {
    taskQueue: runs[0]!.queues.main,
    workflowId,
    args: [
      {
        experimentId,
        runs,
        ...(loaded.spec.orchestration.maxParallelRuns
          ? { maxParallelRuns: loaded.spec.orchestration.maxParallelRuns }
          : {}),
      },
    ],
  });
  return { experimentId, workflowId, runIds: runs.map((r) => r.runId) };
}

/** Resolves a run id or unique prefix; a UserError when none or several match. */
export async function resolveRun(db: Db, idOrPrefix: string): Promise<tracking.RunRow> {
  const found = await tracking.findRun(db, idOrPrefix);
  const exact = found.find((r) => r.id === idOrPrefix);
  if (exact) return exact;
  if (found.length === 0) throw new UserError(`no run '${idOrPrefix}' (see: nucleiflow runs)`);
  if (found.length > 1) {
    throw new UserError(
      `'${idOrPrefix}' matches ${found.length} runs: ${found
        .slice(0, 5)
        .map((r) => r.id)
        .join(', ')}...`,
    );
  }
  return found[0]!;
}

/** Starts a failed or cancelled run again under its workflow id; training continues from its checkpoints. */
export async function resumeRun(db: Db, temporal: TemporalHandle, run: tracking.RunRow): Promise<string> {
  if (run.status === 'completed') throw new UserError(`run ${run.id} is completed; nothing to resume`);
  const workflowId = runWorkflowId(run.id);
  try {
    const d = await temporal.client.workflow.getHandle(workflowId).describe();
    if (d.status.name === 'RUNNING')
      throw new UserError(`run ${run.id} is still running (workflow ${workflowId})`);
  } catch (err) {
    if (err instanceof UserError) throw err;
    // Not found in this Temporal (e.g. an embedded server's history was removed): start it fresh.
  }
  const spec = run.spec as RunSpec;
  await tracking.setRunStatus(db, run.id, 'pending');
  await temporal.client.workflow.start(resumeWorkflow, {
    taskQueue: queuesFor(spec.orchestration.trainQueue).main,
    workflowId,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    args: [
      {
        runId: run.id,
        experimentId: run.experimentId,
        spec,
        queues: queuesFor(spec.orchestration.trainQueue),
      },
    ],
  });
  return workflowId;
}

/** Requests cancellation of a running run; its workflow records 'cancelled' and keeps the checkpoints. */
export async function cancelRun(temporal: TemporalHandle, run: tracking.RunRow): Promise<void> {
  if (tracking.TERMINAL.includes(run.status as tracking.RunStatus)) {
    throw new UserError(`run ${run.id} is already ${run.status}`);
  }
  try {
    await temporal.client.workflow.getHandle(runWorkflowId(run.id)).cancel();
  } catch (err) {
    throw new UserError(`cannot cancel run ${run.id}: ${(err as Error).message}`);
  }
}
