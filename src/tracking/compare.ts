/**
 * The comparison of runs that `nucleiflow compare` and the dashboard's compare page both print:
 * per-image scores of each run against the first run (the baseline), and the seen / unseen / all
 * averages with their deltas (run minus baseline).
 *
 * Rule: every average is taken over the images that ALL compared runs scored, so each run's mean
 * and every delta cover the same images. An image that some run lacks is still listed, with null
 * for the runs without it, but enters no average; `dropped[i]` counts the images of run i left out
 * of the averages that way, and `droppedImages` names them.
 */
import { meanOf, perSubset, SUBSETS, type SubsetName } from '../metrics/subsets.ts';
import { type ResultRow, SCORE_KEYS, type ScoreKey } from './report.ts';

export type Scores = Record<ScoreKey, number>;

export interface CompareRow {
  readonly image: string;
  readonly organ: string;
  readonly subset: string;
  /** Whether every run scored this image (only such images enter the averages). */
  readonly inAll: boolean;
  /** One entry per run, in run order; null where the run has no result for the image. */
  readonly scores: (Scores | null)[];
  /** Run minus baseline, per run; index 0 and runs without the image are null. */
  readonly deltas: (Scores | null)[];
}

export interface CompareAverage {
  readonly subset: SubsetName;
  /** How many images (scored by every run) the average is over. */
  readonly nImages: number;
  /** Per run; null when no image of the subset was scored by every run. */
  readonly means: (Scores | null)[];
  readonly deltas: (Scores | null)[];
}

export interface Comparison {
  readonly runIds: string[];
  /** Seen organs first, then by organ and image. */
  readonly rows: CompareRow[];
  readonly averages: CompareAverage[];
  /** Per run: how many of its scored images are left out of the averages. */
  readonly dropped: number[];
  /** The images some run did not score, left out of every average. */
  readonly droppedImages: string[];
}

function deltasOf(scores: readonly (Scores | null)[]): (Scores | null)[] {
  const base = scores[0];
  return scores.map((s, i) => {
    if (i === 0 || !s || !base) return null;
    const d = {} as Scores;
    for (const k of SCORE_KEYS) d[k] = s[k] - base[k];
    return d;
  });
}

const scoresOf = (r: ResultRow): Scores => {
  const s = {} as Scores;
  for (const k of SCORE_KEYS) s[k] = r[k];
  return s;
};

/** Compares the per-image two-stage results of `runIds` (other runs' and stage-1-alone rows are ignored). */
export function compareResults(
  runIds: readonly string[],
  results: readonly (ResultRow & { readonly runId: string })[],
): Comparison {
  const index = new Map(runIds.map((id, i) => [id, i]));
  const byImage = new Map<
    string,
    { image: string; organ: string; subset: string; scores: (Scores | null)[] }
  >();
  for (const r of results) {
    const i = index.get(r.runId);
    if (i === undefined || (r.method ?? 'two-stage') !== 'two-stage') continue;
    let row = byImage.get(r.image);
    if (!row) {
      row = { image: r.image, organ: r.organ, subset: r.subset, scores: runIds.map(() => null) };
      byImage.set(r.image, row);
    }
    row.scores[i] = scoresOf(r);
  }
  const rows: CompareRow[] = [...byImage.values()]
    .sort(
      (a, b) =>
        a.subset.localeCompare(b.subset) || a.organ.localeCompare(b.organ) || a.image.localeCompare(b.image),
    )
    .map((r) => ({ ...r, inAll: r.scores.every((s) => s !== null), deltas: deltasOf(r.scores) }));
  const common = rows.filter((r) => r.inAll);
  const bySubset = perSubset(common, (rs) => {
    const means = runIds.map((_, i) =>
      meanOf(
        rs.map((r) => r.scores[i]!),
        SCORE_KEYS,
      ),
    );
    return { nImages: rs.length, means, deltas: deltasOf(means) };
  });
  const averages = SUBSETS.map((subset) => ({ subset, ...bySubset[subset] }));
  const dropped = runIds.map((_, i) => rows.filter((r) => !r.inAll && r.scores[i] !== null).length);
  const droppedImages = rows.filter((r) => !r.inAll).map((r) => r.image);
  return { runIds: [...runIds], rows, averages, dropped, droppedImages };
}
