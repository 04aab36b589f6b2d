// @ts-check
/**
 * Image viewer: the H&E image with predicted and ground-truth contours and one intermediate map
 * as layers on a canvas; wheel zoom around the cursor, drag to pan, hover for the nucleus under
 * the cursor. Contours are computed here from the label maps: a pixel is on a contour when it
 * belongs to an instance and one of its 4-neighbours (or the image border) does not.
 */
(() => {
  const cfgEl = document.getElementById('viewer-config');
  if (!cfgEl) return;
  /** @type {{runId:string,image:string,he:string,pred:string|null,gt:string|null,nuclei:string|null,maps:Record<string,string>}} */
  const cfg = JSON.parse(cfgEl.textContent || '{}');
  const stage = /** @type {HTMLElement} */ (document.getElementById('stage'));
  const canvas = /** @type {HTMLCanvasElement} */ (document.getElementById('canvas'));
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  const hover = /** @type {HTMLElement} */ (document.getElementById('hover'));
  const status = /** @type {HTMLElement} */ (document.getElementById('viewer-status'));
  const $ = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ (document.getElementById(id));

  const COLOURS = { pred: [0, 229, 255], gt: [57, 255, 20], hl: [255, 0, 200] };

  /** @typedef {{width:number,height:number,data:Int32Array}} Labels */
  const st = {
    w: 0,
    h: 0,
    scale: 1,
    ox: 0,
    oy: 0,
    /** @type {HTMLImageElement|null} */ he: null,
    /** @type {Labels|null} */ pred: null,
    /** @type {Labels|null} */ gt: null,
    /** @type {HTMLCanvasElement|null} */ predLayer: null,
    /** @type {HTMLCanvasElement|null} */ gtLayer: null,
    /** @type {HTMLCanvasElement|null} */ hlLayer: null,
    hlId: 0,
    /** @type {Record<string, HTMLImageElement>} */ maps: {},
    map: 'none',
    /** @type {any} */ table: null,
    /** @type {Map<number, number>} */ predIndex: new Map(),
    /** @type {Map<number, number>} */ gtIndex: new Map(),
  };

  /** @param {string} url */
  function loadImage(url) {
    return new Promise((ok, fail) => {
      const img = new Image();
      img.onload = () => ok(img);
      img.onerror = () => fail(new Error(`cannot load ${url}`));
      img.src = url;
    });
  }

  /** @param {string} url @returns {Promise<Labels>} */
  async function loadLabels(url) {
    const res = await fetch(url, { credentials: 'same-origin' });
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    const buf = await res.arrayBuffer();
    const dv = new DataView(buf);
    const width = dv.getUint32(0, true);
    const height = dv.getUint32(4, true);
    return { width, height, data: new Int32Array(buf, 8, width * height) };
  }

  /** @param {Labels} l @param {number[]} rgb @param {number} [only] draw only this id */
  function contourLayer(l, rgb, only) {
    const c = document.createElement('canvas');
    c.width = l.width;
    c.height = l.height;
    const g = /** @type {CanvasRenderingContext2D} */ (c.getContext('2d'));
    const img = g.createImageData(l.width, l.height);
    const d = l.data;
    const w = l.width;
    const h = l.height;
    const px = img.data;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        const v = d[i];
        if (v <= 0 || (only !== undefined && v !== only)) continue;
        const edge =
          x === 0 ||
          y === 0 ||
          x === w - 1 ||
          y === h - 1 ||
          d[i - 1] !== v ||
          d[i + 1] !== v ||
          d[i - w] !== v ||
          d[i + w] !== v;
        if (!edge && only === undefined) continue;
        const o = i * 4;
        px[o] = rgb[0];
        px[o + 1] = rgb[1];
        px[o + 2] = rgb[2];
        // Inside the highlighted nucleus: a translucent fill; its edge: opaque.
        px[o + 3] = edge ? 255 : 90;
      }
    }
    g.putImageData(img, 0, 0);
    return c;
  }

  function resize() {
    const r = stage.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(r.width * dpr));
    canvas.height = Math.max(1, Math.round(r.height * dpr));
    canvas.style.width = `${r.width}px`;
    canvas.style.height = `${r.height}px`;
    draw();
  }

  function fitView() {
    if (!st.w) return;
    const r = stage.getBoundingClientRect();
    st.scale = Math.min(r.width / st.w, r.height / st.h);
    st.ox = (r.width - st.w * st.scale) / 2;
    st.oy = (r.height - st.h * st.scale) / 2;
    draw();
  }

  /** @param {number} factor @param {number} cx @param {number} cy (CSS px in the stage) */
  function zoomAt(factor, cx, cy) {
    const s = Math.min(40, Math.max(0.05, st.scale * factor));
    const k = s / st.scale;
    st.ox = cx - (cx - st.ox) * k;
    st.oy = cy - (cy - st.oy) * k;
    st.scale = s;
    draw();
  }

  function visible() {
    return {
      he: $('layer-he').checked,
      pred: $('layer-pred').checked && !!st.predLayer,
      gt: $('layer-gt').checked && !!st.gtLayer,
      map: st.map,
    };
  }

  function draw() {
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = '#1f2430';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (!st.w) return;
    ctx.setTransform(st.scale * dpr, 0, 0, st.scale * dpr, st.ox * dpr, st.oy * dpr);
    ctx.imageSmoothingEnabled = st.scale < 1;
    const v = visible();
    if (v.he && st.he) ctx.drawImage(st.he, 0, 0);
    const m = st.maps[v.map];
    if (m) {
      ctx.globalAlpha = Number($('map-opacity').value) / 100;
      ctx.drawImage(m, 0, 0);
      ctx.globalAlpha = 1;
    }
    if (v.gt && st.gtLayer) ctx.drawImage(st.gtLayer, 0, 0);
    if (v.pred && st.predLayer) ctx.drawImage(st.predLayer, 0, 0);
    if (st.hlLayer && st.hlId) ctx.drawImage(st.hlLayer, 0, 0);
    stage.dataset.layers = [v.he && 'he', v.pred && 'pred', v.gt && 'gt', v.map !== 'none' && `map:${v.map}`]
      .filter(Boolean)
      .join(',');
  }

  /** @param {number} id */
  function highlight(id) {
    if (id === st.hlId) return;
    st.hlId = id;
    st.hlLayer = id && st.pred ? contourLayer(st.pred, COLOURS.hl, id) : null;
    draw();
  }

  /** @param {MouseEvent} e */
  function showHover(e) {
    if (!st.w) return;
    const r = stage.getBoundingClientRect();
    const x = Math.floor((e.clientX - r.left - st.ox) / st.scale);
    const y = Math.floor((e.clientY - r.top - st.oy) / st.scale);
    if (x < 0 || y < 0 || x >= st.w || y >= st.h) {
      hover.textContent = 'Hover a nucleus.';
      highlight(0);
      return;
    }
    const i = y * st.w + x;
    const p = st.pred ? st.pred.data[i] : 0;
    const g = st.gt ? st.gt.data[i] : 0;
    const lines = [`pixel (${x}, ${y})`];
    const t = st.table;
    if (p > 0 && t) {
      const k = st.predIndex.get(p);
      if (k !== undefined) {
        lines.push(`predicted nucleus #${p}`, `area ${t.area[k]} px`, `centroid (${t.cx[k]}, ${t.cy[k]})`);
        lines.push(
          t.gt[k]
            ? `best GT #${t.gt[k]}, IoU ${t.iou[k].toFixed(3)}`
            : 'no overlapping GT nucleus (false positive)',
        );
      }
    }
    if (g > 0) {
      const k = st.gtIndex.get(g);
      lines.push(`GT nucleus #${g}${t && k !== undefined ? `, area ${t.gtArea[k]} px` : ''}`);
    }
    hover.textContent = lines.join('\n');
    hover.dataset.pred = String(p);
    hover.dataset.gt = String(g);
    highlight(Math.max(p, 0));
  }

  let drag = /** @type {{x:number,y:number,ox:number,oy:number}|null} */ (null);
  stage.addEventListener('mousedown', (e) => {
    drag = { x: e.clientX, y: e.clientY, ox: st.ox, oy: st.oy };
    stage.classList.add('dragging');
  });
  window.addEventListener('mouseup', () => {
    drag = null;
    stage.classList.remove('dragging');
  });
  stage.addEventListener('mousemove', (e) => {
    if (drag) {
      st.ox = drag.ox + e.clientX - drag.x;
      st.oy = drag.oy + e.clientY - drag.y;
      draw();
    } else showHover(e);
  });
  stage.addEventListener(
    'wheel',
    (e) => {
      e.preventDefault();
      const r = stage.getBoundingClientRect();
      zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
    },
    { passive: false },
  );
  const centre = () => {
    const r = stage.getBoundingClientRect();
    return [r.width / 2, r.height / 2];
  };
  $('zoom-in').addEventListener('click', () => zoomAt(1.5, ...centre()));
  $('zoom-out').addEventListener('click', () => zoomAt(1 / 1.5, ...centre()));
  $('zoom-fit').addEventListener('click', fitView);
  $('zoom-1').addEventListener('click', () => zoomAt(1 / st.scale, ...centre()));
  for (const id of ['layer-he', 'layer-pred', 'layer-gt', 'map-opacity'])
    $(id).addEventListener('input', draw);
  for (const r of document.querySelectorAll('input[name="map"]')) {
    r.addEventListener('change', async () => {
      const v = /** @type {HTMLInputElement} */ (r).value;
      st.map = v;
      if (v !== 'none' && !st.maps[v] && cfg.maps[v]) {
        status.textContent = `loading ${v}…`;
        st.maps[v] = /** @type {HTMLImageElement} */ (await loadImage(cfg.maps[v]));
        status.textContent = 'ready';
      }
      draw();
    });
  }
  const sel = /** @type {HTMLSelectElement} */ (document.getElementById('image-select'));
  sel?.addEventListener('change', () => {
    location.href = `/runs/${encodeURIComponent(cfg.runId)}/images/${encodeURIComponent(sel.value)}`;
  });
  window.addEventListener('resize', resize);

  async function init() {
    try {
      const [he, pred, gt, table] = await Promise.all([
        loadImage(cfg.he),
        cfg.pred ? loadLabels(cfg.pred) : null,
        cfg.gt ? loadLabels(cfg.gt) : null,
        cfg.nuclei ? fetch(cfg.nuclei, { credentials: 'same-origin' }).then((r) => r.json()) : null,
      ]);
      st.he = /** @type {HTMLImageElement} */ (he);
      st.w = st.he.naturalWidth;
      st.h = st.he.naturalHeight;
      st.pred = pred;
      st.gt = gt;
      st.table = table;
      if (table) {
        for (let k = 0; k < table.id.length; k++) st.predIndex.set(table.id[k], k);
        for (let k = 0; k < table.gtId.length; k++) st.gtIndex.set(table.gtId[k], k);
      }
      if (pred) st.predLayer = contourLayer(pred, COLOURS.pred);
      if (gt) st.gtLayer = contourLayer(gt, COLOURS.gt);
      resize();
      fitView();
      status.textContent = 'ready';
      stage.dataset.ready = 'true';
    } catch (err) {
      status.textContent = `error: ${/** @type {Error} */ (err).message}`;
      stage.dataset.ready = 'error';
    }
  }
  resize();
  init();
})();
