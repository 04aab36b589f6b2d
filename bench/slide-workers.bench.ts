// The slide workflow (workflows/index.ts) on the 40x test slide with two compute processes against one, on the
// same worker and machine: regions split between the processes (counts from the summary's executions) and the
// throughput ratio. Two compute processes are what two `nucleiflow worker` processes on one host amount to: each
// region batch runs in whichever is free. Both runs keep two batches in flight (--parallel 2).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processCompute } from '../platform/compute-process.ts';
import { openSession } from '../platform/session.ts';
import { queuesFor, TRAIN_QUEUES } from '../platform/temporal.ts';
import { loadConfig } from '../src/config.ts';
import type { SlideSummary } from '../src/slide/pipeline.ts';
import { shippedSlideModel, testSlide } from '../testing/test-slide.ts';
import { slideWorkflow } from '../workflows/index.ts';
import type { BenchRow } from './harness.ts';

async function once(processes: number, slide: string): Promise<{ ms: number; summary: SlideSummary }> {
  const home = mkdtempSync(join(tmpdir(), `nf-bench-slide-workers-${processes}-`));
  process.env.NUCLEIFLOW_HOME = home;
  process.env.NUCLEIFLOW_QUEUE_PREFIX = `bench-${process.pid}-${processes}/`;
  const pool = processCompute(loadConfig(), { processes });
  const session = await openSession({
    worker: 'always',
    quiet: true,
    compute: pool.compute,
    requireData: false,
  });
  try {
    const outDir = join(home, 'out');
    const job = { slide, outDir, model: await shippedSlideModel() };
    const t0 = performance.now();
    const r = await session.temporal.client.workflow.execute(slideWorkflow, {
      taskQueue: queuesFor(TRAIN_QUEUES[0]).main,
      workflowId: `bench-slide-workers-${process.pid}-${processes}`,
      args: [{ job, parallel: 2 }],
    });
    const ms = performance.now() - t0;
    return { ms, summary: JSON.parse(readFileSync(r.summary, 'utf8')) as SlideSummary };
  } finally {
    await session.close();
    await pool.close();
    rmSync(home, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchRow[]> {
  const ts = await testSlide();
  const one = await once(1, ts.svs40);
  const two = await once(2, ts.svs40);
  const split = Object.values(two.summary.executions.byProcess).sort((a, b) => b - a);
  return [
    {
      name: 'slide workflow: 40x test slide, two compute processes against one (same worker, 2 cores)',
      oursMs: two.ms,
      refName: 'one compute process',
      refMs: one.ms,
      note: `${two.summary.regions.segmented} regions, ${two.summary.nuclei} nuclei; regions per process with two: ${split.join(' + ')}; one process ${(one.ms / 1000).toFixed(1)} s, two ${(two.ms / 1000).toFixed(1)} s: ratio ${(one.ms / two.ms).toFixed(2)} (TensorFlow already uses both cores in one process, so more processes on one host share them; workers on more hosts add cores)`,
    },
  ];
}
