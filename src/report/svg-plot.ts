/**
 * Line plots as standalone SVG text, for the report's learning curves. Dependency-free on
 * purpose: the only plotting library installed is uPlot, which draws on a browser canvas; a
 * server-side grammar such as Vega would be a large new dependency for a few line charts with
 * linear or log axes, which this file draws in about a hundred lines.
 */

export interface Series {
  readonly name: string;
  readonly xs: readonly number[];
  readonly ys: readonly number[];
}

export interface PlotOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** Log10 y axis (a learning rate); values <= 0 are left out of such a plot. */
  readonly logY?: boolean;
  readonly width?: number;
  readonly height?: number;
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
/** Plot area margins: left, right, top, bottom. */
const MARGIN = { l: 64, r: 16, t: 32, b: 44 };

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** Coordinates to two decimals: exact enough for a plot, and stable text for tests and diffs. */
const f = (v: number) => (Math.round(v * 100) / 100).toString();

/** About `n` round tick values covering [lo, hi], at least `minStep` apart. */
export function niceTicks(lo: number, hi: number, n = 5, minStep = 0): number[] {
  if (hi === lo) return [lo];
  const raw = Math.max((hi - lo) / n, minStep);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

const tickLabel = (v: number) =>
  v === 0
    ? '0'
    : Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3
      ? v.toExponential(0)
      : String(Number(v.toPrecision(4)));

export interface Scales {
  readonly x: (v: number) => number;
  readonly y: (v: number) => number;
  readonly xDomain: readonly [number, number];
  readonly yDomain: readonly [number, number];
}

/** The data-to-pixel maps of a plot (exported so tests can check where points land). */
export function plotScales(series: readonly Series[], o: PlotOptions): Scales {
  const w = o.width ?? 640;
  const h = o.height ?? 320;
  const tf = (v: number) => (o.logY ? Math.log10(v) : v);
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of series)
    s.xs.forEach((x, i) => {
      const y = s.ys[i]!;
      if (Number.isFinite(x) && Number.isFinite(y) && (!o.logY || y > 0)) {
        xs.push(x);
        ys.push(tf(y));
      }
    });
  const span = (vs: number[]): [number, number] => {
    if (vs.length === 0) return [0, 1];
    const lo = Math.min(...vs);
    const hi = Math.max(...vs);
    return lo === hi ? [lo - 0.5, hi + 0.5] : [lo, hi];
  };
  const xDomain = span(xs);
  const yDomain = span(ys);
  const pw = w - MARGIN.l - MARGIN.r;
  const ph = h - MARGIN.t - MARGIN.b;
  return {
    x: (v) => MARGIN.l + ((v - xDomain[0]) / (xDomain[1] - xDomain[0])) * pw,
    y: (v) => MARGIN.t + ph - ((tf(v) - yDomain[0]) / (yDomain[1] - yDomain[0])) * ph,
    xDomain,
    yDomain,
  };
}

/** A line plot of `series` (one polyline each, with a legend) as an SVG document. */
export function linePlotSvg(series: readonly Series[], o: PlotOptions): string {
  const w = o.width ?? 640;
  const h = o.height ?? 320;
  const sc = plotScales(series, o);
  const bottom = h - MARGIN.b;
  const right = w - MARGIN.r;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="11">`,
    `<title>${esc(o.title)}</title>`,
    `<rect width="${w}" height="${h}" fill="#ffffff"/>`,
    `<text x="${w / 2}" y="18" text-anchor="middle" font-size="13">${esc(o.title)}</text>`,
  ];
  // Epochs and steps are whole numbers: no ticks between them.
  const wholeX = series.every((s) => s.xs.every(Number.isInteger));
  const xTicks = niceTicks(sc.xDomain[0], sc.xDomain[1], 5, wholeX ? 1 : 0);
  const yTicks = o.logY
    ? niceTicks(Math.ceil(sc.yDomain[0]), Math.floor(sc.yDomain[1]), 4)
        .filter(Number.isInteger)
        .map((e) => 10 ** e)
    : niceTicks(sc.yDomain[0], sc.yDomain[1]);
  for (const t of xTicks)
    parts.push(
      `<line x1="${f(sc.x(t))}" y1="${MARGIN.t}" x2="${f(sc.x(t))}" y2="${bottom}" stroke="#e5e5e5"/>`,
      `<text x="${f(sc.x(t))}" y="${bottom + 14}" text-anchor="middle">${tickLabel(t)}</text>`,
    );
  for (const t of yTicks)
    parts.push(
      `<line x1="${MARGIN.l}" y1="${f(sc.y(t))}" x2="${right}" y2="${f(sc.y(t))}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.l - 6}" y="${f(sc.y(t) + 4)}" text-anchor="end">${tickLabel(t)}</text>`,
    );
  parts.push(
    `<rect x="${MARGIN.l}" y="${MARGIN.t}" width="${right - MARGIN.l}" height="${bottom - MARGIN.t}" fill="none" stroke="#888888"/>`,
    `<text x="${(MARGIN.l + right) / 2}" y="${h - 8}" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text transform="translate(14 ${(MARGIN.t + bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}${o.logY ? ' (log)' : ''}</text>`,
  );
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const pts = s.xs
      .map((x, j) => [x, s.ys[j]!] as const)
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.logY || y > 0))
      .map(([x, y]) => `${f(sc.x(x))},${f(sc.y(y))}`);
    parts.push(
      `<polyline data-series="${esc(s.name)}" fill="none" stroke="${colour}" stroke-width="1.5" points="${pts.join(' ')}"/>`,
      `<line x1="${right - 150}" y1="${MARGIN.t + 12 + 14 * i}" x2="${right - 130}" y2="${MARGIN.t + 12 + 14 * i}" stroke="${colour}" stroke-width="2"/>`,
      `<text x="${right - 125}" y="${MARGIN.t + 16 + 14 * i}">${esc(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
