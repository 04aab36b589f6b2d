/**
 * The science in child processes, so that training, normalisation, inference, post-processing and
 * evaluation never block the worker's event loop, which workflow tasks, activity heartbeats and
 * queries share. `processCompute` returns a Compute whose every method (whatever methods the
 * interface has: the proxy does not list them) runs the same method of a Compute made in a child
 * process (`realCompute` by default). Calls share a small pool of children (default one), each
 * running its calls concurrently; a child with no calls exits after a while.
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
import type { Writable } from 'node:stream';
import type { Compute } from '../activities/compute.ts';
import type { Config } from '../src/config.ts';
import { REPO_ROOT } from '../src/config.ts';
import { UserError } from '../src/errors.ts';
import { routeNativeLog } from './native-log.ts';

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
  /**
   * Child processes at most (default 1). Calls share them: a child runs its calls concurrently on its
   * own event loop, as the worker's process did before, so with one child two trainings interleave
   * their steps in one TensorFlow runtime and hold its memory once.
   */
  readonly processes?: number;
  /** Where a child's stderr goes, less TensorFlow's start-up notices (default this process's stderr). */
  readonly stderr?: Writable;
  /** A child with no calls exits after this long (default 60 s). */
  readonly idleMs?: number;
  /** After a cancel, a call that has not ended within this has its child killed (default 30 s). */
  readonly cancelGraceMs?: number;
}

export interface ProcessCompute {
  readonly compute: Compute;
  /** Child processes now alive, for tests. */
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
  | { t: 'call'; id: number; config: Config; source: ComputeModule; method: string; args: unknown[] }
  | { t: 'cancel'; id: number; signal: number; reason: WireError }
  | { t: 'callback-result'; id: number; ok: true; value: unknown }
  | { t: 'callback-result'; id: number; ok: false; error: WireError };

/** Child -> parent. */
export type ToParent =
  | { t: 'ready' }
  | { t: 'callback'; call: number; id: number; fn: number; args: unknown[] }
  | { t: 'done'; id: number; ok: true; value: unknown }
  | { t: 'done'; id: number; ok: false; error: WireError };

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

interface Call {
  readonly method: string;
  readonly fns: AnyFn[];
  readonly signals: AbortSignal[];
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
}

interface Child {
  readonly proc: ChildProcess;
  readonly ready: Promise<void>;
  readonly calls: Map<number, Call>;
  /** Exited, or told to exit: takes no new calls. */
  exited: boolean;
  idleTimer?: NodeJS.Timeout;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}

export function processCompute(config: Config, opts: ProcessComputeOptions = {}): ProcessCompute {
  const source = opts.source ?? REAL_COMPUTE;
  const processes = opts.processes ?? 1;
  const idleMs = opts.idleMs ?? 60_000;
  const cancelGraceMs = opts.cancelGraceMs ?? 30_000;
  const children = new Set<Child>();
  let nextCall = 0;
  let closed = false;

  // Messages wait for the child's 'ready' (sent once it listens), keeping their order.
  const send = (c: Child, m: ToChild) => {
    void c.ready.then(() => {
      if (c.proc.connected) c.proc.send(m);
    });
  };
  const aborted = (call: Call) => call.signals.find((s) => s.aborted);

  // While it has calls a child keeps this process alive; an idle one does not, and exits after idleMs.
  const busy = (c: Child) => {
    if (c.idleTimer) clearTimeout(c.idleTimer);
    c.idleTimer = undefined;
    c.proc.ref();
    c.proc.channel?.ref();
  };
  const maybeIdle = (c: Child) => {
    if (c.calls.size > 0 || c.exited) return;
    c.proc.unref();
    c.proc.channel?.unref();
    c.idleTimer = setTimeout(() => {
      c.exited = true;
      c.proc.kill('SIGTERM');
    }, idleMs);
    c.idleTimer.unref();
  };

  const spawnChild = (): Child => {
    // stdout goes to stderr: the CLI's stdout carries ids and tables only.
    const proc = fork(CHILD_ENTRY, [], {
      cwd: REPO_ROOT,
      serialization: 'advanced',
      stdio: ['ignore', 2, 'pipe', 'ipc'],
    });
    if (proc.stderr)
      void routeNativeLog(proc.stderr, config.tensorflowLogFile, opts.stderr ?? process.stderr);
    const child: Child = {
      proc,
      calls: new Map(),
      exited: false,
      ready: new Promise<void>((res) => {
        const onReady = (m: ToParent) => {
          if (m.t !== 'ready') return;
          proc.off('message', onReady);
          res();
        };
        proc.on('message', onReady);
      }),
    };
    proc.on('message', (m: ToParent) => {
      if (m.t === 'done') {
        const call = child.calls.get(m.id);
        if (!call) return;
        child.calls.delete(m.id);
        // A cancelled call ends with the signal's own reason, as it would in-process.
        const a = aborted(call);
        if (m.ok) call.resolve(m.value);
        else call.reject(a ? a.reason : fromWireError(m.error));
        maybeIdle(child);
      } else if (m.t === 'callback') {
        const call = child.calls.get(m.call);
        const f = call?.fns[m.fn] as ((...a: unknown[]) => unknown) | undefined;
        Promise.resolve()
          .then(() => {
            if (!f) throw new Error(`compute: callback ${m.fn} of a call that has ended`);
            return f(...m.args);
          })
          .then(
            (value) => send(child, { t: 'callback-result', id: m.id, ok: true, value }),
            (err: unknown) =>
              send(child, { t: 'callback-result', id: m.id, ok: false, error: toWireError(err) }),
          );
      }
    });
    proc.once('exit', (code, signal) => {
      child.exited = true;
      children.delete(child);
      if (child.idleTimer) clearTimeout(child.idleTimer);
      // Every call in flight there fails; a plain Error, so Temporal retries the activity.
      for (const call of child.calls.values()) {
        const a = aborted(call);
        call.reject(
          a
            ? a.reason
            : new Error(
                `compute.${call.method}: the compute child process ${describeExit(code, signal)} before it answered`,
              ),
        );
      }
      child.calls.clear();
    });
    children.add(child);
    return child;
  };

  /** The child with the fewest calls, or a new one while there are fewer than `processes`. */
  const pick = (): Child => {
    let best: Child | undefined;
    for (const c of children) if (!c.exited && (!best || c.calls.size < best.calls.size)) best = c;
    if (!best || (best.calls.size > 0 && children.size < processes)) return spawnChild();
    return best;
  };

  const call = (method: string, args: unknown[]): Promise<unknown> => {
    if (closed) return Promise.reject(new Error(`compute.${method}: the compute processes are closed`));
    const fns: AnyFn[] = [];
    const signals: AbortSignal[] = [];
    const wireArgs = encodeArgs(args, fns, signals) as unknown[];
    const child = pick();
    const id = nextCall++;
    const cleanups: (() => void)[] = [];
    const done = new Promise<unknown>((resolve, reject) => {
      child.calls.set(id, { method, fns, signals, resolve, reject });
    });
    busy(child);
    send(child, { t: 'call', id, config, source, method, args: wireArgs });
    for (const [i, sig] of signals.entries()) {
      const onAbort = () => {
        send(child, { t: 'cancel', id, signal: i, reason: toWireError(sig.reason) });
        // A call that ignores its cancellation takes its child (and the child's other calls) down.
        const kill = setTimeout(() => {
          if (child.calls.has(id)) child.proc.kill('SIGKILL');
        }, cancelGraceMs);
        kill.unref();
        cleanups.push(() => clearTimeout(kill));
      };
      if (sig.aborted) onAbort();
      else {
        sig.addEventListener('abort', onAbort, { once: true });
        cleanups.push(() => sig.removeEventListener('abort', onAbort));
      }
    }
    return done.finally(() => {
      for (const c of cleanups) c();
    });
  };

  // Generic over the interface: any method name is forwarded, so methods added to Compute need no edit here.
  const compute = new Proxy({} as Compute, {
    get: (_target, name) =>
      typeof name === 'string' && name !== 'then' ? (...args: unknown[]) => call(name, args) : undefined,
  });

  return {
    compute,
    alive: () => children.size,
    async close() {
      closed = true;
      await Promise.all(
        [...children].map(
          (c) =>
            new Promise<void>((r) => {
              if (c.exited) return r();
              c.proc.once('exit', () => r());
              c.proc.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}
