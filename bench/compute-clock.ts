// Times the science a worker runs (activities/compute.ts) from outside, for the platform bench: the
// wall time inside Compute calls, with the callbacks they make back into the activity paused out.
import type { Compute } from '../activities/compute.ts';

type Segment = readonly [start: number, end: number];

/** Wall-clock segments spent inside Compute calls, per call kind. */
export class ComputeClock {
  private readonly segments: { kind: string; seg: Segment }[] = [];

  /**
   * Runs `fn` as compute of `kind`. `fn` gets `pause`, which wraps a callback into the activity so
   * that the time the callback takes is not counted.
   */
  async time<T>(kind: string, fn: (pause: <R>(cb: () => R) => R) => Promise<T>): Promise<T> {
    let start = performance.now();
    const pause = <R>(cb: () => R): R => {
      this.segments.push({ kind, seg: [start, performance.now()] });
      const resume = () => {
        start = performance.now();
      };
      const r = cb();
      if (r instanceof Promise) return r.finally(resume) as R;
      resume();
      return r;
    };
    try {
      return await fn(pause);
    } finally {
      this.segments.push({ kind, seg: [start, performance.now()] });
    }
  }

  /** Summed segment time per kind, ms (parallel calls of different kinds each count in full). */
  byKind(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const { kind, seg } of this.segments) out[kind] = (out[kind] ?? 0) + seg[1] - seg[0];
    return out;
  }

  /** Wall time during which any compute call was running, ms: the union of all segments. */
  wallMs(): number {
    const sorted = this.segments.map((s) => s.seg).sort((a, b) => a[0] - b[0]);
    let total = 0;
    let cur: [number, number] | undefined;
    for (const [s, e] of sorted) {
      if (cur && s <= cur[1]) cur[1] = Math.max(cur[1], e);
      else {
        if (cur) total += cur[1] - cur[0];
        cur = [s, e];
      }
    }
    return total + (cur ? cur[1] - cur[0] : 0);
  }
}

/** `inner`, with every call timed on `clock` and its callbacks into the activity paused out. */
export function timedCompute(inner: Compute, clock: ComputeClock): Compute {
  return {
    split: (dataDir, spec) => clock.time('split', () => inner.split(dataDir, spec)),
    selectReference: (spec, train) => clock.time('reference', () => inner.selectReference(spec, train)),
    normalise: (spec, slides, stain, onImage) =>
      clock.time('normalise', (pause) =>
        inner.normalise(spec, slides, stain, (i) => pause(() => onImage(i))),
      ),
    train: (call) =>
      clock.time(`train_${call.stage}`, (pause) =>
        inner.train({ ...call, onEpoch: (e) => pause(() => call.onEpoch(e)) }),
      ),
    tune: (call) => clock.time('tune', () => inner.tune(call)),
    infer: (call) =>
      clock.time('infer', (pause) =>
        inner.infer({ ...call, onImage: (p, i) => pause(() => call.onImage(p, i)) }),
      ),
    evaluate: (spec, p) => clock.time('evaluate', () => inner.evaluate(spec, p)),
    slidePlan: (job) => clock.time('slide_plan', () => inner.slidePlan(job)),
    slideRegions: (call) =>
      clock.time('slide_regions', (pause) =>
        inner.slideRegions({ ...call, onRegion: (p) => pause(() => call.onRegion(p)) }),
      ),
    slideMerge: (job) => clock.time('slide_merge', () => inner.slideMerge(job)),
  };
}
