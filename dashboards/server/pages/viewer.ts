import type { ImageResultRecord } from '../../../src/tracking/queries.ts';
import { LAYER_TITLES, type Layer } from '../artifacts.ts';
import { pct } from '../format.ts';
import { html, jsonBlock, type SafeHtml } from '../html.ts';
import { layout } from './layout.ts';

export interface ViewerInput {
  runId: string;
  image: string;
  result: ImageResultRecord;
  images: string[];
  /** Which per-image layers the run registered. */
  layers: Partial<Record<Layer, boolean>>;
  hasGt: boolean;
}

const MAP_LAYERS = ['prob', 'distance', 'markers'] as const;

export function viewerPage(v: ViewerInput): SafeHtml {
  const base = `/data/${encodeURIComponent(v.runId)}/images/${encodeURIComponent(v.image)}`;
  const maps = Object.fromEntries(
    MAP_LAYERS.filter((l) => v.layers[l]).map((l) => [l, `${base}/map/${l}.png`]),
  );
  const config = {
    runId: v.runId,
    image: v.image,
    he: `${base}/he.png`,
    pred: v.layers.labels ? `${base}/labels/pred.bin` : null,
    gt: v.hasGt ? `${base}/labels/gt.bin` : null,
    nuclei: v.layers.labels ? `${base}/nuclei.json` : null,
    maps,
  };
  const r = v.result;
  const runHref = `/runs/${encodeURIComponent(v.runId)}`;
  return layout(
    { title: `${v.image} · ${v.runId}`, scripts: ['/static/viewer.js'] },
    html`<h1 class="viewer-title"><a href="${runHref}" class="mono">${v.runId}</a> / <span class="mono">${v.image}</span></h1>
<div class="viewer-bar">
  <label>Image <select id="image-select">${v.images.map((i) => html`<option value="${i}" ${i === v.image ? html`selected` : ''}>${i}</option>`)}</select></label>
  <span class="chip">${r.organ} · ${r.subset}</span>
  <span class="chip">AJI ${pct(r.aji)}</span><span class="chip">Dice ${pct(r.dice)}</span><span class="chip">F1 ${pct(r.f1)}</span>
  <span class="chip">GT ${r.nGt} · pred ${r.nPred}</span>
</div>
<div class="viewer">
  <aside class="layers" id="layers">
    <h2>Layers</h2>
    <label><input type="checkbox" id="layer-he" checked> H&amp;E image</label>
    <label><input type="checkbox" id="layer-pred" ${config.pred ? html`checked` : html`disabled`}> <span class="swatch pred"></span> predicted contours</label>
    <label><input type="checkbox" id="layer-gt" ${config.gt ? html`checked` : html`disabled`}> <span class="swatch gt"></span> ground-truth contours</label>
    <h2>Intermediate map</h2>
    <label><input type="radio" name="map" value="none" id="map-none" checked> none</label>
    ${MAP_LAYERS.map((l) => html`<label><input type="radio" name="map" value="${l}" id="map-${l}" ${maps[l] ? '' : html`disabled`}> ${LAYER_TITLES[l]}</label>`)}
    <label>Opacity <input type="range" id="map-opacity" min="0" max="100" value="60"></label>
    <h2>View</h2>
    <div class="buttons"><button type="button" id="zoom-in">+</button><button type="button" id="zoom-out">−</button><button type="button" id="zoom-fit">fit</button><button type="button" id="zoom-1">1:1</button></div>
    <p class="sub">Wheel to zoom, drag to pan.</p>
    <div id="hover" class="hover" aria-live="polite">Hover a nucleus.</div>
    <p id="viewer-status" class="sub">loading…</p>
  </aside>
  <div class="stage" id="stage"><canvas id="canvas"></canvas></div>
</div>
${jsonBlock('viewer-config', config)}`,
  );
}
