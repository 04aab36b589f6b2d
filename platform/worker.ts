/**
 * A NucleiFlow worker: polls the main queue (workflows and light activities) and/or a training
 * queue (train-cpu; train-gpu is refused until a GPU build of TensorFlow is wired in). Several workers on several hosts may serve the same queues; see
 * docs/platform.md. The workflow bundle is built once per code version and cached.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { Compute } from '../activities/compute.ts';
import { createActivities } from '../activities/index.ts';
import { type Config, loadConfig, REPO_ROOT } from '../src/config.ts';
import { UserError } from '../src/errors.ts';
import { TF_BUILD } from '../src/model/backend.ts';
import type { Storage } from '../src/storage/index.ts';
import { MlflowClient } from '../src/tracking/mlflow-client.ts';

const WORKFLOWS = resolve(REPO_ROOT, 'workflows', 'index.ts');

let runtimeInstalled = false;
/**
 * SDK logs at NUCLEIFLOW_TEMPORAL_LOG (default ERROR), and no signal handlers of the SDK's own: the
 * CLI decides what Ctrl-C means.
 */
export function installRuntime(config: Config = loadConfig()): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger(config.temporalLogLevel), shutdownSignals: [] });
}

let bundle: Promise<{ code: string }> | undefined;
/** The workflow bundle, from `<cacheDir>/workflow-bundle/` when this code version built it before. */
export function workflowBundle(config: Config): Promise<{ code: string }> {
  bundle ??= (async () => {
    const h = createHash('sha256');
    for (const dir of ['workflows', 'activities']) {
      for (const f of readdirSync(resolve(REPO_ROOT, dir)).sort())
        h.update(f).update(readFileSync(resolve(REPO_ROOT, dir, f)));
    }
    h.update(readFileSync(resolve(REPO_ROOT, 'node_modules', '@temporalio', 'workflow', 'package.json')));
    const dir = join(config.cacheDir, 'workflow-bundle');
    const file = join(dir, `${h.digest('hex').slice(0, 24)}.js`);
    try {
      return { code: readFileSync(file, 'utf8') };
    } catch {
      const b = await bundleWorkflowCode({ workflowsPath: WORKFLOWS, logger: new DefaultLogger('WARN') });
      mkdirSync(dir, { recursive: true });
      await writeFile(`${file}.${process.pid}.tmp`, b.code);
      const { rename } = await import('node:fs/promises');
      await rename(`${file}.${process.pid}.tmp`, file);
      return { code: b.code };
    }
  })();
  return bundle;
}

export interface WorkerOptions {
  readonly config: Config;
  readonly storage: Storage;
  readonly address: string;
  readonly namespace: string;
  /** Full queue names to poll; the main queue also runs workflows. */
  readonly queues: readonly string[];
  readonly mainQueue: string;
  /** Concurrent training activities on this worker (default 2: seg and dist side by side). */
  readonly trainSlots?: number;
  /** The science; default the real pipeline (activities/pipeline.ts). */
  readonly compute?: Compute;
}

export interface RunningWorkers {
  readonly queues: readonly string[];
  /** Resolves when every worker has stopped. */
  readonly done: Promise<void>;
  /** Graceful: running activities are cancelled after the grace time, and retried elsewhere. */
  shutdown(): Promise<void>;
}

/**
 * Refuses a train-gpu queue (with or without NUCLEIFLOW_QUEUE_PREFIX) while the TensorFlow build
 * is the CPU one: a worker polling it would take GPU work and run it on the CPU.
 */
export function assertQueuesServable(queues: readonly string[]): void {
  const gpu = queues.find((q) => q.endsWith('train-gpu'));
  if (gpu && TF_BUILD.device !== 'gpu') {
    throw new UserError(
      `queue ${gpu}: no GPU backend is installed (only the CPU build ${TF_BUILD.package}); GPU training is not available yet, use train-cpu`,
    );
  }
}

export async function startWorkers(o: WorkerOptions): Promise<RunningWorkers> {
  assertQueuesServable(o.queues);
  installRuntime(o.config);
  const compute = o.compute ?? (await import('../activities/pipeline.ts')).realCompute(o.config);
  const mlflow = o.config.mlflowTrackingUri ? new MlflowClient(o.config.mlflowTrackingUri) : undefined;
  const activities = createActivities({ config: o.config, db: o.storage.db, mlflow, compute });
  const connection = await NativeConnection.connect({ address: o.address });
  const workers: Worker[] = [];
  for (const q of o.queues) {
    const isMain = q === o.mainQueue;
    workers.push(
      await Worker.create({
        connection,
        namespace: o.namespace,
        taskQueue: q,
        activities,
        ...(isMain ? { workflowBundle: await workflowBundle(o.config) } : {}),
        maxConcurrentActivityTaskExecutions: isMain ? 4 : (o.trainSlots ?? 2),
        shutdownGraceTime: '5s',
      }),
    );
  }
  const done = Promise.all(workers.map((w) => w.run())).then(
    async () => {
      await connection.close().catch(() => {});
    },
    async (err: unknown) => {
      await Promise.all(workers.map((w) => (w.getState() === 'RUNNING' ? w.shutdown() : undefined)));
      await connection.close().catch(() => {});
      throw err;
    },
  );
  return {
    queues: o.queues,
    done,
    shutdown: async () => {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await done.catch(() => {});
    },
  };
}
