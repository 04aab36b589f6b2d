/**
 * The dashboard's HTTP server: node:http, server-rendered pages, a few JSON/binary data routes
 * for the viewer and the charts, server-sent events for the live runs list. Read-only over the
 * tracking database. Every request passes the guards first (Host header, token), every file
 * route resolves its path inside its root folder or answers 404.
 */
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MIN_DASHBOARD_TOKEN_LENGTH, REPO_ROOT } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { assertSameLabelSize, readGrey, readLabels } from '../../src/imaging/io.ts';
import { toCsv } from '../../src/io/csv.ts';
import type { Db } from '../../src/storage/index.ts';
import { compareRuns, type Method, partitionByResults } from '../../src/tracking/compare.ts';
import * as q from '../../src/tracking/queries.ts';
import { imageLayers, LAYERS, type Layer } from './artifacts.ts';
import { compareCharts, runCharts } from './charts.ts';
import { html, type SafeHtml } from './html.ts';
import { colourLabels, colourMap, encodeLabels, toPng } from './images.ts';
import { nucleusTable } from './nuclei.ts';
import {
  COMPARE_METRICS,
  type CompareMetric,
  comparePage,
  comparePicker,
  runLabel,
} from './pages/compare.ts';
import { layout } from './pages/layout.ts';
import { modelsPage } from './pages/models.ts';
import { runPage } from './pages/run.ts';
import { runRows, runsPage } from './pages/runs.ts';
import { slidesPage } from './pages/slides.ts';
import { viewerPage } from './pages/viewer.ts';
import {
  hostHeaderAllowed,
  isLoopbackHost,
  requestToken,
  resolveInside,
  resolveStoredPath,
  TOKEN_COOKIE,
  tokenMatches,
} from './security.ts';

const STATIC_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'static');
const UPLOT_DIR = resolve(REPO_ROOT, 'node_modules', 'uplot', 'dist');
/** Only these vendor files are served, straight from the installed package. */
const VENDOR: Record<string, string> = {
  'uPlot.iife.min.js': 'uPlot.iife.min.js',
  'uPlot.min.css': 'uPlot.min.css',
};
const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.csv': 'text/csv; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.html': 'text/plain; charset=utf-8',
};
/** Image and run names as they appear in routes: no separators, no leading dot. */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

export interface DashboardOptions {
  db: Db;
  /** NucleiFlow home: root of every artifact the dashboard serves. */
  home: string;
  /** MoNuSeg folder: images/<image>.tif and labels/<image>.png. */
  dataDir: string;
  host: string;
  port: number;
  token?: string | undefined;
  temporalUiUrl?: string | undefined;
  temporalNamespace?: string | undefined;
  mlflowUri?: string | undefined;
  /** How often the live-update loop polls the database while a client listens (ms). */
  pollMs?: number | undefined;
}

export interface Dashboard {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
const notFound = () => new HttpError(404, 'Not found');

/** A small LRU of converted images (each a few MB), keyed by real path and mtime. */
class Lru<V> {
  private readonly m = new Map<string, V>();
  constructor(private readonly max: number) {}
  async get(key: string, make: () => Promise<V>): Promise<V> {
    const hit = this.m.get(key);
    if (hit !== undefined) {
      this.m.delete(key);
      this.m.set(key, hit);
      return hit;
    }
    const v = await make();
    this.m.set(key, v);
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value!);
    return v;
  }
}

function securityHeaders(res: ServerResponse): void {
  res.setHeader(
    'Content-Security-Policy',
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  );
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  extra: Record<string, string> = {},
) {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-cache', ...extra });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function sendHtml(res: ServerResponse, page: SafeHtml, status = 200) {
  send(res, status, 'text/html; charset=utf-8', page.value);
}

function parseFilter(u: URL): q.RunFilter {
  const get = (k: string) => u.searchParams.get(k)?.trim() || undefined;
  const sort = get('sort');
  const dir = get('dir');
  return {
    status: get('status'),
    spec: get('spec'),
    experiment: get('experiment'),
    q: get('q'),
    sort: sort && (q.SORT_KEYS as readonly string[]).includes(sort) ? (sort as q.SortKey) : undefined,
    dir: dir === 'asc' || dir === 'desc' ? dir : undefined,
  };
}

/** Throws a ConfigError unless the bind address and token are an allowed pair. */
export function checkExposure(host: string, token: string | undefined): void {
  if (!isLoopbackHost(host) && !token) {
    throw new ConfigError(
      `dashboard: binding to ${host} exposes it beyond this machine; pass --token or set NUCLEIFLOW_DASHBOARD_TOKEN`,
    );
  }
  if (token && token.length < MIN_DASHBOARD_TOKEN_LENGTH) {
    throw new ConfigError(`dashboard: the token must be at least ${MIN_DASHBOARD_TOKEN_LENGTH} characters`);
  }
}

export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  const token = o.token || undefined;
  checkExposure(o.host, token);
  const { db } = o;
  const home = resolve(o.home);
  const dataDir = resolve(o.dataDir);
  const pollMs = o.pollMs ?? 1500;
  const cache = new Lru<Buffer>(24);
  const tables = new Lru<string>(24);

  // --- live updates: one poller shared by every open event stream ---
  const streams = new Set<ServerResponse>();
  let fingerprint = '';
  let poller: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let polling = false;
  const poll = async () => {
    if (polling) return;
    polling = true;
    try {
      const fp = await q.runsFingerprint(db);
      if (fp !== fingerprint) {
        fingerprint = fp;
        for (const s of streams) s.write(`event: runs\ndata: ${JSON.stringify(fp)}\n\n`);
      }
    } catch {
      // A database hiccup (e.g. Postgres restarting) skips one beat; the next poll catches up.
    } finally {
      polling = false;
    }
  };
  const startPolling = () => {
    if (!poller) {
      poller = setInterval(poll, pollMs);
      heartbeat = setInterval(() => {
        for (const s of streams) s.write(': keep-alive\n\n');
      }, 15000);
    }
  };
  const stopPollingIfIdle = () => {
    if (streams.size === 0 && poller) {
      clearInterval(poller);
      clearInterval(heartbeat);
      poller = undefined;
    }
  };

  const artifactHref = (stored: string): string | null => {
    const abs = resolve(home, stored);
    const rel = relative(home, abs);
    return rel && !rel.startsWith('..') && !rel.startsWith(sep) ? rel.split(sep).join('/') : null;
  };

  async function imageContext(runId: string, image: string) {
    if (!NAME_RE.test(runId) || !NAME_RE.test(image)) throw notFound();
    const result = await q.getImageResult(db, runId, image);
    if (!result) throw notFound();
    return result;
  }

  async function layerPath(runId: string, image: string, layer: Layer): Promise<string> {
    const rows = await q.getArtifacts(db, runId);
    const row = imageLayers(rows, image)[layer];
    if (!row) throw notFound();
    const real = await resolveStoredPath(home, row.path);
    if (!real) throw notFound();
    return real;
  }

  async function cached(key: string, path: string, make: () => Promise<Buffer>): Promise<Buffer> {
    const st = await stat(path);
    return cache.get(`${key}:${path}:${st.mtimeMs}:${st.size}`, make);
  }

  async function route(req: IncomingMessage, res: ServerResponse, u: URL): Promise<void> {
    const path = u.pathname;
    const parts = path.split('/').slice(1);
    let segs: string[];
    try {
      segs = parts.map((p) => decodeURIComponent(p));
    } catch {
      throw notFound();
    }

    if (path === '/healthz') return send(res, 200, 'text/plain', 'ok\n');
    if (path === '/favicon.ico') return send(res, 204, 'image/x-icon', '');

    if (segs[0] === 'static') {
      if (segs[1] === 'vendor' && segs.length === 3) {
        const f = VENDOR[segs[2]!];
        if (!f) throw notFound();
        return send(res, 200, TYPES[extname(f)]!, await readFile(resolve(UPLOT_DIR, f)), {
          'Cache-Control': 'max-age=3600',
        });
      }
      const real = await resolveInside(STATIC_DIR, segs.slice(1).join('/'));
      if (!real) throw notFound();
      return send(res, 200, TYPES[extname(real)] ?? 'application/octet-stream', await readFile(real));
    }

    if (path === '/') {
      const f = parseFilter(u);
      const rows = await q.listRunSummaries(db, f);
      if (u.searchParams.get('fragment') === 'rows') {
        return sendHtml(res, runRows(rows));
      }
      const [choices, exps] = await Promise.all([q.filterChoices(db), q.listExperimentSummaries(db, f.spec)]);
      return sendHtml(res, runsPage(rows, f, choices, exps));
    }

    if (path === '/api/runs') {
      const rows = await q.listRunSummaries(db, parseFilter(u));
      return send(res, 200, 'application/json', JSON.stringify(rows));
    }

    if (path === '/events/runs') {
      res.writeHead(200, {
        'Content-Type': 'text/event-stream',
        'Cache-Control': 'no-cache',
        Connection: 'keep-alive',
      });
      if (!fingerprint) fingerprint = await q.runsFingerprint(db).catch(() => '');
      res.write(`retry: 3000\nevent: hello\ndata: ${JSON.stringify(fingerprint)}\n\n`);
      streams.add(res);
      startPolling();
      req.on('close', () => {
        streams.delete(res);
        stopPollingIfIdle();
      });
      return;
    }

    if (segs[0] === 'api' && segs[1] === 'runs' && segs[2] && segs[3] === 'charts' && segs.length === 4) {
      if (!NAME_RE.test(segs[2])) throw notFound();
      const brief = await q.getRunsBrief(db, [segs[2]]);
      if (!brief[0]) throw notFound();
      const curves = (await q.getCurves(db, [segs[2]])).get(segs[2]) ?? [];
      return send(
        res,
        200,
        'application/json',
        JSON.stringify({ status: brief[0].run.status, charts: runCharts(curves) }),
      );
    }

    if (segs[0] === 'runs' && segs[1]) {
      const runId = segs[1];
      if (!NAME_RE.test(runId)) throw notFound();
      if (segs.length === 2) {
        const d = await q.getRunDetail(db, runId);
        if (!d) throw notFound();
        return sendHtml(
          res,
          runPage(d, {
            temporalUiUrl: o.temporalUiUrl,
            temporalNamespace: o.temporalNamespace ?? 'default',
            mlflowUri: o.mlflowUri,
            artifactHref,
          }),
        );
      }
      if (segs.length === 3 && (segs[2] === 'results.csv' || segs[2] === 'results.json')) {
        const d = await q.getRunDetail(db, runId);
        if (!d) throw notFound();
        if (segs[2] === 'results.json') {
          const body = JSON.stringify(
            { run: d.run, experiment: d.experiment, params: d.params, results: d.results },
            null,
            2,
          );
          return send(res, 200, 'application/json', body, {
            'Content-Disposition': `attachment; filename="${runId}-results.json"`,
          });
        }
        const cols = [
          'image',
          'organ',
          'subset',
          'dice',
          'f1',
          'aji',
          'ajiPlus',
          'pq',
          'nGt',
          'nPred',
        ] as const;
        const header = ['image', 'organ', 'subset', 'dice', 'f1', 'aji', 'aji_plus', 'pq', 'n_gt', 'n_pred'];
        const body = toCsv(
          header,
          d.results.map((r) => cols.map((c) => r[c])),
        );
        return send(res, 200, 'text/csv; charset=utf-8', body, {
          'Content-Disposition': `attachment; filename="${runId}-results.csv"`,
        });
      }
      if (segs.length === 4 && segs[2] === 'images') {
        const image = segs[3]!;
        const result = await imageContext(runId, image);
        const [arts, all] = await Promise.all([q.getArtifacts(db, runId), q.getImageResults(db, runId)]);
        const found = imageLayers(arts, image);
        const layers: Partial<Record<Layer, boolean>> = {};
        for (const l of LAYERS)
          if (found[l] && (await resolveStoredPath(home, found[l].path))) layers[l] = true;
        const hasGt = (await resolveInside(dataDir, `labels/${image}.png`)) !== null;
        return sendHtml(
          res,
          viewerPage({ runId, image, result, images: all.map((r) => r.image), layers, hasGt }),
        );
      }
      throw notFound();
    }

    if (segs[0] === 'data' && segs[2] === 'images' && segs.length >= 5) {
      const runId = segs[1]!;
      const image = segs[3]!;
      await imageContext(runId, image);
      const rest = segs.slice(4).join('/');
      if (rest === 'he.png') {
        const real =
          (await resolveInside(dataDir, `images/${image}.tif`)) ??
          (await resolveInside(dataDir, `images/${image}.png`));
        if (!real) throw notFound();
        return send(res, 200, 'image/png', await cached('he', real, () => toPng(real)), {
          'Cache-Control': 'private, max-age=300',
        });
      }
      if (rest === 'labels/pred.bin' || rest === 'labels/gt.bin') {
        const real =
          rest === 'labels/gt.bin'
            ? await resolveInside(dataDir, `labels/${image}.png`)
            : await layerPath(runId, image, 'labels');
        if (!real) throw notFound();
        const body = await cached('labels', real, async () => encodeLabels(await readLabels(real)));
        return send(res, 200, 'application/octet-stream', body, {
          'Content-Encoding': 'gzip',
          'Cache-Control': 'private, max-age=300',
        });
      }
      if (rest === 'nuclei.json') {
        const predPath = await layerPath(runId, image, 'labels');
        const gtPath = await resolveInside(dataDir, `labels/${image}.png`);
        const st = await stat(predPath);
        const body = await tables.get(`${predPath}:${st.mtimeMs}:${gtPath}`, async () => {
          const pred = await readLabels(predPath);
          const gt = gtPath ? await readLabels(gtPath) : null;
          if (gt && gtPath) assertSameLabelSize(predPath, pred, gtPath, gt);
          return JSON.stringify(nucleusTable(pred, gt));
        });
        return send(res, 200, 'application/json', body);
      }
      const m = /^map\/(prob|distance|markers)\.png$/.exec(rest);
      if (m) {
        const layer = m[1] as Layer;
        const real = await layerPath(runId, image, layer);
        const body = await cached(`map-${layer}`, real, async () => {
          const g = await readGrey(real);
          if (layer === 'markers') return colourLabels(g);
          return layer === 'prob' ? colourMap(g, 'depth', 'viridis') : colourMap(g, 'max', 'magma');
        });
        return send(res, 200, 'image/png', body, { 'Cache-Control': 'private, max-age=300' });
      }
      throw notFound();
    }

    if (segs[0] === 'files' && segs.length >= 3) {
      const runId = segs[1]!;
      if (!NAME_RE.test(runId)) throw notFound();
      // The raw path must not smuggle separators or dot segments through percent-encoding.
      const rel = segs.slice(2).join('/');
      if (segs.slice(2).some((s) => s.includes('/') || s.includes('\\'))) throw notFound();
      const real = await resolveInside(home, rel);
      if (!real) throw notFound();
      // Only files registered as this run's artifacts, whatever else lives under home.
      const rows = await q.getArtifacts(db, runId);
      let registered = false;
      for (const a of rows) if ((await resolveStoredPath(home, a.path)) === real) registered = true;
      if (!registered) throw notFound();
      const name = real.split(sep).pop()!;
      return send(res, 200, TYPES[extname(real)] ?? 'application/octet-stream', await readFile(real), {
        'Content-Disposition': `attachment; filename="${name.replace(/[^\w.-]/g, '_')}"`,
      });
    }

    if (path === '/models') {
      return sendHtml(res, modelsPage(await q.listModelVersions(db), { mlflowUri: o.mlflowUri }));
    }

    if (path === '/slides') return sendHtml(res, slidesPage(await q.listSlideSegmentations(db)));

    if (path === '/compare' || path === '/api/compare') {
      let ids = u.searchParams
        .getAll('runs')
        .flatMap((s) => s.split(','))
        .map((s) => s.trim())
        .filter(Boolean);
      const experiment = u.searchParams.get('experiment')?.trim();
      const method: Method = u.searchParams.get('method') === 'stage1' ? 'stage1' : 'two-stage';
      // An experiment's runs without results yet (running, pending, failed) are left out and named.
      let leftOut: { id: string; status: string }[] = [];
      if (experiment) {
        const all = (await q.getRunsBrief(db, await q.runIdsOfExperiment(db, experiment))).map((b) => b.run);
        const part = partitionByResults(
          all,
          await q.getImageResults(
            db,
            all.map((r) => r.id),
            'all',
          ),
          method,
        );
        ids = part.scored.map((r) => r.id);
        leftOut = part.unscored.map((r) => ({ id: r.id, status: r.status }));
      }
      ids = [...new Set(ids)].slice(0, 12);
      const runs = ids.length < 2 ? [] : await q.getRunsBrief(db, ids);
      const present = runs.map((r) => r.run.id);
      const unknown = ids.filter((id) => !present.includes(id));
      if (runs.length < 2) {
        const message =
          ids.length < 2
            ? experiment
              ? `Experiment ${experiment} has ${ids.length} run(s) with results; compare needs two.`
              : ids.length === 1
                ? 'Pick at least two runs.'
                : undefined
            : `Unknown run(s): ${unknown.join(', ')}. Pick at least two runs.`;
        if (path === '/api/compare')
          return send(
            res,
            400,
            'application/json',
            JSON.stringify({ error: message ?? 'Pick at least two runs.' }),
          );
        return sendHtml(res, comparePicker(await q.listRunSummaries(db, { limit: 200 }), message));
      }
      const cmp = compareRuns(
        runs.map((r) => ({ id: r.run.id, arm: r.run.arm as Record<string, unknown>, seed: r.run.seed })),
        await q.getImageResults(db, present, 'all'),
        method,
      );
      if (path === '/api/compare') return send(res, 200, 'application/json', JSON.stringify(cmp));
      const metricParam = u.searchParams.get('metric') ?? 'aji';
      const metric = (COMPARE_METRICS as readonly string[]).includes(metricParam)
        ? (metricParam as CompareMetric)
        : 'aji';
      const curves = await q.getCurves(db, present);
      const charts = compareCharts(
        runs.map((r) => ({ id: r.run.id, label: runLabel(r), curves: curves.get(r.run.id) ?? [] })),
      );
      const query = `${
        experiment
          ? `experiment=${encodeURIComponent(experiment)}`
          : `runs=${present.map(encodeURIComponent).join(',')}`
      }${method === 'stage1' ? '&method=stage1' : ''}`;
      return sendHtml(res, comparePage(runs, cmp, metric, charts, query, leftOut));
    }

    throw notFound();
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    securityHeaders(res);
    if (!hostHeaderAllowed(req.headers.host, o.host)) {
      return send(res, 403, 'text/plain', 'Forbidden: unexpected Host header\n');
    }
    let u: URL;
    try {
      u = new URL(req.url ?? '/', 'http://dashboard.invalid');
    } catch {
      return send(res, 400, 'text/plain', 'Bad request\n');
    }
    if (token) {
      const given = requestToken(req, u);
      if (!given || !tokenMatches(given.token, token)) {
        return send(
          res,
          401,
          'text/plain; charset=utf-8',
          'Unauthorized: this dashboard needs its access token\n',
          {
            'WWW-Authenticate': 'Bearer realm="nucleiflow"',
          },
        );
      }
      if (given.source === 'query') {
        // Trade the token in the URL for a cookie, then drop it from the address bar and history.
        u.searchParams.delete('token');
        res.setHeader(
          'Set-Cookie',
          `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`,
        );
        if (req.method === 'GET') {
          res.writeHead(303, { Location: u.pathname + u.search });
          res.end();
          return;
        }
      }
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, 'text/plain', 'Method not allowed\n', { Allow: 'GET, HEAD' });
    }
    try {
      await route(req, res, u);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) {
        const page = layout(
          { title: 'Not found' },
          html`<h1>${err.status} ${err.message}</h1><p><a href="/">Back to the runs</a></p>`,
        );
        return sendHtml(res, page, err.status);
      }
      process.stderr.write(
        `dashboard: ${req.method} ${u.pathname}: ${(err as Error).stack ?? String(err)}\n`,
      );
      return send(res, 500, 'text/plain', 'Internal error (see the dashboard log)\n');
    }
  }

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      fail(
        err.code === 'EADDRINUSE'
          ? new ConfigError(
              `dashboard: port ${o.port} on ${o.host} is already in use; pick another with --port`,
            )
          : err.code === 'EADDRNOTAVAIL'
            ? new ConfigError(`dashboard: ${o.host} is not an address of this machine`)
            : err,
      ),
    );
    server.listen(o.port, o.host, () => ok());
  });
  const addr = server.address() as AddressInfo;
  const hostForUrl = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${hostForUrl}:${addr.port}`,
    server,
    async close() {
      clearInterval(poller);
      clearInterval(heartbeat);
      for (const s of streams) s.end();
      streams.clear();
      await new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      });
    },
  };
}
