import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { processCompute } from '../platform/compute-process.ts';
import { loadConfig, REPO_ROOT } from '../src/config.ts';
import { InputError, UserError } from '../src/errors.ts';

type Fake = ReturnType<typeof import('./helpers/fake-compute.ts').fakeCompute>;

const config = { ...loadConfig(), home: '/tmp/nf-compute-process-test' };
const source = { module: resolve(REPO_ROOT, 'test', 'helpers', 'fake-compute.ts'), factory: 'fakeCompute' };
const pc = processCompute(config, { source, cancelGraceMs: 2000 });
const fake = pc.compute as unknown as Fake;

afterAll(() => pc.close());

describe('processCompute: the science in a child process', () => {
  it('runs any method of the interface in another process, with plain and typed-array data', async () => {
    const r = await fake.echo({ x: [1, { y: 'z' }], u: undefined }, Float32Array.of(1.5, 2.5));
    expect(r.pid).not.toBe(process.pid);
    expect(r.a).toEqual({ x: [1, { y: 'z' }], u: undefined });
    expect(r.b).toBeInstanceOf(Float32Array);
    expect(Array.from(r.b)).toEqual([1.5, 2.5]);
    expect(r.home).toBe(config.home);
    // The idle child is reused for the next call.
    expect((await fake.echo(1, new Float32Array())).pid).toBe(r.pid);
  });

  it('turns function arguments into callbacks answered here, in order, awaited or not', async () => {
    const steps: number[] = [];
    const ticks: number[] = [];
    const sum = await fake.progress(4, {
      onStep: async (i) => {
        steps.push(i);
        return i * 10;
      },
      tick: (i) => {
        ticks.push(i);
      },
    });
    expect(sum).toBe(100);
    expect(steps).toEqual([1, 2, 3, 4]);
    await new Promise((r) => setTimeout(r, 50));
    expect(ticks).toEqual([1, 2, 3, 4]);
  });

  it('brings a UserError back as a UserError (not retried), with name, message and the child stack', async () => {
    const err = await fake.userError('/data/x.png').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err).not.toBeInstanceOf(InputError);
    expect((err as Error).name).toBe('InputError');
    expect((err as Error).message).toBe('/data/x.png: not a PNG');
    expect((err as Error).stack).toMatch(/fake-compute\.ts/);
  });

  it('fails the call with the error a callback threw here', async () => {
    const err = await fake
      .callbackError(async () => {
        throw new UserError('tracking write refused');
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe('tracking write refused');
  });

  it('fails a call whose child dies with a plain (retryable) error naming the method', async () => {
    const err = await fake.crash().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(
      'compute.crash: the compute child process was killed by SIGKILL before it answered',
    );
    // The next call gets a fresh child.
    expect((await fake.echo(2, new Float32Array())).a).toBe(2);
  });

  it('aborts the child’s own signal when the caller’s signal aborts; the call ends with the caller’s reason', async () => {
    const ac = new AbortController();
    const reason = new Error('activity cancelled');
    const p = fake.untilAborted({ signal: ac.signal, started: async () => ac.abort(reason) });
    await expect(p).rejects.toBe(reason);
  });

  it('kills a child that ignores a cancel after the grace time', async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    const before = pc.alive();
    const p = fake.ignoresAbort({ signal: ac.signal, started: async () => ac.abort(new Error('stop')) });
    await expect(p).rejects.toThrow('stop');
    expect(Date.now() - t0).toBeLessThan(20_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(pc.alive()).toBeLessThanOrEqual(before);
  });

  it('runs calls in flight at once, in one child by default', async () => {
    await fake.sleep(0); // a started child, so that the timing below is the calls' alone
    const t0 = Date.now();
    const pids = await Promise.all([fake.sleep(3000), fake.sleep(3000)]);
    expect(Date.now() - t0).toBeLessThan(5500);
    expect(pids[0]).toBe(pids[1]);
    expect(pc.alive()).toBe(1);
  });

  it('fails every call in flight on a child that dies', async () => {
    const sleeping = fake.sleep(5000).catch((e: unknown) => e);
    const crashed = await fake.crash().catch((e: unknown) => e);
    expect((crashed as Error).message).toMatch(/^compute\.crash: .* killed by SIGKILL/);
    expect(((await sleeping) as Error).message).toBe(
      'compute.sleep: the compute child process was killed by SIGKILL before it answered',
    );
  });

  it('spreads calls over up to `processes` children', async () => {
    const two = processCompute(config, { source, processes: 2 });
    try {
      const f = two.compute as unknown as Fake;
      const pids = await Promise.all([f.sleep(500), f.sleep(500), f.sleep(500)]);
      expect(new Set(pids).size).toBe(2);
      expect(two.alive()).toBe(2);
    } finally {
      await two.close();
    }
    expect(two.alive()).toBe(0);
  });

  it('lets a child with no calls exit after idleMs, and starts another for the next call', async () => {
    const short = processCompute(config, { source, idleMs: 300 });
    try {
      const f = short.compute as unknown as Fake;
      const first = await f.sleep(0);
      expect(short.alive()).toBe(1);
      await new Promise((r) => setTimeout(r, 1500));
      expect(short.alive()).toBe(0);
      expect(await f.sleep(0)).not.toBe(first);
    } finally {
      await short.close();
    }
  });

  it("sends TensorFlow's native start-up notices to the log file and passes every other stderr line on", async () => {
    const home = mkdtempSync(join(tmpdir(), 'nf-native-log-'));
    let passed = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        passed += chunk.toString();
        done();
      },
    });
    // The first two are what TensorFlow 2.21 prints when a training child turns oneDNN on.
    const notices = [
      'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR',
      'I0000 00:00:1796310271.182886   11143 port.cc:153] oneDNN custom operations are on.',
    ];
    const others = [
      'W0000 00:00:1796310271.182886   11143 cpu_allocator.cc:100] Allocation exceeds 10%',
      'plain line',
    ];
    const pcLog = processCompute(
      { ...config, home, tensorflowLogFile: join(home, 'logs', 'tensorflow.log') },
      {
        source,
        stderr: sink,
      },
    );
    try {
      const f = pcLog.compute as unknown as Fake;
      expect(await f.writeStderr([notices[0]!, others[0]!, notices[1]!, others[1]!])).toBe(4);
      await expect.poll(() => passed).toBe(`${others.join('\n')}\n`);
    } finally {
      await pcLog.close();
    }
    await expect
      .poll(() => readFileSync(join(home, 'logs', 'tensorflow.log'), 'utf8'))
      .toBe(`${notices.join('\n')}\n`);
    rmSync(home, { recursive: true, force: true });
  });
});
