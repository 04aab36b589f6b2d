// Orchestration overhead of one `quick` run through Temporal: the wall time from submission until the
// experiment workflow is done, minus the wall time during which at least one call of the science
// (activities/compute.ts: split, reference, normalise, train, tune, infer with its post-processing, evaluate)
// is running. The callbacks those calls make back into the activities (per-epoch metrics, per-image
// artifacts, heartbeats) are paused out, so every tracking write counts as overhead. Goal: under 5%.
// The science runs in a compute child process, as in every worker (platform/compute-process.ts); the
// clock wraps the parent's side of each call, so the child's start-up and the IPC count as compute.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSpec } from '../experiments/index.ts';
import { processCompute } from '../platform/compute-process.ts';
import { openSession } from '../platform/session.ts';
import { submitExperiment } from '../platform/submit.ts';
import { loadConfig } from '../src/config.ts';
import { ComputeClock, timedCompute } from './compute-clock.ts';
import type { BenchRow } from './harness.ts';

const s = (ms: number | undefined) => ((ms ?? 0) / 1000).toFixed(1);

export async function run(): Promise<BenchRow[]> {
  // A home of its own; the services when the environment names them, else the embedded defaults.
  const home = mkdtempSync(join(tmpdir(), 'nf-bench-platform-'));
  process.env.NUCLEIFLOW_HOME = home;
  process.env.NUCLEIFLOW_QUEUE_PREFIX = `bench-${process.pid}/`;
  const clock = new ComputeClock();
  const pool = processCompute(loadConfig());
  const compute = timedCompute(pool.compute, clock);
  const session = await openSession({ worker: 'always', quiet: true, compute });
  const mode = session.config.temporalAddress && session.config.databaseUrl ? 'services' : 'embedded';
  try {
    const loaded = await loadSpec('quick');
    const t0 = performance.now();
    const sub = await submitExperiment(session.storage.db, session.temporal, loaded);
    await session.temporal.client.workflow.getHandle(sub.workflowId).result();
    const wallMs = performance.now() - t0;
    const computeMs = clock.wallMs();
    const k = clock.byKind();
    const overheadMs = wallMs - computeMs;
    const pct = (100 * overheadMs) / wallMs;
    return [
      {
        name: `platform: quick run, submit to experiment done (${mode})`,
        oursMs: wallMs,
        note: `inside compute ${s(computeMs)} s (train seg ${s(k.train_seg)} s and dist ${s(k.train_dist)} s in parallel, tune ${s(k.tune ?? 0)} s, infer + post-process ${s(k.infer)} s, evaluate ${s(k.evaluate)} s)`,
      },
      {
        name: `platform: orchestration overhead per quick run, wall minus time inside compute (${mode})`,
        oursMs: overheadMs,
        note: `${pct.toFixed(1)}% of the run (goal < 5%): Temporal round trips, every tracking write (per-epoch metrics, artifacts, image results), report, MLflow delivery`,
      },
    ];
  } finally {
    await session.close();
    await pool.close();
    rmSync(home, { recursive: true, force: true });
  }
}
