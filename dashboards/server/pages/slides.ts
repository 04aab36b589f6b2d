import type { SlideSegmentationRow } from '../../../src/tracking/queries.ts';
import { duration, isoTime } from '../format.ts';
import { html, type SafeHtml } from '../html.ts';
import { layout, statusBadge } from './layout.ts';

/** Whole-slide segmentations, newest first: the slide workflow's rows in the tracking store. */
export function slidesPage(rows: readonly SlideSegmentationRow[]): SafeHtml {
  const body = rows.map((r) => {
    const wall = (r.timings as Record<string, number>).wallSeconds;
    const perMm2 = r.nuclei !== null && r.tissueAreaMm2 ? Math.round(r.nuclei / r.tissueAreaMm2) : null;
    return html`<tr data-slide="${r.workflowId}">
  <td class="mono" title="${r.slide}">${r.slide.split('/').pop() ?? r.slide}</td>
  <td>${statusBadge(r.status)}</td>
  <td class="mono">${r.model}</td>
  <td class="num" data-cell="regions">${r.regions ?? '—'}</td>
  <td class="num" data-cell="computed">${r.computed ?? '—'}</td>
  <td class="num" data-cell="nuclei">${r.nuclei ?? '—'}</td>
  <td class="num">${r.tissueAreaMm2 === null ? '—' : r.tissueAreaMm2.toFixed(2)}</td>
  <td class="num">${perMm2 ?? '—'}</td>
  <td class="num">${typeof wall === 'number' ? duration(wall) : '—'}</td>
  <td class="mono" title="${r.identity ?? ''}">${(r.identity ?? '').slice(0, 12)}</td>
  <td class="mono">${r.error ?? r.summary ?? ''}</td>
  <td>${isoTime(r.createdAt)}</td>
</tr>`;
  });
  return layout(
    { title: 'Slides', active: 'slides' },
    html`<h1>Slides</h1>
<p><code>nucleiflow segment SLIDE --out DIR</code> segments a whole slide as a workflow; each slide and output folder has one row here.</p>
<table class="runs" id="slides-table">
<thead><tr><th>Slide</th><th>Status</th><th>Model</th><th class="num">Regions</th><th class="num">Computed</th><th class="num">Nuclei</th><th class="num">Tissue mm²</th><th class="num">Nuclei / mm²</th><th class="num">Time</th><th>Identity</th><th>Summary / error</th><th>Started</th></tr></thead>
<tbody>${body.length ? body : html`<tr><td colspan="12" class="empty">No slides yet.</td></tr>`}</tbody>
</table>`,
  );
}
