/**
 * The comparison behind the compare page: per-image scores of several runs against the first
 * (the baseline), and per-subset averages. A run's average is over its own images; the delta of
 * an average is the difference of the two averages. Images missing from a run show no value.
 */
import type { ImageResultRecord } from '../../src/tracking/queries.ts';

export const COMPARE_METRICS = ['aji', 'dice', 'f1', 'ajiPlus', 'pq'] as const;
export type CompareMetric = (typeof COMPARE_METRICS)[number];
export const METRIC_TITLES: Record<CompareMetric, string> = {
  aji: 'AJI',
  dice: 'Dice',
  f1: 'F1',
  ajiPlus: 'AJI+',
  pq: 'PQ',
};

export interface CompareRow {
  image: string;
  organ: string;
  subset: string;
  /** One value per run, in run order (null when the run has no result for the image). */
  values: (number | null)[];
  /** value - baseline value, per run (index 0 is always null). */
  deltas: (number | null)[];
}

export interface CompareAverage {
  subset: 'seen' | 'unseen' | 'all';
  values: (number | null)[];
  deltas: (number | null)[];
  counts: number[];
}

export interface Comparison {
  runIds: string[];
  metric: CompareMetric;
  rows: CompareRow[];
  averages: CompareAverage[];
}

function deltasOf(values: (number | null)[]): (number | null)[] {
  const base = values[0];
  return values.map((v, i) =>
    i === 0 || v === null || base === null || base === undefined ? null : v - base,
  );
}

export function compareRuns(
  runIds: string[],
  results: ImageResultRecord[],
  metric: CompareMetric,
): Comparison {
  const index = new Map(runIds.map((id, i) => [id, i]));
  const byImage = new Map<string, CompareRow>();
  for (const r of results) {
    const i = index.get(r.runId);
    if (i === undefined) continue;
    let row = byImage.get(r.image);
    if (!row) {
      row = { image: r.image, organ: r.organ, subset: r.subset, values: runIds.map(() => null), deltas: [] };
      byImage.set(r.image, row);
    }
    row.values[i] = r[metric];
  }
  const rows = [...byImage.values()].sort(
    (a, b) =>
      (a.subset === b.subset ? 0 : a.subset === 'seen' ? -1 : 1) ||
      a.organ.localeCompare(b.organ) ||
      a.image.localeCompare(b.image),
  );
  for (const row of rows) row.deltas = deltasOf(row.values);
  const averages = (['seen', 'unseen', 'all'] as const).map((subset) => {
    const sel = rows.filter((r) => subset === 'all' || r.subset === subset);
    const values = runIds.map((_, i) => {
      const vs = sel.map((r) => r.values[i]).filter((v): v is number => v !== null);
      return vs.length ? vs.reduce((s, v) => s + v, 0) / vs.length : null;
    });
    const counts = runIds.map((_, i) => sel.filter((r) => r.values[i] !== null).length);
    return { subset, values, deltas: deltasOf(values), counts };
  });
  return { runIds, metric, rows, averages };
}
