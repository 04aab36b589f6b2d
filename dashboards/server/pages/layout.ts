import { html, type SafeHtml } from '../html.ts';

export interface PageOptions {
  title: string;
  active?: 'runs' | 'compare' | 'models' | 'slides' | undefined;
  scripts?: string[] | undefined;
  /** Adds uPlot's script and stylesheet. */
  charts?: boolean | undefined;
}

export function layout(o: PageOptions, body: SafeHtml): SafeHtml {
  const scripts = [
    ...(o.charts ? ['/static/vendor/uPlot.iife.min.js', '/static/charts.js'] : []),
    ...(o.scripts ?? []),
  ];
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · NucleiFlow</title>
<link rel="stylesheet" href="/static/style.css">
${o.charts ? html`<link rel="stylesheet" href="/static/vendor/uPlot.min.css">` : ''}
</head>
<body>
<header class="top">
  <a class="brand" href="/">NucleiFlow</a>
  <nav>
    <a href="/" class="${o.active === 'runs' ? 'active' : ''}">Runs</a>
    <a href="/compare" class="${o.active === 'compare' ? 'active' : ''}">Compare</a>
    <a href="/models" class="${o.active === 'models' ? 'active' : ''}">Models</a>
    <a href="/slides" class="${o.active === 'slides' ? 'active' : ''}">Slides</a>
  </nav>
</header>
<main>
${body}
</main>
${scripts.map((s) => html`<script src="${s}" defer></script>`)}
</body>
</html>`;
}

export function statusBadge(status: string): SafeHtml {
  return html`<span class="badge status-${status.replace(/[^a-z]/gi, '')}">${status}</span>`;
}
