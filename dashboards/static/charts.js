// @ts-check
/**
 * Draws the charts described in the page's #charts-data block (built by server/charts.ts) with
 * uPlot. Series with different x values are merged onto one x axis; gaps stay gaps.
 */
(() => {
  const PALETTE = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d'];

  /** @param {{x:number[], y:number[]}[]} series */
  function align(series) {
    const xs = [...new Set(series.flatMap((s) => s.x))].sort((a, b) => a - b);
    const pos = new Map(xs.map((x, i) => [x, i]));
    const ys = series.map((s) => {
      /** @type {(number|null)[]} */
      const y = new Array(xs.length).fill(null);
      s.x.forEach((x, i) => {
        y[/** @type {number} */ (pos.get(x))] = s.y[i];
      });
      return y;
    });
    return [xs, ...ys];
  }

  /** Draws (or redraws) every chart in `specs` into its figure. @param {any[]} specs */
  function render(specs) {
    // uPlot is a global from the vendored IIFE build.
    const UPlot = /** @type {any} */ (window).uPlot;
    if (!UPlot) return;
    for (const spec of specs) {
      const fig = document.querySelector(`[data-chart="${spec.id}"]`);
      if (!fig || spec.series.length === 0) continue;
      for (const old of fig.querySelectorAll('.uplot-host, p.sub')) old.remove();
      const hasRight = spec.series.some((/** @type {any} */ s) => s.axis === 'right');
      const width = Math.max(320, Math.min(fig.clientWidth || 560, 760));
      const opts = {
        width,
        height: 280,
        scales: { x: { time: false }, loss: {}, lr: { distr: 3 } },
        axes: [
          // Epochs are whole numbers: no 1.5 ticks on a three-epoch run.
          { label: spec.xLabel, incrs: [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000] },
          { scale: 'loss', label: spec.leftLabel },
          ...(hasRight
            ? [
                {
                  scale: 'lr',
                  side: 1,
                  label: spec.rightLabel,
                  grid: { show: false },
                  size: 60,
                  // Learning rates span decades: 1e-3, 4e-4, ... read better in exponent form.
                  values: (/** @type {any} */ _u, /** @type {number[]} */ vals) =>
                    vals.map((v) => (v == null ? '' : v.toExponential(0))),
                },
              ]
            : []),
        ],
        series: [
          { label: spec.xLabel },
          ...spec.series.map((/** @type {any} */ s) => ({
            label: s.label,
            scale: s.axis === 'right' ? 'lr' : 'loss',
            stroke: PALETTE[s.colour % PALETTE.length],
            width: 2,
            dash: s.dash ? [6, 4] : undefined,
            spanGaps: true,
            points: { show: s.x.length < 40 },
          })),
        ],
      };
      const el = document.createElement('div');
      el.className = 'uplot-host';
      fig.appendChild(el);
      new UPlot(opts, align(spec.series), el);
      fig.setAttribute('data-drawn', 'true');
      fig.setAttribute(
        'data-points',
        String(spec.series.reduce((/** @type {number} */ n, /** @type {any} */ s) => n + s.x.length, 0)),
      );
    }
  }

  function draw() {
    const block = document.getElementById('charts-data');
    if (block) render(JSON.parse(block.textContent || '[]'));
  }
  /** @type {any} */ (window).nfCharts = { render };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', draw);
  else draw();
})();
