import type { Command } from 'commander';
import { openDb } from '../../platform/session.ts';
import { resolveRun } from '../../platform/submit.ts';
import { UserError } from '../../src/errors.ts';
import { meanOf } from '../../src/metrics/subsets.ts';
import type { Db } from '../../src/storage/index.ts';
import * as tracking from '../../src/tracking/index.ts';
import { type ResultRow, SCORE_KEYS, shortId, textTable } from '../../src/tracking/report.ts';
import { action } from '../run-action.ts';

const LABEL = { dice: 'Dice', f1: 'F1', aji: 'AJI', ajiPlus: 'AJI+', pq: 'PQ' } as const;

export interface Comparison {
  readonly a: string;
  readonly b: string;
  /** Spec fields that differ (dotted path: [A, B]). */
  readonly differences: Record<string, [string | undefined, string | undefined]>;
  readonly images: Array<{ image: string; organ: string; subset: string; a: ResultRow; b: ResultRow }>;
  readonly averages: Array<{ label: string; a: Record<string, number>; b: Record<string, number> }>;
}

/** Per-image and averaged scores of two runs on the images both evaluated. */
export async function compareRuns(db: Db, a: tracking.RunRow, b: tracking.RunRow): Promise<Comparison> {
  const [ra, rb, pa, pb] = await Promise.all([
    tracking.getImageResults(db, a.id),
    tracking.getImageResults(db, b.id),
    tracking.getParams(db, a.id),
    tracking.getParams(db, b.id),
  ]);
  if (ra.length === 0) throw new UserError(`run ${a.id} has no per-image results (status ${a.status})`);
  if (rb.length === 0) throw new UserError(`run ${b.id} has no per-image results (status ${b.status})`);
  const byImage = new Map(rb.map((r) => [r.image, r]));
  const images = ra
    .filter((r) => byImage.has(r.image))
    .map((r) => ({ image: r.image, organ: r.organ, subset: r.subset, a: r, b: byImage.get(r.image)! }));
  const differences: Comparison['differences'] = {};
  for (const k of new Set([...Object.keys(pa), ...Object.keys(pb)])) {
    if (k === 'name' || k === 'description') continue;
    if (pa[k] !== pb[k]) differences[k] = [pa[k], pb[k]];
  }
  const averages: Comparison['averages'] = [];
  for (const [label, subset] of [
    ['Average, seen organs', 'seen'],
    ['Average, unseen organs', 'unseen'],
    ['Average, all', undefined],
  ] as const) {
    const sel = images.filter((i) => !subset || i.subset === subset);
    const ma = meanOf(
      sel.map((i) => i.a),
      SCORE_KEYS,
    );
    const mb = meanOf(
      sel.map((i) => i.b),
      SCORE_KEYS,
    );
    if (ma && mb) averages.push({ label, a: ma, b: mb });
  }
  return { a: a.id, b: b.id, differences, images, averages };
}

function printComparison(c: Comparison, keys: readonly (typeof SCORE_KEYS)[number][]): void {
  const w = (s: string) => process.stdout.write(`${s}\n`);
  w(`A = ${c.a}\nB = ${c.b}`);
  const diffs = Object.entries(c.differences);
  w(diffs.length ? `differs in: ${diffs.map(([k, [x, y]]) => `${k} ${x} -> ${y}`).join('; ')}` : 'same spec');
  const header = ['Image', 'Organ', 'Seen', ...keys.flatMap((k) => [`${LABEL[k]} A`, `${LABEL[k]} B`, 'Δ'])];
  const pct = (v: number) => (100 * v).toFixed(2);
  const delta = (x: number, y: number) => `${y - x >= 0 ? '+' : ''}${(100 * (y - x)).toFixed(2)}`;
  const body = c.images.map((i) => [
    shortId(i.image),
    i.organ,
    i.subset === 'seen' ? 'yes' : 'no',
    ...keys.flatMap((k) => [pct(i.a[k]), pct(i.b[k]), delta(i.a[k], i.b[k])]),
  ]);
  for (const av of c.averages) {
    body.push([
      av.label,
      '',
      '',
      ...keys.flatMap((k) => [pct(av.a[k]!), pct(av.b[k]!), delta(av.a[k]!, av.b[k]!)]),
    ]);
  }
  w(textTable(header, body));
}

export function register(program: Command): void {
  program
    .command('compare')
    .description('Compare two runs side by side: per-image and averaged scores with deltas (B - A)')
    .argument('[runA]', 'baseline run id (or unique prefix)')
    .argument('[runB]', 'run compared with it')
    .option('--experiment <id>', 'compare the runs of one experiment (each arm against the first)')
    .option('--metrics <list>', 'scores to show', 'dice,f1,aji')
    .option('--json', 'print JSON')
    .action(
      action(
        async (
          runA: string | undefined,
          runB: string | undefined,
          opts: { experiment?: string; metrics: string; json?: boolean },
        ) => {
          const keys = opts.metrics.split(',').map((k) => k.trim()) as (typeof SCORE_KEYS)[number][];
          const bad = keys.find((k) => !(SCORE_KEYS as readonly string[]).includes(k));
          if (bad)
            throw new UserError(`--metrics: unknown score '${bad}' (choose from ${SCORE_KEYS.join(', ')})`);
          if (!opts.experiment && (!runA || !runB))
            throw new UserError('give two runs, or --experiment <id>');
          if (opts.experiment && (runA || runB))
            throw new UserError('give either two runs or --experiment, not both');
          const storage = await openDb();
          try {
            const { db } = storage;
            let pairs: Array<[tracking.RunRow, tracking.RunRow]>;
            if (opts.experiment) {
              const runs = (await tracking.listRuns(db, { experimentId: opts.experiment })).sort((x, y) =>
                x.id.localeCompare(y.id),
              );
              if (runs.length < 2) {
                throw new UserError(
                  `experiment ${opts.experiment} has ${runs.length} run(s); compare needs two`,
                );
              }
              pairs = runs.slice(1).map((r) => [runs[0]!, r]);
            } else {
              pairs = [[await resolveRun(db, runA!), await resolveRun(db, runB!)]];
            }
            const comparisons = [];
            for (const [a, b] of pairs) comparisons.push(await compareRuns(db, a, b));
            if (opts.json) {
              process.stdout.write(`${JSON.stringify(comparisons, null, 2)}\n`);
              return;
            }
            comparisons.forEach((c, i) => {
              if (i) process.stdout.write('\n');
              printComparison(c, keys);
            });
          } finally {
            await storage.close();
          }
        },
      ),
    );
}
