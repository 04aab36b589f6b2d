/**
 * The files of `nucleiflow report`: report.md (Table 1 layout per arm for stage 1 alone and the
 * two-stage result beside the paper's numbers, training facts, chosen post-processing, learning
 * curves, paired differences between arms), one SVG per curve plot, and per-image.csv. Pure:
 * data in, file contents out; every number comes from the store through `ReportData` and the one
 * comparison (src/tracking/compare.ts).
 */

import { SPLIT_SCORED, splitOfSpec } from '../data/splits.ts';
import { toCsv } from '../io/csv.ts';
import { PAPER_AJI, PAPER_CITATION, PAPER_UNET_AJI_ALL } from '../metrics/paper.ts';
import type { SubsetName } from '../metrics/subsets.ts';
import {
  compareRuns,
  intervalText,
  type Method,
  meanSdText,
  type RunsComparison,
  type Scores,
} from '../tracking/compare.ts';
import { SCORE_KEYS, SCORE_LABEL } from '../tracking/report.ts';
import type { ReportData, ReportRun, StageTrained } from './load.ts';
import { linePlotSvg } from './svg-plot.ts';

export interface ReportFile {
  readonly name: string;
  readonly content: string;
}

const METHOD_LABEL: Record<Method, string> = {
  stage1: 'U-Net (stage 1 alone)',
  'two-stage': 'Two-stage',
};
const SUBSET_LABEL: Record<SubsetName, string> = {
  seen: 'Seen organs',
  unseen: 'Unseen organs',
  all: 'All',
};

export const pct = (v: number) => (100 * v).toFixed(2);

function mdTable(header: readonly string[], body: readonly (readonly string[])[], textCols = 2): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i < textCols ? '---' : '---:')).join('|')}|`,
    ...body.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** The paper's number for a Table 1 cell, or '—' where src/metrics/paper.ts has none. */
function paperAji(method: Method, subset: SubsetName): string {
  if (method === 'two-stage') return pct(PAPER_AJI[subset]);
  if (subset === 'all')
    return `${pct(PAPER_UNET_AJI_ALL.erosion)} (GT erosion) / ${pct(PAPER_UNET_AJI_ALL.noErosion)} (none)`;
  return '—';
}

const cell = (m: Scores | null, sd: Scores | null, k: (typeof SCORE_KEYS)[number]) =>
  m ? meanSdText(m[k], sd?.[k] ?? null) : '—';

function differencesTable(c: RunsComparison): string {
  const header = [
    'Arm vs baseline',
    'Subset',
    'Images',
    ...SCORE_KEYS.map((k) => `Δ ${SCORE_LABEL[k]} [95% CI]`),
  ];
  const body = c.arms.differences.map((d) => [
    `${c.arms.arms[d.arm]!.label} − ${c.arms.arms[0]!.label}`,
    SUBSET_LABEL[d.subset],
    String(d.nImages),
    ...SCORE_KEYS.map((k) => {
      const s = d.scores?.[k];
      return s ? intervalText(s) : '—';
    }),
  ]);
  return mdTable(header, body, 2);
}

const minutes = (s: number | undefined) => (s === undefined ? '—' : (s / 60).toFixed(1));

function trainedCells(t: StageTrained | null): string[] {
  if (!t) return ['not recorded', '', '', '', '', ''];
  return [
    t.budget ? `${t.budget.value} ${t.budget.kind}` : '—',
    t.steps === undefined ? '—' : String(t.steps),
    t.epochs === undefined ? '—' : String(t.epochs),
    t.lrDrops?.length ? t.lrDrops.join(', ') : '—',
    minutes(t.wallSeconds),
    minutes(t.cpuSeconds),
  ];
}

function factsTables(runs: readonly ReportRun[]): string {
  const armOf = (r: ReportRun) =>
    Object.entries(r.run.arm as Record<string, unknown>)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(', ') || '—';
  const prov = mdTable(
    ['Run', 'Arm', 'Seed', 'Status', 'Code commit', 'Data hash', 'Worker', 'Recipe first scored on test'],
    runs.map((r) => [
      r.run.id,
      armOf(r),
      String(r.run.seed),
      r.run.status,
      r.run.codeCommit?.slice(0, 12) ?? 'unknown',
      r.run.dataHash ?? 'unknown',
      r.run.workerHost ?? 'unknown',
      r.firstTestScoring
        ? `${r.firstTestScoring.at} by ${r.firstTestScoring.runId === r.run.id ? 'this run' : r.firstTestScoring.runId}`
        : 'not recorded',
    ]),
    8,
  );
  const train = mdTable(
    ['Run', 'Net', 'Budget', 'Steps', 'Epochs', 'LR drops (step)', 'Wall min', 'Machine min'],
    runs.flatMap((r) =>
      (['seg', 'dist'] as const).map((net) => [r.run.id, net, ...trainedCells(r.trained[net])]),
    ),
    3,
  );
  const post = mdTable(
    ['Run', 'Setting', 'Params', 'AJI (train)', 'Dice (train)', 'F1 (train)', 'Images'],
    runs.map((r) =>
      r.tuning
        ? [
            r.run.id,
            r.tuning.setting,
            `\`${JSON.stringify(r.tuning.params)}\``,
            pct(r.tuning.aji),
            pct(r.tuning.dice),
            pct(r.tuning.f1),
            String(r.tuning.images),
          ]
        : [r.run.id, 'no chosen setting stored', '', '', '', '', ''],
    ),
    3,
  );
  return [
    '### Provenance',
    '',
    prov,
    '',
    '### Training (runs.trained; machine minutes are CPU seconds / 60)',
    '',
    train,
    '',
    '### Post-processing chosen on the training images',
    '',
    post,
  ].join('\n');
}

const fileSafe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');

function curveFiles(r: ReportRun, assets: string): { files: ReportFile[]; md: string[] } {
  const files: ReportFile[] = [];
  const md: string[] = [];
  for (const stage of ['seg', 'dist'] as const) {
    const of = (key: string) => r.curves.find((c) => c.stage === stage && c.key === key);
    const net = stage === 'seg' ? 'segmentation net (stage 1)' : 'distance net (stage 2)';
    const losses = ['loss', 'val_loss'].flatMap((k) => {
      const c = of(k);
      return c ? [{ name: k, xs: c.steps, ys: c.values }] : [];
    });
    const lr = of('lr');
    if (losses.length) {
      const name = `${assets}curves-${fileSafe(r.run.id)}-${stage}-loss.svg`;
      files.push({
        name,
        content: linePlotSvg(losses, { title: `${r.run.id}: ${net}, loss`, xLabel: 'epoch', yLabel: 'loss' }),
      });
      md.push(`![${r.run.id} ${stage} loss](${name})`);
    }
    if (lr) {
      const name = `${assets}curves-${fileSafe(r.run.id)}-${stage}-lr.svg`;
      files.push({
        name,
        content: linePlotSvg([{ name: 'lr', xs: lr.steps, ys: lr.values }], {
          title: `${r.run.id}: ${net}, learning rate`,
          xLabel: 'epoch',
          yLabel: 'learning rate',
          logY: true,
        }),
      });
      md.push(`![${r.run.id} ${stage} learning rate](${name})`);
    }
    if (!losses.length && !lr) md.push(`No ${stage} curves stored for ${r.run.id}.`);
  }
  return { files, md };
}

function perImageCsv(d: ReportData): string {
  const byId = new Map(d.runs.map((r) => [r.run.id, r.run]));
  return toCsv(
    ['run', 'arm', 'seed', 'method', 'image', 'organ', 'subset', ...SCORE_KEYS, 'n_gt', 'n_pred'],
    d.results.map((x) => {
      const run = byId.get(x.runId)!;
      return [
        x.runId,
        JSON.stringify(run.arm),
        run.seed,
        x.method,
        x.image,
        x.organ,
        x.subset,
        ...SCORE_KEYS.map((k) => x[k]),
        x.nGt,
        x.nPred,
      ];
    }),
  );
}

/** The comparisons of one method over the runs that have rows of it; null when none has. */
export function methodComparisons(d: ReportData): Record<Method, RunsComparison | null> {
  const of = (method: Method) => {
    const has = new Set(d.results.filter((r) => r.method === method).map((r) => r.runId));
    const runs = d.runs
      .filter((r) => has.has(r.run.id))
      .map((r) => ({
        id: r.run.id,
        arm: r.run.arm as Record<string, unknown>,
        seed: r.run.seed,
      }));
    return runs.length ? compareRuns(runs, d.results, method) : null;
  };
  return { stage1: of('stage1'), 'two-stage': of('two-stage') };
}

/** Every file of the report; `command` is the command line that generated it (printed at the top). */
export interface ReportLayout {
  /**
   * The report's name: `<name>.md`, with its plots and per-image.csv in the folder `<name>/` beside
   * it (e.g. `results` for docs/results.md). Unset: report.md with them beside it.
   */
  readonly name?: string;
}

export function buildReport(d: ReportData, command: string, layout: ReportLayout = {}): ReportFile[] {
  const assets = layout.name === undefined ? '' : `${layout.name}/`;
  const cmps = methodComparisons(d);
  const main = cmps['two-stage'] ?? cmps.stage1;
  const scored = new Set(d.results.map((x) => x.runId));
  const unscored = d.runs.filter((r) => !scored.has(r.run.id));
  const out: string[] = [
    `# NucleiFlow report: ${d.kind} ${d.id}`,
    '',
    `Generated from the tracking store by \`${command}\`; rerun it to regenerate this file.`,
    '',
    `Experiment ${d.experiment.id} (${d.experiment.name}, spec \`${d.experiment.specName}\`): ${d.runs.length - unscored.length} run(s) with results.`,
  ];
  if (unscored.length)
    out.push(
      `Not scored: ${unscored.map((r) => r.run.id).join(', ')} trained on all 30 images (split \`all\`), the Kumar test images among them, so no image is left to score them on; their training facts and learning curves are below.`,
    );
  if (d.withoutResults.length)
    out.push(
      `Left out, no per-image results yet: ${d.withoutResults.map((r) => `${r.id} (${r.status})`).join(', ')}.`,
    );
  const stage1Missing = d.runs.filter(
    (r) => scored.has(r.run.id) && !d.results.some((x) => x.runId === r.run.id && x.method === 'stage1'),
  );
  if (stage1Missing.length)
    out.push(
      `No stage-1-alone (U-Net) results are stored for ${stage1Missing.map((r) => r.run.id).join(', ')}; their U-Net rows read '—'.`,
    );
  const splits = [...new Set(d.runs.filter((r) => scored.has(r.run.id)).map((r) => splitOfSpec(r.run.spec)))];
  // The paper's numbers are for its test images; beside any other split they would mislead.
  const onTest = splits.length === 1 && splits[0] === 'kumar';
  if (main) {
    out.push(
      '',
      '## Table 1',
      '',
      `Scores in percent on ${splits.map((x) => SPLIT_SCORED[x]).join(' and ')}, in the layout of Table 1 of Mahbod et al. 2019 (plus AJI+ and PQ). ` +
        "'U-Net (stage 1 alone)' is the paper's U-Net column: instances from the thresholded stage-1 map with the same cleanup. " +
        'Each run is averaged over the images every compared run scored; an arm with several seeds shows mean ± sample sd over its seeds of those per-run means. ' +
        (onTest
          ? `The paper column holds only the numbers recorded in src/metrics/paper.ts (${PAPER_CITATION}); '—' where it has none.`
          : "The paper's numbers are for the Kumar test split and are not shown."),
    );
    for (const arm of main.arms.arms) {
      // Arms are matched across methods by key, since stage 1 may cover fewer runs.
      const pick = (m: Method) => {
        const c = cmps[m];
        const j = c ? c.arms.arms.findIndex((a) => a.key === arm.key) : -1;
        return { c: j >= 0 ? c : null, j };
      };
      const s1 = pick('stage1');
      const ts = pick('two-stage');
      out.push(
        '',
        `### Arm ${arm.label}: ${arm.runIds.length} run(s), seeds ${arm.seeds.join(', ')}`,
        '',
        table1Merged(s1, ts, onTest),
      );
    }
  }
  for (const method of ['stage1', 'two-stage'] as const) {
    const c = cmps[method];
    if (!c || c.arms.arms.length < 2) continue;
    out.push(
      '',
      `## Paired per-image differences, ${METHOD_LABEL[method]}`,
      '',
      `Percentage points; ${c.arms.interval}.`,
      '',
      differencesTable(c),
    );
    if (c.droppedImages.length)
      out.push('', `Left out (not scored by every run): ${c.droppedImages.join(', ')}.`);
  }
  out.push('', '## Runs', '', factsTables(d.runs), '', '## Learning curves', '');
  const files: ReportFile[] = [];
  for (const r of d.runs) {
    const c = curveFiles(r, assets);
    files.push(...c.files);
    out.push(`### ${r.run.id}`, '', ...c.md.flatMap((l) => [l, '']));
  }
  out.push(`Per-image results of every run and method: [per-image.csv](${assets}per-image.csv).`, '');
  return [
    { name: `${layout.name ?? 'report'}.md`, content: out.join('\n') },
    ...files,
    { name: `${assets}per-image.csv`, content: perImageCsv(d) },
  ];
}

/** Table 1 of one arm, reading stage 1 and two-stage from their own comparisons. */
function table1Merged(
  s1: { c: RunsComparison | null; j: number },
  ts: { c: RunsComparison | null; j: number },
  withPaper: boolean,
): string {
  const header = [
    'Subset',
    'Method',
    ...SCORE_KEYS.map((k) => SCORE_LABEL[k]),
    ...(withPaper ? [`AJI, ${PAPER_CITATION}`] : []),
  ];
  const body: string[][] = [];
  for (const subset of ['seen', 'unseen', 'all'] as const) {
    for (const [method, src] of [
      ['stage1', s1],
      ['two-stage', ts],
    ] as const) {
      const st = src.c?.arms.arms[src.j]?.stats.find((s) => s.subset === subset);
      const label = `${SUBSET_LABEL[subset]}${st?.nImages ? ` (${st.nImages})` : ''}`;
      body.push([
        label,
        METHOD_LABEL[method],
        ...SCORE_KEYS.map((k) => cell(st?.mean ?? null, st?.sd ?? null, k)),
        ...(withPaper ? [paperAji(method, subset)] : []),
      ]);
    }
  }
  return mdTable(header, body);
}
