/**
 * What a CLI command needs to talk to the platform: config, the tracking database, Temporal (a
 * cluster, or the embedded dev server) and, when nothing else can serve the run, an in-process
 * worker. PGlite is single-process, so with the embedded database the worker always runs inside
 * the CLI process; with Postgres and a Temporal cluster, the CLI uses the workers already polling
 * and only starts its own when there are none.
 */
import type { Compute } from '../activities/compute.ts';
import type { Queues } from '../activities/types.ts';
import { type Config, loadConfig, requireDataDir } from '../src/config.ts';
import { openStorage, type Storage } from '../src/storage/index.ts';
import {
  hasPollers,
  openTemporal,
  queuePrefix,
  queuesFor,
  type TemporalHandle,
  TRAIN_QUEUES,
} from './temporal.ts';
import { type RunningWorkers, startWorkers } from './worker.ts';

export interface Session {
  readonly config: Config;
  readonly storage: Storage;
  readonly temporal: TemporalHandle;
  /** The in-process worker, when this process runs one. */
  worker: RunningWorkers | undefined;
  close(): Promise<void>;
}

export interface SessionOptions {
  /** Start an in-process worker: 'auto' when needed, 'always', or 'never'. */
  readonly worker?: 'auto' | 'always' | 'never';
  /** Train queue the in-process worker also serves (default train-cpu). */
  readonly trainQueue?: string;
  readonly quiet?: boolean;
  /**
   * The science the in-process worker runs, in this process; default the real pipeline in child
   * processes (platform/compute-process.ts). Orchestration tests pass their own; a bench wraps it.
   */
  readonly compute?: Compute;
  /** The in-process worker needs the MoNuSeg data (default true; slide segmentation does not). */
  readonly requireData?: boolean;
}

/** Opens storage only (commands that just read the tracking database). */
export async function openDb(config: Config = loadConfig()): Promise<Storage> {
  return openStorage({ databaseUrl: config.databaseUrl, home: config.home });
}

export async function openSession(opts: SessionOptions = {}): Promise<Session> {
  const config = loadConfig();
  const storage = await openDb(config);
  let temporal: TemporalHandle;
  try {
    temporal = await openTemporal(config, { quiet: opts.quiet ?? false });
  } catch (err) {
    await storage.close();
    throw err;
  }
  const session: Session = {
    config,
    storage,
    temporal,
    worker: undefined,
    close: async () => {
      await session.worker?.shutdown();
      await temporal.close();
      await storage.close();
    },
  };
  const mode = opts.worker ?? 'auto';
  const queues = queuesFor(opts.trainQueue ?? TRAIN_QUEUES[0]);
  const need =
    mode === 'always' ||
    (mode === 'auto' &&
      (storage.kind === 'pglite' ||
        temporal.embedded ||
        !(await hasPollers(temporal, queues.main, 'workflow'))));
  if (need) {
    try {
      if (opts.requireData ?? true) requireDataDir(config);
      session.worker = await startWorkers({
        config,
        storage,
        address: temporal.address,
        namespace: temporal.namespace,
        queues: [queues.main, queues.train],
        mainQueue: queues.main,
        compute: opts.compute,
      });
    } catch (err) {
      await session.close();
      throw err;
    }
  }
  return session;
}

export function defaultQueues(trainQueue: string = TRAIN_QUEUES[0]): Queues {
  return queuesFor(trainQueue, queuePrefix());
}
