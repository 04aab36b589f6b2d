import { intervalText, meanSdText, type RunsComparison } from '../../../src/tracking/compare.ts';
import type { ExperimentRow, RunRow, RunSummary } from '../../../src/tracking/queries.ts';
import { SCORE_LABEL, type ScoreKey } from '../../../src/tracking/report.ts';
import type { ChartSpec } from '../charts.ts';
import { armLabel, deltaColour, deltaPct, pct } from '../format.ts';
import { html, jsonBlock, type SafeHtml } from '../html.ts';
import { layout, statusBadge } from './layout.ts';

/** The metric switch: AJI (the paper's headline score) first. */
export const COMPARE_METRICS = ['aji', 'dice', 'f1', 'ajiPlus', 'pq'] as const satisfies readonly ScoreKey[];
export type CompareMetric = (typeof COMPARE_METRICS)[number];

export interface CompareRun {
  run: RunRow;
  experiment: ExperimentRow;
}

export function runLabel(c: CompareRun): string {
  return armLabel(c.run.arm) || c.run.id;
}

function cells(values: (number | null)[], deltas: (number | null)[], kind: string): SafeHtml[] {
  return values.map((v, i) =>
    i === 0
      ? html`<td class="num base" data-cell="${kind}-value-${i}">${pct(v)}</td>`
      : html`<td class="num" data-cell="${kind}-value-${i}">${pct(v)}</td><td class="num delta" data-cell="${kind}-delta-${i}" style="background:${deltaColour(deltas[i])}">${deltaPct(deltas[i])}</td>`,
  );
}

const AVG_TITLE = { all: 'All images', seen: 'Seen organs', unseen: 'Unseen organs' } as const;

/** Per arm mean ± sd over seeds and the paired differences; only when an arm has several runs. */
function armsSection(cmp: RunsComparison, metric: CompareMetric): SafeHtml {
  const { arms, differences, interval } = cmp.arms;
  if (!arms.some((a) => a.runIds.length > 1)) return html``;
  const rows = arms.map(
    (a, i) =>
      html`<tr data-arm="${i}"><td>${a.label}</td><td class="mono">${a.runIds.join(', ')}</td><td>${a.seeds.join(', ')}</td>${a.stats.map((s) => html`<td class="num" data-cell="arm-${i}-${s.subset}">${s.mean ? meanSdText(s.mean[metric], s.sd?.[metric] ?? null) : '—'}</td>`)}</tr>`,
  );
  const diffs = differences.map(
    (d) =>
      html`<tr><td>${arms[d.arm]!.label} − ${arms[0]!.label}</td><td>${AVG_TITLE[d.subset]}</td><td class="num">${d.nImages}</td><td class="num" data-cell="armdiff-${d.arm}-${d.subset}">${d.scores ? intervalText(d.scores[metric]) : '—'}</td></tr>`,
  );
  const subsets = arms[0]!.stats.map((s) => html`<th class="num">${AVG_TITLE[s.subset]} (${s.nImages})</th>`);
  return html`<section id="compare-arms"><h2>Arms over seeds</h2>
<table class="compare"><thead><tr><th>Arm</th><th>Runs</th><th>Seeds</th>${subsets}</tr></thead><tbody>${rows}</tbody></table>
<p class="sub">${SCORE_LABEL[metric]} in percent: mean ± sample sd over each arm's seeds of the per-run means (over the images every run scored).</p>
${
  diffs.length
    ? html`<table class="compare"><thead><tr><th>Arm vs baseline arm</th><th>Subset</th><th class="num">Images</th><th class="num">Δ ${SCORE_LABEL[metric]} [95% CI]</th></tr></thead><tbody>${diffs}</tbody></table>
<p class="sub">Percentage points; ${interval}.</p>`
    : ''
}</section>`;
}

export function comparePage(
  runs: CompareRun[],
  cmp: RunsComparison,
  metric: CompareMetric,
  charts: ChartSpec[],
  query: string,
  /** Runs of the experiment with no results of this method yet, left out of the comparison. */
  leftOut: readonly { id: string; status: string }[] = [],
): SafeHtml {
  const of = (xs: readonly (Record<ScoreKey, number> | null)[]) => xs.map((x) => x?.[metric] ?? null);
  const metricLinks = COMPARE_METRICS.map(
    (m) =>
      html`<a href="/compare?${query}&metric=${m}" class="${m === metric ? 'active' : ''}">${SCORE_LABEL[m]}</a>`,
  );
  // The metric links carry the method in `query`; the method links keep the metric.
  const base = query.replace(/&method=stage1$/, '');
  const methodLinks = (
    [
      ['two-stage', 'Two-stage'],
      ['stage1', 'U-Net (stage 1 alone)'],
    ] as const
  ).map(
    ([m, label]) =>
      html`<a href="/compare?${base}${m === 'stage1' ? '&method=stage1' : ''}&metric=${metric}" class="${m === cmp.method ? 'active' : ''}">${label}</a>`,
  );
  const headRuns = runs.map(
    (c, i) =>
      html`<th class="num" colspan="${i === 0 ? 1 : 2}"><a href="/runs/${encodeURIComponent(c.run.id)}" class="mono">${c.run.id}</a><div class="sub">${runLabel(c)} ${statusBadge(c.run.status)}</div>${i === 0 ? html`<div class="sub">baseline</div>` : html`<div class="sub">value · Δ</div>`}</th>`,
  );
  const rows = cmp.rows.map(
    (r) =>
      html`<tr data-image="${r.image}" data-subset="${r.subset}"><td>${r.organ}</td><td class="mono">${r.image}</td><td>${r.subset}</td>${cells(of(r.scores), of(r.deltas), `img-${r.image}`)}</tr>`,
  );
  const avgs = cmp.averages.map(
    (a, i) =>
      html`<tr class="avg${i === 0 ? ' first' : ''}" data-avg="${a.subset}"><th colspan="3">${a.subset === 'all' ? 'All images' : a.subset === 'seen' ? 'Seen organs' : 'Unseen organs'} (mean of ${a.nImages})</th>${cells(of(a.means), of(a.deltas), `avg-${a.subset}`)}</tr>`,
  );
  return layout(
    { title: 'Compare', active: 'compare', charts: true },
    html`<h1>Compare ${runs.length} runs</h1>
<p class="metric-switch">Metric: ${metricLinks}</p>
<p class="metric-switch" id="compare-method">Results: ${methodLinks}</p>
${leftOut.length ? html`<p class="sub" id="compare-left-out">Left out, no results yet: ${leftOut.map((r, i) => html`${i ? ', ' : ''}<span class="mono">${r.id}</span> (${r.status})`)}.</p>` : ''}
<table class="compare" id="compare-table">
<thead><tr><th>Organ</th><th>Image</th><th>Subset</th>${headRuns}</tr></thead>
<tbody>${rows}</tbody>
<tfoot>${avgs}</tfoot>
</table>
<p class="sub">${SCORE_LABEL[metric]} in percent; Δ in percentage points against the baseline (first run); green is better, red worse. Averages are over the images every run scored${cmp.droppedImages.length ? html`; left out: <span class="mono" id="compare-dropped">${cmp.droppedImages.join(', ')}</span> (${runs.map((c, i) => `${c.run.id} ${cmp.dropped[i]}`).join(', ')})` : ''}.</p>
${armsSection(cmp, metric)}
<section><h2>Learning curves</h2>
<div class="charts">${charts.map((c) => html`<figure class="chart" data-chart="${c.id}"><figcaption>${c.title}</figcaption></figure>`)}</div>
${jsonBlock('charts-data', charts)}
</section>`,
  );
}

export function comparePicker(recent: RunSummary[], message?: string): SafeHtml {
  return layout(
    { title: 'Compare', active: 'compare' },
    html`<h1>Compare runs</h1>
${message ? html`<p class="error">${message}</p>` : ''}
<p>Pick two or more runs (the first is the baseline), or open an experiment from the runs list and compare all its arms.</p>
<form method="get" action="/compare" class="picker">
<table class="runs"><thead><tr><th></th><th>Run</th><th>Experiment</th><th>Arm</th><th>Status</th><th class="num">AJI</th></tr></thead>
<tbody>${recent.map(
      (r) =>
        html`<tr><td><input type="checkbox" name="runs" value="${r.id}"></td><td class="mono">${r.id}</td><td>${r.experimentName}</td><td>${armLabel(r.arm) || '—'}</td><td>${statusBadge(r.status)}</td><td class="num">${pct(r.ajiAll)}</td></tr>`,
    )}</tbody></table>
<button type="submit">Compare</button>
</form>`,
  );
}
