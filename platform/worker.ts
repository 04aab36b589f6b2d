/**
 * A NucleiFlow worker: polls the main queue (workflows and light activities) and/or a training
 * queue (train-cpu; train-gpu is refused until a GPU build of TensorFlow is wired in). Several workers on several hosts may serve the same queues; see
 * docs/platform.md. The workflow bundle is built once per code version and cached.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  bundleWorkflowCode,
  DefaultLogger,
  type LogEntry,
  NativeConnection,
  Runtime,
  Worker,
} from '@temporalio/worker';
import type { Compute } from '../activities/compute.ts';
import { createActivities } from '../activities/index.ts';
import { type Config, loadConfig, REPO_ROOT } from '../src/config.ts';
import { UserError } from '../src/errors.ts';
import { TF_BUILD } from '../src/model/backend.ts';
import type { Storage } from '../src/storage/index.ts';
import { MlflowClient } from '../src/tracking/mlflow-client.ts';
import { type ProcessCompute, processCompute } from './compute-process.ts';

const WORKFLOWS = resolve(REPO_ROOT, 'workflows', 'index.ts');

/** One line of the SDK log: time, level, message, attributes as JSON. */
export function formatSdkLogLine(e: LogEntry): string {
  const time = new Date(Number(e.timestampNanos / 1_000_000n)).toISOString();
  const meta = e.meta && Object.keys(e.meta).length > 0 ? ` ${JSON.stringify(e.meta)}` : '';
  return `${time} [${e.level}] ${e.message}${meta}\n`;
}

let runtimeInstalled = false;
/**
 * The SDK's log lines, core's (forwarded from Rust, which would otherwise print on stdout) and the
 * TypeScript side's, at NUCLEIFLOW_TEMPORAL_LOG (default WARN), go to `config.temporalLogFile`, and
 * to stderr too only with NUCLEIFLOW_TEMPORAL_LOG_STDERR=1: a worker inside `nucleiflow run` must not
 * print on the user's terminal. No signal handlers of the SDK's own: the CLI decides what Ctrl-C means.
 */
export function installRuntime(config: Config = loadConfig()): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  mkdirSync(dirname(config.temporalLogFile), { recursive: true });
  const file = createWriteStream(config.temporalLogFile, { flags: 'a' });
  const level = config.temporalLogLevel;
  const logger = new DefaultLogger(level, (entry) => {
    const line = formatSdkLogLine(entry);
    file.write(line);
    if (config.temporalLogStderr) process.stderr.write(line);
  });
  Runtime.install({
    logger,
    shutdownSignals: [],
    telemetryOptions: { logging: { forward: {}, filter: { core: level, other: level } } },
  });
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
  /**
   * The science; default the real pipeline (activities/pipeline.ts) in child processes
   * (platform/compute-process.ts). A Compute given here runs in this process (tests, benches).
   */
  readonly compute?: Compute;
  /** Child processes the default Compute runs in (default 1; see platform/compute-process.ts). */
  readonly computeProcesses?: number;
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
  // Off this process's event loop, which workflow tasks, heartbeats and queries share.
  const owned: ProcessCompute | undefined = o.compute
    ? undefined
    : processCompute(o.config, { processes: o.computeProcesses ?? 1 });
  const compute = o.compute ?? owned!.compute;
  const mlflow = o.config.mlflowTrackingUri ? new MlflowClient(o.config.mlflowTrackingUri) : undefined;
  const activities = createActivities({ config: o.config, db: o.storage.db, mlflow, compute });
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ address: o.address });
  } catch (err) {
    await owned?.close();
    throw err;
  }
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
      await owned?.close();
      await connection.close().catch(() => {});
    },
    async (err: unknown) => {
      await Promise.all(workers.map((w) => (w.getState() === 'RUNNING' ? w.shutdown() : undefined)));
      await owned?.close();
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
