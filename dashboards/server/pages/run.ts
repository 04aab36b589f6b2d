import { SPLIT_SCORED, type SplitName, splitOfSpec } from '../../../src/data/splits.ts';
import { PAPER_AJI, PAPER_CITATION } from '../../../src/metrics/paper.ts';
import { inSubset, type SubsetName, subsetMeans } from '../../../src/metrics/subsets.ts';
import type { ImageResultRecord, RunDetail } from '../../../src/tracking/queries.ts';
import { SCORE_KEYS } from '../../../src/tracking/report.ts';
import { imageLayers, isDownloadable, LAYERS, type Layer } from '../artifacts.ts';
import { runCharts } from '../charts.ts';
import { armLabel, bytes, deltaPct, duration, isoTime, pct } from '../format.ts';
import { html, jsonBlock, type SafeHtml } from '../html.ts';
import { layout, statusBadge } from './layout.ts';

export interface Links {
  temporalUiUrl?: string | undefined;
  temporalNamespace: string;
  mlflowUri?: string | undefined;
  /** The download path of a stored artifact path (relative to home), or null when it lies outside home. */
  artifactHref: (storedPath: string) => string | null;
}

/** The run page's scores: Table 1, or why there is none (not scored by design, or not yet). */
export function scoresSection(runId: string, results: ImageResultRecord[], split: SplitName): SafeHtml {
  if (results.length) return table1(runId, results, split);
  return split === 'all'
    ? html`<p class="sub">Not scored: this run trained on all 30 images, the Kumar test images among them.</p>`
    : html`<p class="sub">No per-image results yet.</p>`;
}

/**
 * The paper's Table 1 layout: test images grouped by seen / unseen organ, averages next to the
 * published AJI, which is left out for a run scored on another split than the paper's test images.
 */
export function table1(runId: string, results: ImageResultRecord[], split: SplitName = 'kumar'): SafeHtml {
  const onTest = split === 'kumar';
  const groups: { subset: SubsetName; title: string }[] = [
    { subset: 'seen', title: 'Organs seen in training' },
    { subset: 'unseen', title: 'Organs not seen in training' },
  ];
  const means = subsetMeans(results, SCORE_KEYS);
  const avgRow = (label: string, cls: SubsetName) => {
    const rows = inSubset(results, cls);
    const paper = PAPER_AJI[cls];
    const m = means[cls];
    const aji = m?.aji ?? null;
    return html`<tr class="avg ${cls}">
  <th colspan="2">${label} (${rows.length} images)</th>
  <td class="num" data-cell="aji-${cls}">${pct(aji)}</td>
  <td class="num paper">${onTest ? pct(paper) : ''}</td>
  <td class="num">${aji === null || !onTest ? '—' : deltaPct(aji - paper)}</td>
  <td class="num">${pct(m?.dice)}</td>
  <td class="num">${pct(m?.f1)}</td>
  <td class="num">${pct(m?.ajiPlus)}</td>
  <td class="num">${pct(m?.pq)}</td>
  <td class="num">${rows.reduce((s, r) => s + r.nGt, 0)}</td>
  <td class="num">${rows.reduce((s, r) => s + r.nPred, 0)}</td>
  <td></td>
</tr>`;
  };
  const body = groups.map((g) => {
    const rows = inSubset(results, g.subset);
    return html`<tr class="group"><th colspan="12">${g.title}</th></tr>
${rows.map(
  (r) => html`<tr data-image="${r.image}">
  <td>${r.organ}</td>
  <td class="mono">${r.image}</td>
  <td class="num">${pct(r.aji)}</td>
  <td class="num paper"></td>
  <td></td>
  <td class="num">${pct(r.dice)}</td>
  <td class="num">${pct(r.f1)}</td>
  <td class="num">${pct(r.ajiPlus)}</td>
  <td class="num">${pct(r.pq)}</td>
  <td class="num">${r.nGt}</td>
  <td class="num">${r.nPred}</td>
  <td><a href="/runs/${encodeURIComponent(runId)}/images/${encodeURIComponent(r.image)}">view</a></td>
</tr>`,
)}
${avgRow(`${g.subset === 'seen' ? 'Seen' : 'Unseen'} average`, g.subset)}`;
  });
  return html`<table class="table1" id="table1">
<thead><tr><th>Organ</th><th>Image</th><th class="num">AJI</th><th class="num">Paper AJI</th><th class="num">Δ paper</th><th class="num">Dice</th><th class="num">F1</th><th class="num">AJI+</th><th class="num">PQ</th><th class="num">GT</th><th class="num">Pred</th><th></th></tr></thead>
<tbody>${body}
${avgRow('All', 'all')}
</tbody>
</table>
<p class="sub">Scores in percent, mean over images, on ${SPLIT_SCORED[split]}. ${
    onTest
      ? `Paper: ${PAPER_CITATION} (AJI ${pct(PAPER_AJI.all)} all, ${pct(PAPER_AJI.seen)} seen, ${pct(PAPER_AJI.unseen)} unseen).`
      : "The paper's numbers are for the Kumar test split and are not shown."
  }</p>`;
}

function lineage(d: RunDetail, links: Links): SafeHtml {
  const r = d.run;
  const temporal =
    r.workflowId && links.temporalUiUrl
      ? html`<a href="${links.temporalUiUrl}/namespaces/${encodeURIComponent(links.temporalNamespace)}/workflows/${encodeURIComponent(r.workflowId)}" target="_blank" rel="noopener" id="temporal-link">${r.workflowId}</a>`
      : (r.workflowId ?? '—');
  const mlflowExp = d.params['mlflow.experiment_id'];
  const mlflowHref =
    r.mlflowRunId && links.mlflowUri
      ? mlflowExp
        ? `${links.mlflowUri}/#/experiments/${encodeURIComponent(mlflowExp)}/runs/${encodeURIComponent(r.mlflowRunId)}`
        : `${links.mlflowUri}/#/runs/${encodeURIComponent(r.mlflowRunId)}`
      : null;
  const mlflow = mlflowHref
    ? html`<a href="${mlflowHref}" target="_blank" rel="noopener" id="mlflow-link">${r.mlflowRunId}</a>`
    : (r.mlflowRunId ?? '—');
  const dur =
    r.startedAt && (r.finishedAt ?? r.status === 'running')
      ? duration(((r.finishedAt ?? new Date()).getTime() - r.startedAt.getTime()) / 1000)
      : '—';
  const timings = Object.entries((r.timings ?? {}) as Record<string, unknown>);
  return html`<dl class="lineage">
  <dt>Experiment</dt><dd><a href="/?experiment=${encodeURIComponent(d.experiment.id)}">${d.experiment.name}</a> <span class="mono sub">${d.experiment.id}</span></dd>
  <dt>Spec</dt><dd>${d.experiment.specName}</dd>
  <dt>Arm</dt><dd>${armLabel(r.arm) || '—'}</dd>
  <dt>Config hash</dt><dd class="mono">${r.configHash}</dd>
  <dt>Seed</dt><dd>${r.seed}</dd>
  <dt>Code commit</dt><dd class="mono">${r.codeCommit ?? '—'}</dd>
  <dt>Data hash</dt><dd class="mono">${r.dataHash ?? '—'}</dd>
  <dt>Temporal workflow</dt><dd class="mono">${temporal}</dd>
  <dt>MLflow run</dt><dd class="mono">${mlflow}</dd>
  <dt>Worker</dt><dd>${r.workerHost ?? '—'}</dd>
  <dt>Created</dt><dd>${isoTime(r.createdAt)}</dd>
  <dt>Started</dt><dd>${isoTime(r.startedAt)}</dd>
  <dt>Finished</dt><dd>${isoTime(r.finishedAt)}</dd>
  <dt>Duration</dt><dd>${dur}</dd>
  ${timings.length ? html`<dt>Timings</dt><dd>${timings.map(([k, v]) => html`<span class="chip">${k}: ${typeof v === 'number' ? duration(v) : JSON.stringify(v)}</span>`)}</dd>` : ''}
</dl>`;
}

export function runPage(d: RunDetail, links: Links): SafeHtml {
  const r = d.run;
  const charts = runCharts(d.curves);
  const downloads = d.artifacts.filter((a) => isDownloadable(a.kind));
  const id = encodeURIComponent(r.id);
  const layerCount = (l: Layer) => d.results.filter((x) => imageLayers(d.artifacts, x.image)[l]).length;
  return layout(
    { title: `Run ${r.id}`, charts: true, scripts: ['/static/run.js'] },
    html`<h1>Run <span class="mono">${r.id}</span> ${statusBadge(r.status)}</h1>
${r.error ? html`<pre class="error">${r.error}</pre>` : ''}
<div class="cols">
<section><h2>Lineage</h2>${lineage(d, links)}</section>
<section><h2>Parameters</h2>
<table class="params"><tbody>${Object.entries(d.params).map(([key, value]) => html`<tr><th class="mono">${key}</th><td class="mono">${value}</td></tr>`)}</tbody></table>
${Object.keys(d.params).length === 0 ? html`<p class="sub">No parameters recorded.</p>` : ''}
</section>
</div>
<section><h2>Training curves</h2>
<div class="charts">${charts.map((c) => html`<figure class="chart" data-chart="${c.id}"><figcaption>${c.title}</figcaption>${c.series.length === 0 ? html`<p class="sub">No epochs recorded yet.</p>` : ''}</figure>`)}</div>
${jsonBlock('charts-data', charts)}
</section>
<section><h2>Test images (Table 1 layout)</h2>
${scoresSection(r.id, d.results, splitOfSpec(r.spec))}
</section>
<section><h2>Downloads</h2>
<ul class="downloads">
  <li><a href="/runs/${id}/results.csv" download>results.csv</a> per-image scores</li>
  <li><a href="/runs/${id}/results.json" download>results.json</a> run, params and per-image scores</li>
  ${downloads.map((a) => {
    const rel = links.artifactHref(a.path);
    const name = a.path.split('/').pop() ?? a.path;
    return html`<li>${rel ? html`<a href="/files/${id}/${rel.split('/').map(encodeURIComponent).join('/')}" download>${name}</a>` : name} ${a.kind}, ${bytes(a.bytes)} <span class="mono sub" title="sha256">${a.sha256.slice(0, 12)}</span></li>`;
  })}
</ul>
<p class="sub">Per-image layers: ${LAYERS.map((l) => `${l} ${layerCount(l)}/${d.results.length}`).join(', ')}.</p>
</section>
${jsonBlock('run-info', { id: r.id, status: r.status })}`,
  );
}
