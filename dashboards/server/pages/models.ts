import type { ModelVersionEntry } from '../../../src/tracking/queries.ts';
import type { ModelCard } from '../../../src/tracking/registry.ts';
import { isoTime, pct } from '../format.ts';
import { html, type SafeHtml } from '../html.ts';
import { layout, statusBadge } from './layout.ts';

/**
 * The model registry: every version with its aliases, the run it came from (linked to the run
 * page) and the two-stage test scores its card recorded from the store at registration.
 */
export function modelsPage(
  versions: readonly ModelVersionEntry[],
  o: { mlflowUri?: string | undefined },
): SafeHtml {
  const rows = versions.map((v) => {
    const c = v.card as ModelCard;
    const s = c.scores;
    const mlflow = v.mlflowVersion
      ? o.mlflowUri
        ? html`<a href="${`${o.mlflowUri}/#/models/${encodeURIComponent(v.name)}/versions/${encodeURIComponent(v.mlflowVersion)}`}">${v.mlflowVersion}</a>`
        : v.mlflowVersion
      : html`<span class="sub">queued</span>`;
    return html`<tr data-model="${v.name}" data-version="${v.version}">
  <td class="mono">${v.name}</td>
  <td class="num">${v.version}</td>
  <td data-cell="aliases">${v.aliases.length ? v.aliases.map((a) => html`<span class="badge">${a}</span> `) : '—'}</td>
  <td><a href="/runs/${encodeURIComponent(v.runId)}" class="mono" data-cell="run">${v.runId}</a></td>
  <td>${statusBadge(v.runStatus)}</td>
  <td class="num" data-cell="aji-all">${pct(s?.all?.aji)}</td>
  <td class="num" data-cell="aji-seen">${pct(s?.seen?.aji)}</td>
  <td class="num" data-cell="aji-unseen">${pct(s?.unseen?.aji)}</td>
  <td class="num">${pct(s?.all?.dice)}</td>
  <td class="num">${pct(s?.all?.f1)}</td>
  <td class="num">${s?.nImages ?? 0}</td>
  <td>${mlflow}</td>
  <td>${isoTime(v.createdAt)}</td>
</tr>`;
  });
  return layout(
    { title: 'Models', active: 'models' },
    html`<h1>Models</h1>
<p>Every completed run registers a version of the model named after its spec. <code>nucleiflow models alias NAME@VERSION default</code> picks the model <code>nucleiflow segment</code> uses.</p>
<table class="runs" id="models-table">
<thead><tr><th>Model</th><th class="num">Version</th><th>Aliases</th><th>Run</th><th>Run status</th><th class="num">AJI all</th><th class="num">AJI seen</th><th class="num">AJI unseen</th><th class="num">Dice</th><th class="num">F1</th><th class="num">Images</th><th>MLflow</th><th>Registered</th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="13" class="empty">No model versions yet: every completed run registers one.</td></tr>`}</tbody>
</table>
<p class="sub">Two-stage test scores in percent, means over the run's test images.</p>`,
  );
}
