// A stand-in for realCompute, loaded by compute child processes in test/compute-process.test.ts:
// methods that exercise the IPC proxy (callbacks, cancellation, errors, a crash) without TensorFlow.
import { InputError } from '../../src/errors.ts';

export function fakeCompute(config: { home: string }) {
  return {
    async echo(a: unknown, b: Float32Array) {
      return { a, b, home: config.home, pid: process.pid };
    },
    /** Calls back (awaited, with a returned value) and then a void callback that is not awaited. */
    async progress(n: number, cb: { onStep: (i: number) => Promise<number>; tick: (i: number) => void }) {
      let sum = 0;
      for (let i = 1; i <= n; i++) {
        sum += await cb.onStep(i);
        cb.tick(i);
      }
      return sum;
    },
    /** Writes each line to this child's stderr, as TensorFlow's native library does. */
    async writeStderr(lines: string[]) {
      for (const l of lines) process.stderr.write(`${l}\n`);
      return lines.length;
    },
    async sleep(ms: number) {
      await new Promise((r) => setTimeout(r, ms));
      return process.pid;
    },
    async userError(file: string) {
      throw new InputError(file, 'not a PNG');
    },
    async callbackError(cb: () => Promise<void>) {
      await cb();
      return 'not reached';
    },
    async crash() {
      process.kill(process.pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 10_000));
    },
    async untilAborted(call: { signal: AbortSignal; started: () => Promise<void> }) {
      await call.started();
      await new Promise<void>((res) => call.signal.addEventListener('abort', () => res(), { once: true }));
      throw new Error(`aborted: ${(call.signal.reason as Error).message}`);
    },
    async ignoresAbort(call: { signal: AbortSignal; started: () => Promise<void> }) {
      await call.started();
      await new Promise((r) => setTimeout(r, 60_000));
    },
  };
}
