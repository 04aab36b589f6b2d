import { type Command, Option } from 'commander';
import { openDb } from '../../platform/session.ts';
import { resolveRun } from '../../platform/submit.ts';
import { UserError } from '../../src/errors.ts';
import {
  compareRuns,
  intervalText,
  METHODS,
  type Method,
  meanSdText,
  partitionByResults,
  type RunsComparison,
  type Scores,
} from '../../src/tracking/compare.ts';
import * as tracking from '../../src/tracking/index.ts';
import { AVERAGE_LABEL, SCORE_KEYS, SCORE_LABEL, shortId, textTable } from '../../src/tracking/report.ts';
import { choiceList } from '../options.ts';
import { action } from '../run-action.ts';

type Differences = Record<string, [string | undefined, string | undefined]>;

/** The comparison, plus per run the spec fields that differ from the baseline's ([baseline, run]). */
type CliComparison = RunsComparison & { readonly differences: Differences[] };

function differences(base: Record<string, string>, other: Record<string, string>): Differences {
  const out: Differences = {};
  for (const k of new Set([...Object.keys(base), ...Object.keys(other)])) {
    if (k === 'name' || k === 'description') continue;
    if (base[k] !== other[k]) out[k] = [base[k], other[k]];
  }
  return out;
}

/** Run letters of the table: A is the baseline. */
const letter = (i: number) => String.fromCharCode(65 + i);

function printComparison(c: CliComparison, keys: readonly (typeof SCORE_KEYS)[number][]): void {
  const w = (s: string) => process.stdout.write(`${s}\n`);
  for (const [i, id] of c.runIds.entries()) w(`${letter(i)} = ${id}`);
  for (const [i, d] of c.differences.entries()) {
    if (i === 0) continue;
    const diffs = Object.entries(d);
    w(
      `${letter(i)} ${diffs.length ? `differs in: ${diffs.map(([k, [x, y]]) => `${k} ${x} -> ${y}`).join('; ')}` : 'same spec'}`,
    );
  }
  const header = [
    'Image',
    'Organ',
    'Seen',
    ...keys.flatMap((k) =>
      c.runIds.flatMap((_, i) =>
        i === 0 ? [`${SCORE_LABEL[k]} A`] : [`${SCORE_LABEL[k]} ${letter(i)}`, 'Δ'],
      ),
    ),
  ];
  const pct = (v: number | undefined) => (v === undefined ? '-' : (100 * v).toFixed(2));
  const delta = (v: number | undefined) =>
    v === undefined ? '-' : `${v >= 0 ? '+' : ''}${(100 * v).toFixed(2)}`;
  const cells = (scores: readonly (Scores | null)[], deltas: readonly (Scores | null)[]) =>
    keys.flatMap((k) =>
      scores.flatMap((s, i) => (i === 0 ? [pct(s?.[k])] : [pct(s?.[k]), delta(deltas[i]?.[k])])),
    );
  const body = c.rows.map((r) => [
    shortId(r.image),
    r.organ,
    r.subset === 'seen' ? 'yes' : 'no',
    ...cells(r.scores, r.deltas),
  ]);
  for (const a of c.averages) {
    if (a.nImages > 0)
      body.push([`${AVERAGE_LABEL[a.subset]} (${a.nImages})`, '', '', ...cells(a.means, a.deltas)]);
  }
  w(textTable(header, body));
  if (c.droppedImages.length) {
    w(
      `averages are over the images every run scored; left out: ${c.droppedImages.map(shortId).join(', ')} (${c.runIds.map((_, i) => `${letter(i)} ${c.dropped[i]}`).join(', ')} images)`,
    );
  }
  if (c.arms.arms.some((a) => a.runIds.length > 1)) printArms(c, keys);
}

/** Per arm mean ± sd over seeds, and the paired differences against the first arm. */
function printArms(c: CliComparison, keys: readonly (typeof SCORE_KEYS)[number][]): void {
  const w = (s: string) => process.stdout.write(`${s}\n`);
  const avg = (s: string) => AVERAGE_LABEL[s as keyof typeof AVERAGE_LABEL];
  w('');
  w('Arms: mean ± sd over seeds of the per-run means (percent)');
  w(
    textTable(
      ['Arm', 'Average', 'Seeds', ...keys.map((k) => SCORE_LABEL[k])],
      c.arms.arms.flatMap((a) =>
        a.stats.map((s) => [
          a.label,
          `${avg(s.subset)} (${s.nImages})`,
          a.seeds.join(','),
          ...keys.map((k) => (s.mean ? meanSdText(s.mean[k], s.sd?.[k] ?? null) : '-')),
        ]),
      ),
    ),
  );
  if (c.arms.differences.length === 0) return;
  w('');
  w(`Paired differences against ${c.arms.arms[0]!.label} (percentage points; ${c.arms.interval})`);
  w(
    textTable(
      ['Arm', 'Average', 'Images', ...keys.map((k) => `Δ ${SCORE_LABEL[k]} [95% CI]`)],
      c.arms.differences.map((d) => [
        c.arms.arms[d.arm]!.label,
        avg(d.subset),
        String(d.nImages),
        ...keys.map((k) => (d.scores ? intervalText(d.scores[k]) : '-')),
      ]),
    ),
  );
}

export function register(program: Command): void {
  program
    .command('compare')
    .description(
      'Compare runs side by side: per-image scores and seen / unseen / all averages (over the images every run scored), with deltas against the first run; arms with several seeds as mean ± sd, with paired per-image differences and 95% intervals',
    )
    .argument('[runs...]', 'two or more run ids (or unique prefixes); the first is the baseline')
    .option('--experiment <id>', 'compare the runs of one experiment (each against the first created)')
    .addOption(
      new Option('--metrics <list>', `scores to show (${SCORE_KEYS.join(', ')})`)
        .argParser(choiceList(SCORE_KEYS))
        .default(['dice', 'f1', 'aji'], 'dice,f1,aji'),
    )
    .addOption(
      new Option(
        '--method <method>',
        "which results: the two-stage method or stage 1 alone (the paper's U-Net)",
      )
        .choices(METHODS)
        .default('two-stage'),
    )
    .option('--json', 'print JSON')
    .action(
      action(
        async (
          given: string[],
          opts: {
            experiment?: string;
            metrics: (typeof SCORE_KEYS)[number][];
            method: Method;
            json?: boolean;
          },
        ) => {
          const keys = opts.metrics;
          if (opts.experiment && given.length)
            throw new UserError('give either runs or --experiment, not both');
          if (!opts.experiment && given.length < 2)
            throw new UserError('give two or more runs, or --experiment <id>');
          const storage = await openDb();
          try {
            const { db } = storage;
            let runs: tracking.RunRow[];
            // An experiment's results are read once, to see which runs have any; given runs' below.
            let fetched: tracking.ImageResultRecord[] | undefined;
            if (opts.experiment) {
              const ids = await tracking.runIdsOfExperiment(db, opts.experiment);
              const all = (await tracking.getRunsBrief(db, ids)).map((r) => r.run);
              fetched = await tracking.getImageResults(db, ids, 'all');
              // Runs without results yet (running, pending, failed) are left out and named.
              const { scored, unscored } = partitionByResults(all, fetched, opts.method);
              if (scored.length < 2)
                throw new UserError(
                  `experiment ${opts.experiment} has ${scored.length} run(s) with ${opts.method} results of ${ids.length}; compare needs two`,
                );
              if (unscored.length)
                process.stderr.write(
                  `nucleiflow: left out, no ${opts.method} results yet: ${unscored.map((r) => `${r.id} (${r.status})`).join(', ')}\n`,
                );
              runs = scored;
            } else {
              runs = [];
              for (const id of given) runs.push(await resolveRun(db, id));
            }
            const ids = runs.map((r) => r.id);
            if (new Set(ids).size < ids.length)
              throw new UserError(`a run is given twice: ${ids.join(', ')}`);
            const kept = new Set(ids);
            const results = fetched
              ? fetched.filter((x) => kept.has(x.runId))
              : await tracking.getImageResults(db, ids, 'all');
            const empty = runs.find(
              (r) => !results.some((x) => x.runId === r.id && x.method === opts.method),
            );
            if (empty)
              throw new UserError(
                `run ${empty.id} has no per-image ${opts.method} results (status ${empty.status})`,
              );
            // The recorded specs, not the params: params also hold outcomes (tuning.chosen_aji, ...).
            const specs = runs.map((r) => tracking.flattenParams(r.spec));
            const c: CliComparison = {
              ...compareRuns(
                runs.map((r) => ({ id: r.id, arm: r.arm as Record<string, unknown>, seed: r.seed })),
                results,
                opts.method,
              ),
              differences: specs.map((p) => differences(specs[0]!, p)),
            };
            if (opts.json) {
              process.stdout.write(`${JSON.stringify(c, null, 2)}\n`);
              return;
            }
            printComparison(c, keys);
          } finally {
            await storage.close();
          }
        },
      ),
    );
}
