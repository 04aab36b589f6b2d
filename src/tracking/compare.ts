/**
 * The comparison of runs that `nucleiflow compare` and the dashboard's compare page both print:
 * per-image scores of each run against the first run (the baseline), and the seen / unseen / all
 * averages with their deltas (run minus baseline).
 *
 * Rule: every average is taken over the images that ALL compared runs scored, so each run's mean
 * and every delta cover the same images. An image that some run lacks is still listed, with null
 * for the runs without it, but enters no average; `dropped[i]` counts the images of run i left out
 * of the averages that way, and `droppedImages` names them.
 *
 * One method at a time: the rows of `method` ('two-stage' unless asked; a row without a method is
 * a two-stage row) are compared, so a run's stage-1-alone rows never mix with its two-stage rows.
 *
 * Arms (`compareRuns`): runs whose arms agree on everything but `seed` form one arm. Per arm and
 * subset the mean ± sample sd over its runs of the per-run means above; and per arm against the
 * first arm, the per-image differences (an image's arm value is the mean over the arm's runs) with
 * a paired t 95% confidence interval over the images every run scored.
 */
import { meanOf, perSubset, SUBSETS, type SubsetName } from '../metrics/subsets.ts';
import { mean, type PairedInterval, pairedTInterval, sampleSd } from '../util/stats.ts';
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

export const METHODS = ['two-stage', 'stage1'] as const;
export type Method = (typeof METHODS)[number];
export type StoredResult = ResultRow & { readonly runId: string; readonly method?: string };

/**
 * Compares the per-image results of `runIds` for one method (results of other runs and other
 * methods are ignored).
 */
export function compareResults(
  runIds: readonly string[],
  allResults: readonly StoredResult[],
  method: Method = 'two-stage',
): Comparison {
  const results = allResults.filter((r) => (r.method ?? 'two-stage') === method);
  const index = new Map(runIds.map((id, i) => [id, i]));
  const byImage = new Map<
    string,
    { image: string; organ: string; subset: string; scores: (Scores | null)[] }
  >();
  for (const r of results) {
    const i = index.get(r.runId);
    if (i === undefined) continue;
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

/** A run as the arm grouping sees it. */
export interface ArmRun {
  readonly id: string;
  readonly arm: Readonly<Record<string, unknown>>;
  readonly seed: number;
}

export interface ArmStat {
  readonly subset: SubsetName;
  /** Images (scored by every compared run) behind each per-run mean. */
  readonly nImages: number;
  /** Mean over the arm's runs of their per-run means; null without images. */
  readonly mean: Scores | null;
  /** Sample sd over the arm's runs; null with one run or without images. */
  readonly sd: Scores | null;
}

export interface Arm {
  /** Canonical JSON of the arm without `seed`. */
  readonly key: string;
  /** `k=v, ...` of the arm without `seed`; '(no arm)' for a run outside any matrix. */
  readonly label: string;
  readonly runIds: string[];
  readonly seeds: number[];
  readonly stats: ArmStat[];
}

export interface ArmDifference {
  /** Index into `arms` of the arm compared against arm 0. */
  readonly arm: number;
  readonly subset: SubsetName;
  readonly nImages: number;
  /** Per score: mean of (arm - arm 0) per image and its paired t 95% interval; null without images. */
  readonly scores: Record<ScoreKey, PairedInterval> | null;
}

export interface ArmComparison {
  readonly arms: Arm[];
  readonly differences: ArmDifference[];
  /** How the intervals were computed, in words, for tables and reports. */
  readonly interval: string;
}

export const INTERVAL_METHOD =
  'paired t over images (95%): per image, each arm is the mean over its seeds; n = images every run scored';

const canonical = (v: unknown): string =>
  v !== null && typeof v === 'object' && !Array.isArray(v)
    ? `{${Object.keys(v)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
        .join(',')}}`
    : JSON.stringify(v);

function withoutSeed(arm: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { seed: _seed, ...rest } = arm;
  return rest;
}

/**
 * An experiment's runs split into those with per-image rows of `method` and those without (still
 * running, pending or failed): a comparison of the experiment is over the first, naming the second.
 */
export function partitionByResults<R extends { readonly id: string }>(
  runs: readonly R[],
  results: readonly { readonly runId: string; readonly method: string }[],
  method: Method,
): { scored: R[]; unscored: R[] } {
  const has = new Set(results.filter((x) => x.method === method).map((x) => x.runId));
  return { scored: runs.filter((r) => has.has(r.id)), unscored: runs.filter((r) => !has.has(r.id)) };
}

export function armLabelOf(arm: Readonly<Record<string, unknown>>): string {
  const entries = Object.entries(withoutSeed(arm)).sort(([a], [b]) => a.localeCompare(b));
  return entries.length ? entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ') : '(no arm)';
}

const scoresFrom = (f: (k: ScoreKey) => number): Scores => {
  const s = {} as Scores;
  for (const k of SCORE_KEYS) s[k] = f(k);
  return s;
};

/** Groups the compared runs into arms (in order of first appearance) and sets them side by side. */
export function compareArms(c: Comparison, runs: readonly ArmRun[]): ArmComparison {
  const byId = new Map(runs.map((r) => [r.id, r]));
  const groups: { key: string; label: string; idx: number[] }[] = [];
  c.runIds.forEach((id, i) => {
    const run = byId.get(id);
    if (!run) throw new RangeError(`compareArms: run ${id} has no arm`);
    const key = canonical(withoutSeed(run.arm));
    let g = groups.find((x) => x.key === key);
    if (!g) {
      g = { key, label: armLabelOf(run.arm), idx: [] };
      groups.push(g);
    }
    g.idx.push(i);
  });
  const arms: Arm[] = groups.map((g) => ({
    key: g.key,
    label: g.label,
    runIds: g.idx.map((i) => c.runIds[i]!),
    seeds: g.idx.map((i) => byId.get(c.runIds[i]!)!.seed),
    stats: c.averages.map((a) => {
      const per = g.idx.map((i) => a.means[i]).filter((m): m is Scores => m !== null);
      if (per.length === 0) return { subset: a.subset, nImages: a.nImages, mean: null, sd: null };
      const sds = SCORE_KEYS.map((k) => sampleSd(per.map((m) => m[k])));
      return {
        subset: a.subset,
        nImages: a.nImages,
        mean: scoresFrom((k) => mean(per.map((m) => m[k]))),
        sd: sds[0] === null ? null : scoresFrom((k) => sds[SCORE_KEYS.indexOf(k)]!),
      };
    }),
  }));
  const common = c.rows.filter((r) => r.inAll);
  const armValue = (r: CompareRow, g: (typeof groups)[number]): Scores =>
    scoresFrom((k) => mean(g.idx.map((i) => r.scores[i]![k])));
  const differences: ArmDifference[] = [];
  for (let a = 1; a < groups.length; a++) {
    const bySubset = perSubset(common, (rs) => rs);
    for (const subset of SUBSETS) {
      const rs = bySubset[subset];
      if (rs.length === 0) {
        differences.push({ arm: a, subset, nImages: 0, scores: null });
        continue;
      }
      const diffs = rs.map((r) => {
        const x = armValue(r, groups[a]!);
        const base = armValue(r, groups[0]!);
        return scoresFrom((k) => x[k] - base[k]);
      });
      const scores = {} as Record<ScoreKey, PairedInterval>;
      for (const k of SCORE_KEYS) scores[k] = pairedTInterval(diffs.map((d) => d[k]));
      differences.push({ arm: a, subset, nImages: rs.length, scores });
    }
  }
  return { arms, differences, interval: INTERVAL_METHOD };
}

export type RunsComparison = Comparison & { readonly method: Method; readonly arms: ArmComparison };

/**
 * The comparison that `nucleiflow compare`, `nucleiflow report` and the dashboard's compare page
 * print: per image and per subset over the runs, and per arm over seeds.
 */
export function compareRuns(
  runs: readonly ArmRun[],
  results: readonly StoredResult[],
  method: Method = 'two-stage',
): RunsComparison {
  const c = compareResults(
    runs.map((r) => r.id),
    results,
    method,
  );
  return { ...c, method, arms: compareArms(c, runs) };
}

/** An arm's score in percent as every view prints it: `65.70 ± 0.28`, or `65.70` with one seed. */
export function meanSdText(mean: number, sd: number | null): string {
  return sd === null ? (100 * mean).toFixed(2) : `${(100 * mean).toFixed(2)} ± ${(100 * sd).toFixed(2)}`;
}

/** A paired difference in percentage points as every view prints it: `+2.00 [+1.82, +2.18]`. */
export function intervalText(i: PairedInterval): string {
  const s = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(2)}`;
  return i.low === null || i.high === null
    ? `${s(i.mean)} [n < 2]`
    : `${s(i.mean)} [${s(i.low)}, ${s(i.high)}]`;
}
