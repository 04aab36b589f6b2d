import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Compute, EpochEvent, TrainCall } from '../activities/compute.ts';
import { ComputeClock, timedCompute } from '../bench/compute-clock.ts';

// A fake clock: performance.now() returns what the test sets, so every interval is exact.
let now = 0;
const at = (t: number) => {
  now = t;
};
afterEach(() => vi.restoreAllMocks());

describe('ComputeClock (the platform bench splits wall time with it)', () => {
  it('counts the union of parallel calls once and pauses out their callbacks', async () => {
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const clock = new ComputeClock();
    let endSeg!: () => void;
    let endDist!: () => void;
    at(0);
    const seg = clock.time('train_seg', async (pause) => {
      await new Promise<void>((r) => {
        endSeg = r;
      });
      at(40);
      // A tracking write of 20 ms inside the seg call, while dist still computes.
      await pause(async () => {
        at(60);
      });
      at(100);
    });
    at(10);
    const dist = clock.time('train_dist', async (pause) => {
      await new Promise<void>((r) => {
        endDist = r;
      });
      at(120);
      // A write of 30 ms when nothing else computes: overhead.
      await pause(async () => {
        at(150);
      });
      at(160);
    });
    endSeg();
    await seg;
    endDist();
    await dist;
    // seg: [0,40] + [60,100] = 80; dist: [10,120] + [150,160] = 120.
    expect(clock.byKind()).toEqual({ train_seg: 80, train_dist: 120 });
    // Union: [0,120] + [150,160] = 130 of the 160 ms; the 30 ms write outside any compute is not in it.
    expect(clock.wallMs()).toBe(130);
  });

  it('pauses synchronous callbacks too', async () => {
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const clock = new ComputeClock();
    at(0);
    await clock.time('normalise', async (pause) => {
      at(5);
      pause(() => at(9));
      at(12);
    });
    expect(clock.wallMs()).toBe(8);
  });

  it('timedCompute hands each epoch callback through the pause, so its time is left out', async () => {
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const clock = new ComputeClock();
    const epochs: number[] = [];
    const inner = {
      train: async (call: TrainCall) => {
        at(50);
        await call.onEpoch({ stage: call.stage, epoch: 1, epochs: 1, values: {} });
        at(70);
        return {} as Awaited<ReturnType<Compute['train']>>;
      },
    } as unknown as Compute;
    at(0);
    await timedCompute(inner, clock).train({
      stage: 'seg',
      onEpoch: async (e: EpochEvent) => {
        epochs.push(e.epoch);
        at(65);
      },
    } as unknown as TrainCall);
    expect(epochs).toEqual([1]);
    // [0,50] + [65,70]: the 15 ms of the per-epoch write is overhead, not training.
    expect(clock.byKind()).toEqual({ train_seg: 55 });
  });
});
