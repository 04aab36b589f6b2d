/**
 * A compute child process: makes the Compute named in the first call (realCompute by default), then
 * runs its parent's calls (platform/compute-process.ts), concurrently, calling the parent back for
 * every function argument. It exits when the parent goes away, so a killed worker leaves no training
 * running behind it.
 */
import { pathToFileURL } from 'node:url';
import type { Compute } from '../activities/compute.ts';
import type { Config } from '../src/config.ts';
import {
  type ComputeModule,
  decodeArgs,
  fromWireError,
  type ToChild,
  type ToParent,
  toWireError,
} from './compute-process.ts';

const send = (m: ToParent) => {
  if (process.connected) process.send?.(m);
};

process.on('disconnect', () => process.exit(1));
// Ctrl-C in the terminal reaches the whole process group; the parent decides what it means.
process.on('SIGINT', () => {});

let made: { key: string; compute: Compute } | undefined;
async function computeFor(config: Config, source: ComputeModule): Promise<Compute> {
  const key = `${source.module}#${source.factory}#${JSON.stringify(config)}`;
  if (made?.key !== key) {
    const mod = (await import(pathToFileURL(source.module).href)) as Record<string, unknown>;
    const factory = mod[source.factory];
    if (typeof factory !== 'function') throw new Error(`${source.module} has no export ${source.factory}`);
    made = { key, compute: (factory as (c: Config) => Compute)(config) };
  }
  return made.compute;
}

let nextCallback = 0;
const pending = new Map<number, { res: (v: unknown) => void; rej: (e: unknown) => void }>();
/** Per call id, the controllers behind its AbortSignal arguments. */
const controllers = new Map<number, AbortController[]>();
const controller = (call: number, i: number): AbortController => {
  const cs = controllers.get(call) ?? [];
  controllers.set(call, cs);
  cs[i] ??= new AbortController();
  return cs[i];
};

process.on('message', (m: ToChild) => {
  if (m.t === 'callback-result') {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.ok) p?.res(m.value);
    else p?.rej(fromWireError(m.error));
  } else if (m.t === 'cancel') {
    if (controllers.has(m.id)) controller(m.id, m.signal).abort(fromWireError(m.reason));
  } else if (m.t === 'call') {
    controllers.set(m.id, []);
    void run(m);
  }
});

async function run(m: Extract<ToChild, { t: 'call' }>): Promise<void> {
  try {
    const compute = await computeFor(m.config, m.source);
    const method = (compute as unknown as Record<string, unknown>)[m.method];
    if (typeof method !== 'function') throw new Error(`compute has no method ${m.method}`);
    const args = decodeArgs(
      m.args,
      (fn) =>
        (...a: unknown[]) => {
          const id = nextCallback++;
          const p = new Promise<unknown>((res, rej) => pending.set(id, { res, rej }));
          // A callback typed as returning void may not be awaited: its failure must not crash the child.
          p.catch(() => {});
          send({ t: 'callback', call: m.id, id, fn, args: a });
          return p;
        },
      (i) => controller(m.id, i).signal,
    ) as unknown[];
    const value = await (method as (...a: unknown[]) => Promise<unknown>).apply(compute, args);
    send({ t: 'done', id: m.id, ok: true, value });
  } catch (err) {
    send({ t: 'done', id: m.id, ok: false, error: toWireError(err) });
  } finally {
    controllers.delete(m.id);
  }
}

send({ t: 'ready' });
