// Orchestration overhead of one `quick` run through Temporal: wall time of the run minus the time spent inside the compute activities (split, reference, normalise, the longer of the two parallel trainings, inference, evaluation). Goal: under 5%.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSpec } from '../experiments/index.ts';
import { openSession } from '../platform/session.ts';
import { submitExperiment } from '../platform/submit.ts';
import * as tracking from '../src/tracking/index.ts';
import type { BenchRow } from './harness.ts';

export async function run(): Promise<BenchRow[]> {
  // A home of its own; the services when the environment names them, else the embedded defaults.
  const home = mkdtempSync(join(tmpdir(), 'nf-bench-platform-'));
  process.env.NUCLEIFLOW_HOME = home;
  process.env.NUCLEIFLOW_QUEUE_PREFIX = `bench-${process.pid}/`;
  const session = await openSession({ worker: 'always', quiet: true });
  const mode = session.config.temporalAddress && session.config.databaseUrl ? 'services' : 'embedded';
  try {
    const loaded = await loadSpec('quick');
    const t0 = performance.now();
    const sub = await submitExperiment(session.storage.db, session.temporal, loaded);
    await session.temporal.client.workflow.getHandle(sub.workflowId).result();
    const wallMs = performance.now() - t0;
    const r = (await tracking.getRun(session.storage.db, sub.runIds[0]!))!;
    const t = r.timings as Record<string, number>;
    const computeS =
      (t.split ?? 0) +
      (t.reference ?? 0) +
      (t.normalise ?? 0) +
      Math.max(t.train_seg ?? 0, t.train_dist ?? 0) +
      (t.infer ?? 0) +
      (t.evaluate ?? 0);
    const overheadMs = wallMs - computeS * 1000;
    const pct = (100 * overheadMs) / wallMs;
    return [
      {
        name: `platform: quick run, submit to experiment done (${mode})`,
        oursMs: wallMs,
        note: `compute ${computeS.toFixed(1)} s (train ${Math.max(t.train_seg ?? 0, t.train_dist ?? 0).toFixed(1)} s, infer ${(t.infer ?? 0).toFixed(1)} s)`,
      },
      {
        name: `platform: orchestration overhead per quick run (${mode})`,
        oursMs: overheadMs,
        note: `${pct.toFixed(1)}% of the run (goal < 5%): scheduling, tracking, report, MLflow delivery`,
      },
    ];
  } finally {
    await session.close();
    rmSync(home, { recursive: true, force: true });
  }
}
