import type { ExperimentSummary, RunFilter, RunSummary, SortKey } from '../../../src/tracking/queries.ts';
import { armLabel, duration, isoTime, pct } from '../format.ts';
import { html, type SafeHtml } from '../html.ts';
import { layout, statusBadge } from './layout.ts';

/** The list shows at most this many runs (the query's default limit). */
export const RUN_LIMIT = 1000;

interface Column {
  key: SortKey | null;
  title: string;
  numeric?: boolean;
}

const COLUMNS: Column[] = [
  { key: null, title: '' },
  { key: 'created', title: 'Run' },
  { key: 'experiment', title: 'Experiment' },
  { key: 'spec', title: 'Spec' },
  { key: 'arm', title: 'Arm' },
  { key: 'status', title: 'Status' },
  { key: 'aji', title: 'AJI all', numeric: true },
  { key: 'aji_seen', title: 'AJI seen', numeric: true },
  { key: 'aji_unseen', title: 'AJI unseen', numeric: true },
  { key: 'dice', title: 'Dice', numeric: true },
  { key: 'f1', title: 'F1', numeric: true },
  { key: 'duration', title: 'Duration', numeric: true },
  { key: 'worker', title: 'Worker' },
];

function query(f: RunFilter, over: Partial<Record<string, string | undefined>>): string {
  const p = new URLSearchParams();
  const base: Record<string, string | undefined> = {
    status: f.status,
    spec: f.spec,
    experiment: f.experiment,
    q: f.q,
    sort: f.sort,
    dir: f.dir,
    ...over,
  };
  for (const [k, v] of Object.entries(base)) if (v) p.set(k, v);
  const s = p.toString();
  return s ? `/?${s}` : '/';
}

export function runRows(rows: RunSummary[]): SafeHtml {
  if (rows.length === 0) {
    return html`<tr><td colspan="${COLUMNS.length}" class="empty">No runs match.</td></tr>`;
  }
  return html`${rows.map(
    (r) => html`<tr data-run="${r.id}" data-status="${r.status}">
  <td><input type="checkbox" name="runs" value="${r.id}" form="compare-form" aria-label="select ${r.id}"></td>
  <td><a href="/runs/${encodeURIComponent(r.id)}" class="mono">${r.id}</a><div class="sub">${isoTime(r.createdAt)}</div></td>
  <td><a href="${query({}, { experiment: r.experimentId })}">${r.experimentName}</a></td>
  <td>${r.specName}</td>
  <td class="arm">${armLabel(r.arm) || '—'}</td>
  <td>${statusBadge(r.status)}</td>
  <td class="num">${pct(r.ajiAll)}</td>
  <td class="num">${pct(r.ajiSeen)}</td>
  <td class="num">${pct(r.ajiUnseen)}</td>
  <td class="num">${pct(r.dice)}</td>
  <td class="num">${pct(r.f1)}</td>
  <td class="num">${duration(r.durationS)}</td>
  <td>${r.workerHost ?? '—'}</td>
</tr>`,
  )}`;
}

function experimentsTable(exps: ExperimentSummary[]): SafeHtml {
  // Open when short; with many experiments the runs table stays the first thing in view.
  return html`<details class="experiments" ${exps.length > 0 && exps.length <= 8 ? html`open` : ''}>
<summary>Experiments (${exps.length} most recent)</summary>
<table class="runs"><thead><tr><th>Experiment</th><th>Spec</th><th>Status</th><th class="num">Runs</th><th class="num">Completed</th><th class="num">Best AJI</th><th>Created</th><th></th></tr></thead>
<tbody>${exps.map(
    (e) => html`<tr data-experiment="${e.id}">
  <td><a href="${query({}, { experiment: e.id })}">${e.name}</a> <span class="mono sub">${e.id}</span></td>
  <td>${e.specName}</td><td>${statusBadge(e.status)}</td>
  <td class="num">${e.nRuns}</td><td class="num">${e.nDone}</td><td class="num">${pct(e.bestAji)}</td>
  <td>${isoTime(e.createdAt)}</td>
  <td>${e.nRuns >= 2 ? html`<a href="/compare?experiment=${encodeURIComponent(e.id)}">compare runs</a>` : ''}</td>
</tr>`,
  )}</tbody></table>
</details>`;
}

export function runsPage(
  rows: RunSummary[],
  f: RunFilter,
  choices: { statuses: string[]; specs: string[]; experiments: { id: string; name: string }[] },
  exps: ExperimentSummary[],
): SafeHtml {
  const sortKey = f.sort ?? 'created';
  const dir = f.dir ?? (sortKey === 'created' ? 'desc' : 'asc');
  const head = COLUMNS.map((c) => {
    if (!c.key) return html`<th></th>`;
    const active = c.key === sortKey;
    const next = active && dir === 'asc' ? 'desc' : active ? 'asc' : c.numeric ? 'desc' : 'asc';
    const arrow = active ? (dir === 'asc' ? ' ▲' : ' ▼') : '';
    return html`<th class="${c.numeric ? 'num' : ''}" aria-sort="${active ? (dir === 'asc' ? 'ascending' : 'descending') : 'none'}"><a href="${query(f, { sort: c.key, dir: next })}" data-sort="${c.key}">${c.title}${arrow}</a></th>`;
  });
  const opt = (v: string, label: string, sel: string | undefined) =>
    html`<option value="${v}" ${v === (sel ?? '') ? html`selected` : ''}>${label}</option>`;
  return layout(
    { title: 'Runs', active: 'runs', scripts: ['/static/runs.js'] },
    html`<h1>Experiments and runs <span id="live" class="live" title="updates while runs train">live</span></h1>
<form id="filters" class="filters" method="get" action="/">
  <label>Status <select name="status">${opt('', 'any', f.status)}${choices.statuses.map((s) => opt(s, s, f.status))}</select></label>
  <label>Spec <select name="spec">${opt('', 'any', f.spec)}${choices.specs.map((s) => opt(s, s, f.spec))}</select></label>
  <label>Experiment <select name="experiment">${opt('', 'any', f.experiment)}${choices.experiments.map((e) => opt(e.id, `${e.name} (${e.id})`, f.experiment))}</select></label>
  <label>Search <input type="search" name="q" value="${f.q ?? ''}" placeholder="run id, experiment, arm"></label>
  <input type="hidden" name="sort" value="${f.sort ?? ''}">
  <input type="hidden" name="dir" value="${f.dir ?? ''}">
  <button type="submit">Filter</button>
</form>
${experimentsTable(exps)}
<h2>Runs</h2>
<form id="compare-form" method="get" action="/compare" class="compare-bar">
  <button type="submit">Compare selected</button>
  ${f.experiment ? html`<a href="/compare?experiment=${encodeURIComponent(f.experiment)}">Compare all arms of this experiment</a>` : ''}
  <span class="sub"><span id="count">${rows.length}</span> runs${rows.length >= RUN_LIMIT ? ` (the first ${RUN_LIMIT} in this order; filter to narrow)` : ''}</span>
</form>
<table class="runs" id="runs-table">
<thead><tr>${head}</tr></thead>
<tbody id="runs-body">${runRows(rows)}</tbody>
</table>`,
  );
}
