/**
 * The science in child processes, so that training, normalisation, inference, post-processing and
 * evaluation never block the worker's event loop, which workflow tasks, activity heartbeats and
 * queries share. `processCompute` returns a Compute whose every method (whatever methods the
 * interface has: the proxy does not list them) runs the same method of a Compute made in a child
 * process (`realCompute` by default), one child per call in flight; idle children are kept a while
 * for the next call.
 *
 * Over the IPC channel (structured clone, so typed arrays pass): the method name and its arguments,
 * where each function argument (onEpoch, onImage, ...) becomes a callback the child calls back into
 * this process (awaited; its result or error goes back), and each AbortSignal becomes a cancel
 * message on which the child aborts its own controller. Errors cross with name, message and stack; a
 * UserError (or subclass) comes back as a UserError, so activities still fail it without retries. A
 * child that dies mid-call fails the call with a plain (retryable) error naming the method.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { resolve } from 'node:path';
import type { Compute } from '../activities/compute.ts';
import type { Config } from '../src/config.ts';
import { REPO_ROOT } from '../src/config.ts';
import { UserError } from '../src/errors.ts';

/** The child's entry: registers the tsx loader (as bin/nucleiflow.mjs does), then runs compute-child.ts. */
const CHILD_ENTRY = resolve(REPO_ROOT, 'platform', 'compute-child.mjs');

export interface ComputeModule {
  /** Absolute path of the module that makes the Compute. */
  readonly module: string;
  /** Its export: `(config: Config) => Compute`. */
  readonly factory: string;
}

export const REAL_COMPUTE: ComputeModule = {
  module: resolve(REPO_ROOT, 'activities', 'pipeline.ts'),
  factory: 'realCompute',
};

export interface ProcessComputeOptions {
  /** Which Compute the children make (default realCompute of activities/pipeline.ts). */
  readonly source?: ComputeModule;
  /** Idle children kept for the next call (default 2: the two trainings of the next run). */
  readonly maxIdle?: number;
  /** An idle child exits after this long (default 60 s). */
  readonly idleMs?: number;
  /** After a cancel, a child that has not answered within this is killed (default 30 s). */
  readonly cancelGraceMs?: number;
}

export interface ProcessCompute {
  readonly compute: Compute;
  /** Children now alive (busy and idle), for tests. */
  readonly alive: () => number;
  /** Kills every child; calls in flight fail. */
  close(): Promise<void>;
}

// ---- the wire format, shared with compute-child.ts ----

export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  /** Set when the error was a UserError (or subclass): its exit code. */
  readonly userExitCode: number | undefined;
}

/** Parent -> child. */
export type ToChild =
  | { t: 'call'; config: Config; source: ComputeModule; method: string; args: unknown[] }
  | { t: 'cancel'; signal: number; reason: WireError }
  | { t: 'callback-result'; id: number; ok: true; value: unknown }
  | { t: 'callback-result'; id: number; ok: false; error: WireError };

/** Child -> parent. */
export type ToParent =
  | { t: 'ready' }
  | { t: 'callback'; id: number; fn: number; args: unknown[] }
  | { t: 'done'; ok: true; value: unknown }
  | { t: 'done'; ok: false; error: WireError };

/** Placeholder keys for the values that cannot be cloned. */
export const FN_KEY = '__nucleiflowFunction';
export const SIGNAL_KEY = '__nucleiflowSignal';

export function toWireError(err: unknown): WireError {
  if (err instanceof Error) {
    return {
      name: err.name,
      message: err.message,
      stack: err.stack,
      userExitCode: err instanceof UserError ? err.exitCode : undefined,
    };
  }
  return { name: 'Error', message: String(err), stack: undefined, userExitCode: undefined };
}

export function fromWireError(w: WireError): Error {
  const err =
    w.userExitCode === undefined
      ? new Error(w.message)
      : new UserError(w.message, { exitCode: w.userExitCode });
  err.name = w.name;
  if (w.stack) err.stack = w.stack;
  return err;
}

/** Any function argument of a Compute method, called with what the child sends back. */
type AnyFn = (...args: never[]) => unknown;

const isPlainObject = (v: object): boolean => {
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
};

/**
 * Replaces functions and AbortSignals (in arrays and plain objects, at any depth) by placeholders
 * that index `fns` and `signals`; everything else is left to structured clone.
 */
export function encodeArgs(v: unknown, fns: AnyFn[], signals: AbortSignal[]): unknown {
  if (typeof v === 'function') return { [FN_KEY]: fns.push(v as AnyFn) - 1 };
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof AbortSignal) return { [SIGNAL_KEY]: signals.push(v) - 1 };
  if (Array.isArray(v)) return v.map((x) => encodeArgs(x, fns, signals));
  if (!isPlainObject(v)) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encodeArgs(x, fns, signals)]));
}

/** The inverse of encodeArgs, on the child's side. */
export function decodeArgs(
  v: unknown,
  fn: (index: number) => (...args: unknown[]) => unknown,
  signal: (index: number) => AbortSignal,
): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => decodeArgs(x, fn, signal));
  if (!isPlainObject(v)) return v;
  const o = v as Record<string, unknown>;
  if (typeof o[FN_KEY] === 'number' && Object.keys(o).length === 1) return fn(o[FN_KEY]);
  if (typeof o[SIGNAL_KEY] === 'number' && Object.keys(o).length === 1) return signal(o[SIGNAL_KEY]);
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, decodeArgs(x, fn, signal)]));
}

// ---- the parent side ----

interface Child {
  readonly proc: ChildProcess;
  readonly ready: Promise<void>;
  exited: boolean;
  idleTimer?: NodeJS.Timeout;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

export function processCompute(config: Config, opts: ProcessComputeOptions = {}): ProcessCompute {
  const source = opts.source ?? REAL_COMPUTE;
  const maxIdle = opts.maxIdle ?? 2;
  const idleMs = opts.idleMs ?? 60_000;
  const cancelGraceMs = opts.cancelGraceMs ?? 30_000;
  const all = new Set<Child>();
  const idle: Child[] = [];
  let closed = false;

  const spawnChild = (): Child => {
    // stdout goes to stderr: the CLI's stdout carries ids and tables only.
    const proc = fork(CHILD_ENTRY, [], {
      cwd: REPO_ROOT,
      serialization: 'advanced',
      stdio: ['ignore', 2, 'inherit', 'ipc'],
    });
    const child: Child = {
      proc,
      exited: false,
      ready: new Promise<void>((res, rej) => {
        const onMessage = (m: ToParent) => {
          if (m.t !== 'ready') return;
          proc.off('exit', onExit);
          proc.off('message', onMessage);
          res();
        };
        const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
          rej(new Error(`the compute child process ${describeExit(code, signal)} while starting`));
        proc.on('message', onMessage);
        proc.once('exit', onExit);
      }),
    };
    child.ready.catch(() => {});
    proc.once('exit', () => {
      child.exited = true;
      all.delete(child);
      const i = idle.indexOf(child);
      if (i >= 0) idle.splice(i, 1);
      if (child.idleTimer) clearTimeout(child.idleTimer);
    });
    all.add(child);
    return child;
  };

  const acquire = (): Child => {
    for (;;) {
      const c = idle.pop();
      if (!c) return spawnChild();
      if (c.exited) continue;
      if (c.idleTimer) clearTimeout(c.idleTimer);
      c.proc.ref();
      c.proc.channel?.ref();
      return c;
    }
  };

  const release = (c: Child) => {
    if (c.exited) return;
    if (closed || idle.length >= maxIdle) {
      c.proc.kill('SIGTERM');
      return;
    }
    // An idle child must not keep this process alive.
    c.proc.unref();
    c.proc.channel?.unref();
    c.idleTimer = setTimeout(() => c.proc.kill('SIGTERM'), idleMs);
    c.idleTimer.unref();
    idle.push(c);
  };

  const call = async (method: string, args: unknown[]): Promise<unknown> => {
    if (closed) throw new Error(`compute.${method}: the compute processes are closed`);
    const fns: AnyFn[] = [];
    const signals: AbortSignal[] = [];
    const wireArgs = encodeArgs(args, fns, signals) as unknown[];
    const child = acquire();
    const { proc } = child;
    let reusable = true;
    const cleanups: (() => void)[] = [];
    try {
      await child.ready;
      return await new Promise<unknown>((res, rej) => {
        const send = (m: ToChild) => {
          if (proc.connected) proc.send(m);
        };
        const aborted = () => signals.find((s) => s.aborted);
        proc.on('message', onMessage);
        proc.once('exit', onExit);
        cleanups.push(() => {
          proc.off('message', onMessage);
          proc.off('exit', onExit);
        });
        send({ t: 'call', config, source, method, args: wireArgs });
        for (const [i, s] of signals.entries()) {
          const onAbort = () => {
            reusable = false;
            send({ t: 'cancel', signal: i, reason: toWireError(s.reason) });
            const kill = setTimeout(() => proc.kill('SIGKILL'), cancelGraceMs);
            cleanups.push(() => clearTimeout(kill));
          };
          if (s.aborted) onAbort();
          else {
            s.addEventListener('abort', onAbort, { once: true });
            cleanups.push(() => s.removeEventListener('abort', onAbort));
          }
        }

        function onMessage(m: ToParent) {
          if (m.t === 'done') {
            // A cancelled call ends with the signal's own reason, as it would in-process.
            const a = aborted();
            if (m.ok) res(m.value);
            else rej(a ? a.reason : fromWireError(m.error));
          } else if (m.t === 'callback') {
            const f = fns[m.fn];
            Promise.resolve()
              .then(() => (f as (...a: unknown[]) => unknown)(...m.args))
              .then(
                (value) => send({ t: 'callback-result', id: m.id, ok: true, value }),
                (err: unknown) =>
                  send({ t: 'callback-result', id: m.id, ok: false, error: toWireError(err) }),
              );
          }
        }
        function onExit(code: number | null, signal: NodeJS.Signals | null) {
          reusable = false;
          const a = aborted();
          rej(
            a
              ? a.reason
              : new Error(
                  `compute.${method}: the compute child process ${describeExit(code, signal)} before it answered`,
                ),
          );
        }
      });
    } catch (err) {
      reusable = false;
      throw err;
    } finally {
      for (const c of cleanups) c();
      if (reusable) release(child);
      else if (!child.exited) proc.kill('SIGKILL');
    }
  };

  // Generic over the interface: any method name is forwarded, so methods added to Compute need no edit here.
  const compute = new Proxy({} as Compute, {
    get: (_target, name) =>
      typeof name === 'string' && name !== 'then' ? (...args: unknown[]) => call(name, args) : undefined,
  });

  return {
    compute,
    alive: () => all.size,
    async close() {
      closed = true;
      const exits = [...all].map(
        (c) =>
          new Promise<void>((r) => {
            if (c.exited) return r();
            c.proc.once('exit', () => r());
            c.proc.kill('SIGTERM');
          }),
      );
      await Promise.all(exits);
    },
  };
}
