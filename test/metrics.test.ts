import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { readLabels } from '../src/imaging/io.ts';
import type { LabelImage } from '../src/imaging/types.ts';
import { aggregate, EVAL_KEYS, evaluate, evaluateDetailed } from '../src/metrics/index.ts';
import { linearSumAssignmentMax } from '../src/metrics/lsap.ts';
import { CROSSCHECK_DIR, readCrosscheckManifest } from '../testing/crosscheck-fixtures.ts';

const manifest = readCrosscheckManifest();
const COUNTS = new Set(['tp', 'fp', 'fn', 'nGt', 'nPred']);

describe('metrics vs the NumPy reference on perturbed real MoNuSeg GT', () => {
  it('has at least 20 pairs covering merges, splits, drops, additions, shifts and empty maps', () => {
    expect(manifest.pairs.length).toBeGreaterThanOrEqual(20);
    const kinds = manifest.pairs.map((p) => p.name).join(' ');
    for (const k of [
      'merge',
      'split',
      'drop',
      'add',
      'shift',
      'erode',
      'dilate',
      'empty-pred',
      'empty-gt',
      'both-empty',
    ])
      expect(kinds).toContain(k);
  });

  it.each(manifest.pairs.map((p) => [p.name, p] as const))('%s matches to 1e-6', async (_name, pair) => {
    const gt = await readLabels(join(CROSSCHECK_DIR, pair.gt));
    const pred = await readLabels(join(CROSSCHECK_DIR, pair.pred));
    const got = evaluate(gt, pred);
    expect(Object.keys(got).sort()).toEqual([...EVAL_KEYS].sort());
    for (const k of EVAL_KEYS) {
      if (COUNTS.has(k)) expect(got[k], k).toBe(pair.expected[k]);
      else expect(Math.abs(got[k] - pair.expected[k]), k).toBeLessThanOrEqual(1e-6);
    }
  });
});

describe('evaluate edge cases', () => {
  const img = (w: number, h: number, d: number[]): LabelImage => ({
    width: w,
    height: h,
    data: Int32Array.from(d),
  });

  it('states its values for empty maps', () => {
    const z = img(2, 2, [0, 0, 0, 0]);
    const one = img(2, 2, [1, 1, 0, 0]);
    expect(evaluate(z, z)).toMatchObject({
      aji: 1,
      ajiPlus: 1,
      dice: 1,
      f1: 1,
      precision: 1,
      recall: 1,
      pq: 1,
    });
    expect(evaluate(one, z)).toMatchObject({
      aji: 0,
      ajiPlus: 0,
      dice: 0,
      f1: 0,
      precision: 0,
      recall: 0,
      pq: 0,
      fn: 1,
    });
    expect(evaluate(z, one)).toMatchObject({ aji: 0, f1: 0, precision: 0, recall: 0, pq: 0, fp: 1 });
  });

  it('AJI: of two preds tied at IoU 0.5 one is taken and the other adds its area; IoU exactly 0.5 is not a match', () => {
    // GT 1 covers 4 px; preds 7 and 3 each cover 2 of them (IoU 0.5 each): one is taken, the
    // other is unused and adds its area to the union: C = 2, U = 4 + 2 = 6. Two disjoint preds
    // tied at IoU exactly 0.5 must both be half the GT, so which one wins cannot show here; the
    // next test shows the lowest id winning a tie between preds of different sizes.
    const gt = img(4, 1, [1, 1, 1, 1]);
    const pred = img(4, 1, [7, 7, 3, 3]);
    const r = evaluateDetailed(gt, pred);
    expect(r.totals.ajiInter).toBe(2);
    expect(r.totals.ajiUnion).toBe(6);
    expect(r.tp).toBe(0);
  });

  it('ids are arbitrary labels: any ids, gaps or 2^31 - 1, score by their order, not their first pixel', () => {
    // GT 1 has 9 px. Pred X overlaps 3 of them (IoU 3/9), pred Y 4 plus 3 outside (IoU 4/12): a
    // tie that the lower id wins. Y has the lower id but X comes first in the raster.
    // Y wins: C = 4, U = 9 + 7 - 4 + 3 (X unused) = 15; X would give C = 3, U = 16.
    const gt = img(12, 1, [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
    const layout = (x: number, y: number) => img(12, 1, [x, x, x, y, y, y, y, 0, 0, y, y, y]);
    for (const [x, y] of [
      [9, 4], // ids below the pixel count
      [2147483647, 65535], // ids far above it
    ] as const) {
      const r = evaluateDetailed(gt, layout(x, y));
      expect([r.totals.ajiInter, r.totals.ajiUnion, r.nPred]).toEqual([4, 15, 2]);
    }
  });

  it('scores every crosscheck pair the same with its ids spread far apart (order kept)', async () => {
    const spread = (l: LabelImage): LabelImage => ({ ...l, data: l.data.map((v) => v * 1_000_003) });
    for (const pair of manifest.pairs) {
      const gt = await readLabels(join(CROSSCHECK_DIR, pair.gt));
      const pred = await readLabels(join(CROSSCHECK_DIR, pair.pred));
      const top = Math.max(
        gt.data.reduce((m, v) => Math.max(m, v), 0),
        pred.data.reduce((m, v) => Math.max(m, v), 0),
      );
      expect(top * 1_000_003, pair.name).toBeLessThan(2 ** 31); // no Int32 wrap-around
      expect(evaluate(spread(gt), spread(pred)), pair.name).toEqual(evaluate(gt, pred));
    }
  });

  it('rejects maps of different sizes naming both shapes', () => {
    expect(() => evaluate(img(2, 1, [0, 0]), img(1, 2, [0, 0]))).toThrow(/2x1 vs 1x2/);
  });

  it('scores a real MoNuSeg slide against itself as perfect', async () => {
    const gt = await readLabels(join(loadConfig().dataDir, 'labels', 'TCGA-18-5592-01Z-00-DX1.png'));
    expect(evaluate(gt, gt)).toMatchObject({ aji: 1, ajiPlus: 1, f1: 1, pq: 1, nGt: 480, tp: 480 });
  });
});

describe('aggregate', () => {
  it('averages per image and pools AJI as sum C / sum U', async () => {
    const rows = [];
    for (const p of manifest.pairs.slice(0, 6)) {
      rows.push(
        evaluateDetailed(
          await readLabels(join(CROSSCHECK_DIR, p.gt)),
          await readLabels(join(CROSSCHECK_DIR, p.pred)),
        ),
      );
    }
    const a = aggregate(rows);
    expect(a.n).toBe(6);
    expect(a.mean.aji).toBeCloseTo(rows.reduce((s, r) => s + r.aji, 0) / 6, 12);
    expect(a.mean.tp).toBe(rows.reduce((s, r) => s + r.tp, 0));
    const c = rows.reduce((s, r) => s + r.totals.ajiInter, 0);
    const u = rows.reduce((s, r) => s + r.totals.ajiUnion, 0);
    expect(a.pooled.aji).toBeCloseTo(c / u, 12);
    const plain = aggregate(rows.map(({ totals: _t, ...r }) => r));
    expect(plain.pooled.aji).toBeNull();
    expect(plain.pooled.f1).toBeCloseTo(a.pooled.f1, 12);
    expect(() => aggregate([])).toThrow(/no rows/);
  });
});

describe('linear sum assignment', () => {
  it('finds the maximum total weight (checked by brute force)', () => {
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let t = 0; t < 200; t++) {
      const nr = 1 + (t % 5);
      const nc = 1 + ((t * 7) % 5);
      const w = Float64Array.from({ length: nr * nc }, () => (rnd() < 0.4 ? 0 : Math.round(rnd() * 4) / 4));
      const m = linearSumAssignmentMax(w, nr, nc);
      const used = new Set<number>();
      let got = 0;
      for (let r = 0; r < nr; r++) {
        if (m[r]! < 0) continue;
        expect(used.has(m[r]!)).toBe(false);
        used.add(m[r]!);
        got += w[r * nc + m[r]!]!;
      }
      expect(used.size).toBe(Math.min(nr, nc));
      const best = (r: number, taken: number): number => {
        if (r === nr) return 0;
        let b = nr - r > nc - popcount(taken) ? best(r + 1, taken) : Number.NEGATIVE_INFINITY;
        for (let c = 0; c < nc; c++)
          if (!(taken & (1 << c))) b = Math.max(b, w[r * nc + c]! + best(r + 1, taken | (1 << c)));
        return b;
      };
      expect(got).toBeCloseTo(best(0, 0), 12);
    }
  });
});

function popcount(x: number): number {
  let c = 0;
  for (; x; x &= x - 1) c++;
  return c;
}
