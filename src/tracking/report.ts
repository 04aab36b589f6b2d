/**
 * Result tables in the layout of Table 1 of Mahbod et al. 2019 (per test image: Dice, F1, AJI; then
 * averages over seen organs, unseen organs and all), plus AJI+ and PQ. One renderer serves the
 * run report (Markdown), `nucleiflow show` (aligned text) and `nucleiflow compare` (deltas).
 */
import { toCsv } from '../io/csv.ts';
import { inSubset, SUBSETS, type SubsetName, subsetMeans } from '../metrics/subsets.ts';
import type { EvalMethod, ImageResultRow, RunRow } from './index.ts';

/** A per-image result as stored (the database keeps `subset` and `method` as text; absent method = 'two-stage'). */
export type ResultRow = Omit<ImageResultRow, 'subset' | 'method'> & {
  readonly subset: string;
  readonly method?: string;
};

/** Table titles of the evaluation methods, in the order the report shows them. */
export const METHOD_LABEL: Readonly<Record<EvalMethod, string>> = {
  stage1: 'Stage 1 alone (the paper\'s "U-Net" column: thresholded stage-1 map, same cleanup)',
  'two-stage': 'Two-stage U-Net (stage 1 + distance map + watershed)',
};

const methodOf = (r: ResultRow) => r.method ?? 'two-stage';

export const SCORE_KEYS = ['dice', 'f1', 'aji', 'ajiPlus', 'pq'] as const;
export type ScoreKey = (typeof SCORE_KEYS)[number];
/** Column titles of the scores. */
export const SCORE_LABEL: Record<ScoreKey, string> = {
  dice: 'Dice',
  f1: 'F1',
  aji: 'AJI',
  ajiPlus: 'AJI+',
  pq: 'PQ',
};

/** Row labels of the three averages of Table 1. */
export const AVERAGE_LABEL: Record<SubsetName, string> = {
  seen: 'Average, seen organs',
  unseen: 'Average, unseen organs',
  all: 'Average, all',
};

/** Short slide id as in the paper's table (TCGA-21-5784-01Z-00-DX1 -> 21-5784). */
export const shortId = (id: string) => id.replace(/^TCGA-/, '').replace(/-01Z-00-DX1$/, '');

/** Rows of a Table-1-style table: one per image (seen organs first), then the three averages. */
export function table1(rows: readonly ResultRow[]): { header: string[]; body: string[][] } {
  const header = ['Organ', 'Image', 'Organ seen', ...SCORE_KEYS.map((k) => SCORE_LABEL[k]), 'GT', 'Pred'];
  const fmt = (v: number) => (100 * v).toFixed(2);
  const sorted = [...rows].sort(
    (a, b) =>
      a.subset.localeCompare(b.subset) || a.organ.localeCompare(b.organ) || a.image.localeCompare(b.image),
  );
  const body = sorted.map((r) => [
    r.organ,
    shortId(r.image),
    r.subset === 'seen' ? 'yes' : 'no',
    ...SCORE_KEYS.map((k) => fmt(r[k])),
    String(r.nGt),
    String(r.nPred),
  ]);
  const m = subsetMeans(rows, SCORE_KEYS);
  for (const s of SUBSETS) {
    const ms = m[s];
    if (ms) body.push([AVERAGE_LABEL[s], '', '', ...SCORE_KEYS.map((k) => fmt(ms[k])), '', '']);
  }
  return { header, body };
}

/** Aligned plain-text table. */
export function textTable(header: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i < 3 ? (c ?? '').padEnd(widths[i]!) : (c ?? '').padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function markdownTable(header: readonly string[], body: readonly (readonly string[])[]): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i < 3 ? '---' : '---:')).join('|')}|`,
    ...body.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** Per method present in `rows` (stage 1 alone first): the three averages of Table 1. */
export function methodAverages(rows: readonly ResultRow[]): { header: string[]; body: string[][] } {
  const header = ['Method', 'Average', 'Images', ...SCORE_KEYS.map((k) => SCORE_LABEL[k])];
  const fmt = (v: number) => (100 * v).toFixed(2);
  const body: string[][] = [];
  for (const method of ['stage1', 'two-stage'] as const) {
    const mine = rows.filter((r) => methodOf(r) === method);
    if (mine.length === 0) continue;
    const m = subsetMeans(mine, SCORE_KEYS);
    for (const s of SUBSETS) {
      const ms = m[s];
      const n = inSubset(mine, s).length;
      if (ms) body.push([method, AVERAGE_LABEL[s], String(n), ...SCORE_KEYS.map((k) => fmt(ms[k]))]);
    }
  }
  return { header, body };
}

/** The report's line on how the post-processing was chosen, from the run's params. */
function postprocessLine(params: Record<string, string>): string {
  if (params['tuning.images'] !== 'train') return "- post-processing: the spec's fixed rule (no tuning)";
  return (
    `- post-processing: ${params['tuning.chosen'] ?? 'unknown'}, chosen among ${params['tuning.settings'] ?? '?'} ` +
    `settings on the ${params['tuning.image_count'] ?? '?'} training images only (test images took no part), ` +
    `mean training AJI ${params['tuning.chosen_aji'] ?? '?'}`
  );
}

export function renderReport(
  run: RunRow,
  params: Record<string, string>,
  rows: readonly ResultRow[],
): string {
  const twoStage = rows.filter((r) => methodOf(r) === 'two-stage');
  const stage1 = rows.filter((r) => methodOf(r) === 'stage1');
  const { header, body } = table1(twoStage);
  const avg = methodAverages(rows);
  const arm = Object.entries(run.arm as Record<string, unknown>)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ');
  return [
    `# NucleiFlow run ${run.id}`,
    '',
    `- experiment: ${run.experimentId}${arm ? ` (arm: ${arm})` : ''}`,
    `- config hash: ${run.configHash}`,
    `- seed: ${run.seed}`,
    `- code commit: ${run.codeCommit ?? 'unknown'}`,
    `- data hash: ${run.dataHash ?? 'unknown'}`,
    `- worker: ${run.workerHost ?? 'unknown'}`,
    `- stain reference: ${params['stain.reference'] ?? 'none'}`,
    postprocessLine(params),
    '',
    'Scores in percent, per test image of the Kumar split (Table 1 layout of Mahbod et al. 2019).',
    '',
    '## Averages per method',
    '',
    markdownTable(avg.header, avg.body),
    '',
    `## ${METHOD_LABEL['two-stage']}`,
    '',
    markdownTable(header, body),
    '',
    ...(stage1.length
      ? [`## ${METHOD_LABEL.stage1}`, '', markdownTable(table1(stage1).header, table1(stage1).body), '']
      : []),
  ].join('\n');
}

export function resultsCsv(rows: readonly ResultRow[]): string {
  return toCsv(
    ['image', 'organ', 'subset', ...SCORE_KEYS, 'n_gt', 'n_pred'],
    rows.map((r) => [r.image, r.organ, r.subset, ...SCORE_KEYS.map((k) => r[k]), r.nGt, r.nPred]),
  );
}
