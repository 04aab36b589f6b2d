/**
 * Drives the real CLI against the real services for end-to-end platform tests: a database of its
 * own, a home folder of its own, and task queues of its own (NUCLEIFLOW_QUEUE_PREFIX), so test
 * files can run side by side and twice in a row.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { REPO_ROOT } from '../../src/config.ts';
import { openStorage, type Storage } from '../../src/storage/index.ts';
import * as tracking from '../../src/tracking/index.ts';
import { BIN } from './cli.ts';
import { createTestDatabase, services, token } from './services.ts';

export interface Cli {
  readonly env: NodeJS.ProcessEnv;
  readonly home: string;
  readonly storage: Storage;
  /** Runs the CLI to completion. */
  run(
    args: string[],
    opts?: { env?: NodeJS.ProcessEnv; timeoutMs?: number },
  ): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Starts `nucleiflow worker` and resolves once it polls. */
  startWorker(env?: NodeJS.ProcessEnv): Promise<ChildProcess>;
  cleanup(): Promise<void>;
}

export async function platformCli(extraEnv: NodeJS.ProcessEnv = {}): Promise<Cli> {
  const s = services();
  // A DATABASE_URL in extraEnv is a database the caller owns (e.g. a private cluster); else a fresh one.
  const db = extraEnv.DATABASE_URL
    ? { url: extraEnv.DATABASE_URL, drop: async () => {} }
    : await createTestDatabase();
  const home = mkdtempSync(join(tmpdir(), 'nf-e2e-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: db.url,
    TEMPORAL_ADDRESS: s.temporalAddress,
    MLFLOW_TRACKING_URI: s.mlflowUri,
    NUCLEIFLOW_HOME: home,
    NUCLEIFLOW_QUEUE_PREFIX: `test-${token()}/`,
    TF_CPP_MIN_LOG_LEVEL: '3',
    ...extraEnv,
  };
  const storage = await openStorage({ databaseUrl: db.url, home });
  const children = new Set<ChildProcess>();
  const cli: Cli = {
    env,
    home,
    storage,
    run(args, opts = {}) {
      const c = spawnCli(args, { ...env, ...opts.env });
      children.add(c.child);
      const timer = setTimeout(() => c.child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
      return c.exited.finally(() => {
        clearTimeout(timer);
        children.delete(c.child);
      });
    },
    startWorker(extra = {}) {
      return new Promise((res, rej) => {
        const child = spawn(process.execPath, [BIN, 'worker'], { env: { ...env, ...extra }, cwd: REPO_ROOT });
        children.add(child);
        let err = '';
        child.stdout.resume();
        child.stderr.on('data', (d) => {
          err += d;
          if (/polling/.test(err)) res(child);
        });
        child.on('exit', (code, signal) => {
          const expected = !children.has(child) || signal === 'SIGKILL';
          children.delete(child);
          if (!/polling/.test(err)) rej(new Error(`worker exited with ${code}: ${err}`));
          // A worker that dies on its own would otherwise only show up as a test timing out.
          else if (!expected)
            process.stderr.write(`worker exited unexpectedly (${code ?? signal}):\n${err.slice(-4000)}\n`);
        });
      });
    },
    async cleanup() {
      const all = [...children];
      children.clear();
      for (const c of all) c.kill('SIGKILL');
      await storage.close();
      await db.drop();
      rmSync(home, { recursive: true, force: true });
    },
  };
  return cli;
}

/**
 * The usual fixture of a platform test file: a CLI of its own (platformCli), with one started worker
 * when `worker` is set, made before the file's tests and cleaned up after them. Read `.cli` in a test.
 */
export function usePlatformCli(o: { worker?: boolean } = {}): { readonly cli: Cli } {
  let cli: Cli | undefined;
  beforeAll(async () => {
    cli = await platformCli();
    if (o.worker) await cli.startWorker();
  });
  afterAll(async () => {
    await cli?.cleanup();
  });
  return {
    get cli(): Cli {
      if (!cli) throw new Error('usePlatformCli: .cli is only there inside a test');
      return cli;
    },
  };
}

/**
 * Starts `nucleiflow <args>` with exactly `env`, collecting its output as it arrives (`out` can be
 * read while the process runs); `exited` resolves with the exit code and the whole output.
 */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [BIN, ...args], { env, cwd: REPO_ROOT });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => {
    out.stdout += d;
  });
  child.stderr.on('data', (d) => {
    out.stderr += d;
  });
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((res, rej) => {
    child.on('error', rej);
    child.on('exit', (code) => res({ code, ...out }));
  });
  return { child, out, exited };
}

/**
 * Runs the two-arm ground-truth erosion ablation of `quick` in the foreground on `testImages` test
 * images; returns the experiment id and its runs sorted by id.
 */
export async function runErosionAblation(cli: Cli, testImages: number, extra: string[] = []) {
  const r = await cli.run([
    'run',
    'quick',
    '--set',
    'matrix={"gtErosion":[true,false]}',
    '--set',
    `dataset.maxTestImages=${testImages}`,
    ...extra,
  ]);
  const experimentId = /^experiment (\S+)$/m.exec(r.stdout)?.[1];
  if (r.code !== 0 || !experimentId) {
    throw new Error(`run quick (erosion ablation) failed (exit ${r.code}):\n${r.stderr}\n${r.stdout}`);
  }
  const runs = (await tracking.listRuns(cli.storage.db, { experimentId })).sort((a, b) =>
    a.id.localeCompare(b.id),
  );
  return { experimentId, runs };
}

/** Polls `fn` until it returns a truthy value. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 300_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Starts a detached `run quick` with `epochs` per stage on `testImages` test images and returns
 * its ids; fails the test with the CLI's stderr when the launch fails.
 */
export async function startQuickRun(
  cli: Cli,
  o: { epochs: number; testImages?: number },
): Promise<{ experimentId: string; runId: string }> {
  const r = await cli.run([
    'run',
    'quick',
    '--set',
    `training.seg.epochs=${o.epochs}`,
    '--set',
    `training.dist.epochs=${o.epochs}`,
    '--set',
    `dataset.maxTestImages=${o.testImages ?? 2}`,
    '--detach',
  ]);
  const experimentId = /^experiment (\S+)$/m.exec(r.stdout)?.[1];
  const runId = /^run (\S+)$/m.exec(r.stdout)?.[1];
  if (r.code !== 0 || !experimentId || !runId) {
    throw new Error(`run quick --detach failed (exit ${r.code}):\n${r.stderr}\n${r.stdout}`);
  }
  return { experimentId, runId };
}

/** Highest segmentation epoch recorded for a run (0 before the first). */
export async function lastSegEpoch(cli: Cli, runId: string): Promise<number> {
  const steps = (await tracking.getMetrics(cli.storage.db, runId, 'seg'))
    .filter((m) => m.key === 'loss')
    .map((m) => m.step);
  return Math.max(0, ...steps);
}

/** Waits until the run reaches a terminal status and returns its row. */
export function waitForTerminal(cli: Cli, runId: string, what = 'the run to finish', timeoutMs = 400_000) {
  return waitFor(
    what,
    async () => {
      const x = await tracking.getRun(cli.storage.db, runId);
      return x && tracking.TERMINAL.includes(x.status as tracking.RunStatus) ? x : undefined;
    },
    timeoutMs,
  );
}
