/**
 * Dashboard server without a browser: the token, the Host guard, path traversal on every file
 * route, parameterised queries, delta formatting and the CLI's refusal to expose itself
 * without a token. Runs against a seeded PGlite database (see helpers/dashboard-data.ts).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeImageLayer } from '../dashboards/layer-writer.ts';
import { type Dashboard, startDashboard } from '../dashboards/server/app.ts';
import { imageArtifactPath } from '../dashboards/server/artifacts.ts';
import { deltaPct } from '../dashboards/server/format.ts';
import { scoresSection, table1 } from '../dashboards/server/pages/run.ts';
import { isLoopbackHost, isSafeRelativePath } from '../dashboards/server/security.ts';
import { ConfigError } from '../src/errors.ts';
import { readGrey } from '../src/imaging/io.ts';
import { schema } from '../src/storage/index.ts';
import { recordSlide } from '../src/tracking/index.ts';
import { getImageResults, listModelVersions, listRunSummaries } from '../src/tracking/queries.ts';
import { BIN } from './helpers/cli.ts';
import { type DashboardData, dashboardData } from './helpers/dashboard-data.ts';

/** A raw GET: node's http keeps the path byte for byte (fetch would normalise `..` away). */
function get(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const u = new URL(base);
  return new Promise((ok, fail) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        ok({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }),
      );
    });
    req.on('error', fail);
    req.end();
  });
}

let d: DashboardData;
let dash: Dashboard;

beforeAll(async () => {
  d = await dashboardData({ runs: 8 });
  dash = await startDashboard({
    db: d.storage.db,
    home: d.home,
    dataDir: d.dataDir,
    host: '127.0.0.1',
    port: 0,
  });
});

afterAll(async () => {
  await dash?.close();
  await d?.cleanup();
});

describe('binding and token', () => {
  it('treats only loopback names and addresses as loopback', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost'])
      expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.5', '10.0.0.1', 'example.org'])
      expect(isLoopbackHost(h)).toBe(false);
  });

  it('refuses a non-loopback address without a token', async () => {
    await expect(
      startDashboard({ db: d.storage.db, home: d.home, dataDir: d.dataDir, host: '0.0.0.0', port: 0 }),
    ).rejects.toThrow(ConfigError);
    await expect(
      startDashboard({
        db: d.storage.db,
        home: d.home,
        dataDir: d.dataDir,
        host: '0.0.0.0',
        port: 0,
        token: 'short',
      }),
    ).rejects.toThrow(/at least 12 characters/);
  });

  it('checks the token on every request: header, query (traded for a cookie) or cookie', async () => {
    const token = 'correct-horse-battery-staple';
    const t = await startDashboard({
      db: d.storage.db,
      home: d.home,
      dataDir: d.dataDir,
      host: '0.0.0.0',
      port: 0,
      token,
    });
    const base = t.url.replace('0.0.0.0', '127.0.0.1');
    try {
      for (const p of [
        '/',
        `/runs/${d.runA}`,
        '/compare',
        '/static/style.css',
        '/api/runs',
        '/events/runs',
        '/healthz',
      ]) {
        expect((await get(base, p)).status, p).toBe(401);
        expect((await get(base, p, { Authorization: 'Bearer wrong-token-123456' })).status, p).toBe(401);
      }
      expect((await get(base, '/', { Authorization: `Bearer ${token}` })).status).toBe(200);
      expect((await get(base, '/api/runs?token=nope-nope-nope')).status).toBe(401);
      const viaQuery = await get(base, `/runs/${d.runA}?token=${token}`);
      expect(viaQuery.status).toBe(303);
      expect(viaQuery.headers.location).toBe(`/runs/${d.runA}`);
      const cookie = String(viaQuery.headers['set-cookie']).split(';')[0]!;
      expect(cookie).toContain('nf_dashboard_token=');
      expect((await get(base, `/runs/${d.runA}`, { Cookie: cookie })).status).toBe(200);
      expect(
        (await get(base, `/runs/${d.runA}`, { Cookie: 'nf_dashboard_token=bad-bad-bad-bad' })).status,
      ).toBe(401);
    } finally {
      await t.close();
    }
  });

  it('rejects a foreign Host header on a loopback dashboard (DNS rebinding)', async () => {
    expect((await get(dash.url, '/', { Host: 'evil.example:4600' })).status).toBe(403);
    expect((await get(dash.url, '/', { Host: `localhost:${new URL(dash.url).port}` })).status).toBe(200);
  });

  it('sends a restrictive content security policy', async () => {
    const r = await get(dash.url, '/');
    expect(String(r.headers['content-security-policy'])).toContain("script-src 'self'");
    expect(r.headers['x-content-type-options']).toBe('nosniff');
  });
});

describe('path traversal', () => {
  it('classifies relative paths', () => {
    expect(isSafeRelativePath('runs/a/run-card.json')).toBe(true);
    for (const p of ['', '/etc/passwd', '../x', 'a/../../b', 'a/./b', 'a//b', 'a\\b', 'C:/x', 'a\0b']) {
      expect(isSafeRelativePath(p), p).toBe(false);
    }
  });

  it('serves a registered artifact and 404s every escape from the home folder', async () => {
    const card = `/files/${d.runA}/runs/${d.runA}/run-card.json`;
    expect((await get(dash.url, card)).status).toBe(200);
    const attempts = [
      `/files/${d.runA}/../../../../etc/passwd`,
      `/files/${d.runA}/runs/${d.runA}/../../../../../etc/passwd`,
      `/files/${d.runA}/%2e%2e/%2e%2e/%2e%2e/etc/passwd`,
      `/files/${d.runA}/runs/..%2F..%2F..%2F..%2Fetc%2Fpasswd`,
      `/files/${d.runA}/%2Fetc%2Fpasswd`,
      `/files/${d.runA}//etc/passwd`,
      `/files/${d.runA}/runs%5C..%5C..%5Cetc%5Cpasswd`,
      `/files/${d.runA}/runs/${d.runA}/run-card.json%00.png`,
      // Registered to another run: not this run's artifact.
      `/files/${d.runB}/runs/${d.runA}/run-card.json`,
      `/static/../../../etc/passwd`,
      `/static/%2e%2e/server/app.ts`,
      `/static/vendor/../../package.json`,
    ];
    for (const p of attempts) {
      const r = await get(dash.url, p);
      expect(r.status, p).toBe(404);
      expect(r.body, p).not.toContain('root:');
    }
  });

  it('404s a registered artifact that is a symlink out of the home folder', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'nf-outside-'));
    writeFileSync(join(outside, 'secret.txt'), 'top secret');
    const rel = `runs/${d.runA}/escape.txt`;
    symlinkSync(join(outside, 'secret.txt'), join(d.home, rel));
    await d.storage.db
      .insert(schema.artifacts)
      .values({ runId: d.runA, kind: 'report', path: rel, sha256: '0'.repeat(64), bytes: 10 });
    try {
      const r = await get(dash.url, `/files/${d.runA}/${rel}`);
      expect(r.status).toBe(404);
      expect(r.body).not.toContain('top secret');
    } finally {
      await d.storage.db
        .delete(schema.artifacts)
        .where(and(eq(schema.artifacts.runId, d.runA), eq(schema.artifacts.path, rel)));
      rmSync(join(d.home, rel), { force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('404s image and label routes for unsafe names and symlinks out of the data folder', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'nf-data-'));
    const outside = mkdtempSync(join(tmpdir(), 'nf-outside-'));
    mkdirSync(join(dataDir, 'images'));
    mkdirSync(join(dataDir, 'labels'));
    writeFileSync(join(outside, 'secret.png'), 'not for you');
    symlinkSync(join(outside, 'secret.png'), join(dataDir, 'labels', `${d.image}.png`));
    symlinkSync(join(outside, 'secret.png'), join(dataDir, 'images', `${d.image}.tif`));
    const t = await startDashboard({ db: d.storage.db, home: d.home, dataDir, host: '127.0.0.1', port: 0 });
    try {
      const base = `/data/${d.runA}/images/${d.image}`;
      for (const p of [`${base}/he.png`, `${base}/labels/gt.bin`])
        expect((await get(t.url, p)).status, p).toBe(404);
      for (const p of [
        `/data/${d.runA}/images/..%2F..%2F..%2Fetc%2Fpasswd/he.png`,
        `/data/${d.runA}/images/${d.image}/../../../../etc/passwd`,
        `/data/${d.runA}/images/%2Fetc%2Fpasswd/he.png`,
        `/data/${d.runA}/images/${d.image}/map/..%2F..%2Fprob.png`,
        `/data/${d.runA}/images/NOT-AN-IMAGE-OF-THIS-RUN/he.png`,
      ]) {
        expect((await get(t.url, p)).status, p).toBe(404);
      }
      // The real data folder serves the same routes.
      expect((await get(dash.url, `${base}/he.png`)).status).toBe(200);
      expect((await get(dash.url, `${base}/labels/gt.bin`)).status).toBe(200);
    } finally {
      await t.close();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe('layer writer', () => {
  it('stores maps where the viewer finds them, quantised to 16 bits', async () => {
    // A throwaway run (removed again, with its files) so a real tracking database stays as it was.
    const runId = 'run-layer-writer-test';
    const [base] = await d.storage.db.select().from(schema.runs).where(eq(schema.runs.id, d.runB));
    const [res] = await d.storage.db
      .select()
      .from(schema.imageResults)
      .where(and(eq(schema.imageResults.runId, d.runB), eq(schema.imageResults.method, 'two-stage')))
      .limit(1);
    const image = res!.image;
    await d.storage.db.insert(schema.runs).values({ ...base!, id: runId });
    await d.storage.db.insert(schema.imageResults).values({ ...res!, runId });
    try {
      const w = 64;
      const h = 32;
      const prob = new Float32Array(w * h);
      for (let i = 0; i < prob.length; i++) prob[i] = (i % w) / (w - 1);
      const markers = new Int32Array(w * h);
      markers[5 * w + 5] = 1;
      markers[20 * w + 40] = 2;
      for (const [layer, img] of [
        ['prob', { width: w, height: h, data: prob }],
        ['markers', { width: w, height: h, data: markers }],
      ] as const) {
        const path = await writeImageLayer(d.home, runId, image, layer, img);
        await d.storage.db
          .insert(schema.artifacts)
          .values({ runId: runId, kind: layer, path, sha256: 'x', bytes: 1 });
      }
      const back = await readGrey(join(d.home, imageArtifactPath(runId, image, 'prob')));
      expect(back.maxCode).toBe(65535);
      expect(back.data[w - 1]).toBe(65535);
      expect(back.data[0]).toBe(0);
      expect(back.data[w + 31]).toBe(Math.round((31 / 63) * 65535));
      for (const layer of ['prob', 'markers']) {
        const r = await fetch(`${dash.url}/data/${runId}/images/${image}/map/${layer}.png`);
        expect(r.status, layer).toBe(200);
        expect(r.headers.get('content-type')).toBe('image/png');
      }
      const viewer = await get(dash.url, `/runs/${runId}/images/${image}`);
      expect(viewer.body).toMatch(/id="map-prob"\s*>/);
      expect(viewer.body).toMatch(/id="map-distance"\s*disabled/);
    } finally {
      await d.storage.db.delete(schema.runs).where(eq(schema.runs.id, runId));
      rmSync(join(d.home, 'runs', runId), { recursive: true, force: true });
    }
  });
});

describe('queries are parameterised', () => {
  const hostile = ["' OR 1=1 --", "x'; DROP TABLE runs; --", '%', '_', "run-0001' OR '1'='1"];

  it('treats hostile filter values as plain values', async () => {
    const all = await listRunSummaries(d.storage.db);
    for (const v of hostile) {
      expect(await listRunSummaries(d.storage.db, { status: v })).toHaveLength(0);
      expect(await listRunSummaries(d.storage.db, { spec: v })).toHaveLength(0);
      expect(await listRunSummaries(d.storage.db, { experiment: v })).toHaveLength(0);
      // LIKE wildcards in a search are literal characters.
      expect(await listRunSummaries(d.storage.db, { q: v })).toHaveLength(0);
      const r = await get(dash.url, `/api/runs?status=${encodeURIComponent(v)}&q=${encodeURIComponent(v)}`);
      expect(JSON.parse(r.body)).toEqual([]);
      const cmp = await get(dash.url, `/compare?runs=${encodeURIComponent(`${d.runA},${v}`)}`);
      expect(cmp.status).toBe(200);
      expect(cmp.body).toContain('Unknown run(s)');
      expect((await get(dash.url, `/runs/${encodeURIComponent(v)}`)).status).toBe(404);
    }
    const [count] = await d.storage.db.select({ n: sql<number>`count(*)::int` }).from(schema.runs);
    expect(count!.n).toBe(all.length);
  });

  it('ignores sort keys that are not on the list', async () => {
    const r = await get(dash.url, '/api/runs?sort=id;drop%20table%20runs&dir=sideways');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).length).toBeGreaterThan(0);
  });
});

describe('delta formatting', () => {
  it('signs deltas in percentage points and shows a vanishing one as zero', () => {
    expect(deltaPct(0.05)).toBe('+5.00');
    expect(deltaPct(-0.0000001)).toBe('0.00');
  });
});

function withoutDatabase(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { DATABASE_URL: _, ...rest } = env;
  return rest;
}

describe('models page', () => {
  it("lists every version with its aliases, a link to its run and the run's two-stage scores", async () => {
    const versions = await listModelVersions(d.storage.db);
    // Real data needs versions too (as it needs two finished runs), or the loop below checks nothing.
    expect(versions.length).toBeGreaterThan(0);
    if (d.seeded) {
      expect(versions.map((v) => [v.name, v.version, v.aliases])).toEqual([
        ['quick', 1, ['default']],
        ['quick', 2, []],
      ]);
    }
    const r = await get(dash.url, '/models');
    expect(r.status).toBe(200);
    expect(r.body).toContain('<a href="/models" class="active">Models</a>');
    for (const v of versions) {
      const row = new RegExp(`<tr data-model="${v.name}" data-version="${v.version}">([\\s\\S]*?)</tr>`).exec(
        r.body,
      )?.[1];
      expect(row, `${v.name}@${v.version}`).toBeTruthy();
      expect(row).toContain(`<a href="/runs/${v.runId}" class="mono" data-cell="run">${v.runId}</a>`);
      for (const a of v.aliases) expect(row).toContain(`<span class="badge">${a}</span>`);
      const rows = await getImageResults(d.storage.db, [v.runId], 'two-stage');
      const aji = rows.reduce((s, x) => s + x.aji, 0) / rows.length;
      expect(row).toContain(`<td class="num" data-cell="aji-all">${(aji * 100).toFixed(2)}</td>`);
    }
  });
});

describe('slides page', () => {
  it("lists each slide segmentation's status, counts and summary, and an error when it failed", async () => {
    const base = { slide: '/data/a <b>.svs', model: 'quick@1', outDir: '/out' };
    await recordSlide(d.storage.db, { ...base, workflowId: 'wf-ok', status: 'running' });
    await recordSlide(d.storage.db, {
      ...base,
      workflowId: 'wf-ok',
      status: 'completed',
      identity: 'ab'.repeat(32),
      regions: 12,
      computed: 5,
      nuclei: 3182,
      tissueAreaMm2: 2.5,
      timings: { wallSeconds: 61 },
      summary: '/out/a.summary.json',
    });
    await recordSlide(d.storage.db, {
      ...base,
      workflowId: 'wf-bad',
      status: 'failed',
      error: '/data/x.svs: no pixel size',
    });
    const r = await get(dash.url, '/slides');
    expect(r.status).toBe(200);
    expect(r.body).toContain('<a href="/slides" class="active">Slides</a>');
    const row = (id: string) =>
      new RegExp(`<tr data-slide="${id}">([\\s\\S]*?)</tr>`).exec(r.body)?.[1] ?? '';
    const ok = row('wf-ok');
    expect(ok).toContain('status-completed');
    expect(ok).toContain('<td class="num" data-cell="regions">12</td>');
    expect(ok).toContain('<td class="num" data-cell="computed">5</td>');
    expect(ok).toContain('<td class="num" data-cell="nuclei">3182</td>');
    expect(ok).toContain('>1273<'); // nuclei per mm^2
    expect(ok).toContain('a &lt;b&gt;.svs');
    expect(ok).toContain('/out/a.summary.json');
    expect(row('wf-bad')).toContain('/data/x.svs: no pixel size');
  });
});

describe('CLI', () => {
  it('refuses to bind beyond loopback without a token, in one line', async () => {
    const home = mkdtempSync(join(tmpdir(), 'nf-cli-'));
    try {
      const run = promisify(execFile);
      const err = await run(process.execPath, [BIN, 'dashboard', '--host', '0.0.0.0', '--port', '0'], {
        env: { ...withoutDatabase(process.env), NUCLEIFLOW_HOME: home, NUCLEIFLOW_DASHBOARD_TOKEN: '' },
      }).catch((e: { code: number; stderr: string }) => e);
      expect((err as { code: number }).code).not.toBe(0);
      const stderr = (err as { stderr: string }).stderr.trim();
      expect(stderr.split('\n')).toHaveLength(1);
      expect(stderr).toMatch(/--token or set NUCLEIFLOW_DASHBOARD_TOKEN/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('run page Table 1', () => {
  const row = (image: string, subset: 'seen' | 'unseen', aji: number) => ({
    runId: 'r',
    method: 'two-stage',
    image,
    organ: 'Liver',
    subset,
    dice: 0.8,
    f1: 0.85,
    aji,
    ajiPlus: aji,
    pq: aji,
    nGt: 10,
    nPred: 10,
  });
  const rows = [row('a', 'seen', 0.6), row('b', 'unseen', 0.5)];

  it('puts the paper beside a run on the Kumar test split, and not beside a kumar-val run', () => {
    const test = String(table1('r', rows));
    expect(test).toContain('<td class="num paper">56.87</td>');
    expect(test).toContain('Paper: Mahbod');
    const val = String(table1('r', [row('a', 'seen', 0.6)], 'kumar-val'));
    expect(val).not.toContain('56.87');
    expect(val).toContain('on the kumar-val validation split');
    expect(val).toContain('numbers are for the Kumar test split and are not shown.');
  });

  it('says a run that trained on all 30 images is not scored, and one without results that it has none yet', () => {
    expect(String(scoresSection('r', [], 'all'))).toContain('Not scored: this run trained on all 30 images');
    expect(String(scoresSection('r', [], 'kumar'))).toContain('No per-image results yet.');
    expect(String(scoresSection('r', rows, 'kumar'))).toBe(String(table1('r', rows)));
  });
});
