/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core. Each page
 * renders, the runs list updates live, the compare table shows the deltas computed from the
 * database rows, the viewer toggles its layers. Screenshots go to artifacts/screenshots/.
 * Data: a seeded PGlite database, or a real one with NUCLEIFLOW_DASHBOARD_REAL=1 (helpers/dashboard-data.ts).
 * Every assertion holds unconditionally for the seeded data: runs A and B are finished, carry
 * Temporal and MLflow ids, have results for the same 14 Kumar test images (8 seen, 6 unseen) and A
 * has all four image layers. Real runs must have all of that too, or the test says which is missing.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { and, eq } from 'drizzle-orm';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard } from '../dashboards/server/app.ts';
import { deltaPct, pct } from '../dashboards/server/format.ts';
import { REPO_ROOT } from '../src/config.ts';
import { PAPER_AJI } from '../src/metrics/paper.ts';
import { schema } from '../src/storage/index.ts';
import { listModelVersions } from '../src/tracking/queries.ts';
import { CHROMIUM, launchChromium } from '../testing/chromium.ts';
import { type DashboardData, dashboardData } from './helpers/dashboard-data.ts';
import { showViewerMap } from './helpers/viewer.ts';

const SHOTS = resolve(REPO_ROOT, 'artifacts', 'screenshots');

let d: DashboardData;
let dash: Dashboard;
let browser: BrowserContext;
let page: Page;
let profile: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium`);
  mkdirSync(SHOTS, { recursive: true });
  d = await dashboardData({ runs: 8 });
  dash = await startDashboard({
    db: d.storage.db,
    home: d.home,
    dataDir: d.dataDir,
    host: '127.0.0.1',
    port: 0,
    pollMs: 250,
    temporalUiUrl: 'http://127.0.0.1:8233',
    mlflowUri: 'http://127.0.0.1:5000',
  });
  profile = mkdtempSync(join(tmpdir(), 'nf-chromium-'));
  browser = await launchChromium(profile);
  page = browser.pages()[0] ?? (await browser.newPage());
  page.on('pageerror', (e) => {
    throw e;
  });
});

afterAll(async () => {
  await browser?.close();
  await dash?.close();
  await d?.cleanup();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function runsInDb() {
  return d.storage.db.select({ id: schema.runs.id, status: schema.runs.status }).from(schema.runs);
}

async function resultsOf(runId: string) {
  // The run's result: the two-stage rows (a real database also holds stage-1-alone rows).
  const ir = schema.imageResults;
  return d.storage.db
    .select()
    .from(ir)
    .where(and(eq(ir.runId, runId), eq(ir.method, 'two-stage')));
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

describe('runs list', () => {
  it('renders every run with status and metrics, sorts and filters', async () => {
    await page.goto(`${dash.url}/`);
    const rows = await runsInDb();
    await expect.poll(() => page.locator('#runs-body tr[data-run]').count()).toBe(rows.length);
    await page.locator('#live.on').waitFor();
    const nExp = (await d.storage.db.select({ id: schema.experiments.id }).from(schema.experiments)).length;
    expect(await page.locator('details.experiments tr[data-experiment]').count()).toBe(Math.min(nExp, 30));
    const a = await resultsOf(d.runA);
    const rowA = page.locator(`tr[data-run="${d.runA}"]`);
    await expect
      .poll(() => rowA.locator('td.num').first().textContent())
      .toBe(pct(mean(a.map((r) => r.aji))));

    await page.click('th a[data-sort="aji"]');
    await page.waitForURL(/sort=aji/);
    const withResults = new Set(
      (await d.storage.db.select({ runId: schema.imageResults.runId }).from(schema.imageResults)).map(
        (r) => r.runId,
      ),
    );
    const shown = await page
      .locator('#runs-body tr[data-run]')
      .evaluateAll((trs) =>
        trs.map((tr) => Number((tr.querySelectorAll('td.num')[0] as HTMLElement).textContent)),
      );
    const numbers = shown.filter((x) => !Number.isNaN(x));
    // Runs without results (running, failed) show no AJI; every other run shows one, best first.
    expect(numbers).toHaveLength(withResults.size);
    expect(numbers).toEqual([...numbers].sort((x, y) => y - x));

    await page.selectOption('select[name="status"]', 'running');
    const running = rows.filter((r) => r.status === 'running').length;
    expect(running).toBeGreaterThan(0);
    expect(running).toBeLessThan(rows.length);
    await expect.poll(() => page.locator('#runs-body tr[data-run]').count()).toBe(running);
    await page.selectOption('select[name="status"]', '');
    await expect.poll(() => page.locator('#runs-body tr[data-run]').count()).toBe(rows.length);
    await page.screenshot({ path: join(SHOTS, 'runs.png'), fullPage: true });
  });

  it('updates live when a run changes status and when a run appears', async () => {
    await page.goto(`${dash.url}/`);
    await page.locator('#live.on').waitFor();
    const { runs, experiments } = schema;
    const [exp] = await d.storage.db.select().from(experiments).limit(1);
    const id = 'run-live-test';
    await d.storage.db.insert(runs).values({
      id,
      experimentId: exp!.id,
      status: 'running',
      spec: {},
      configHash: 'live',
      seed: 1,
      startedAt: new Date(),
    });
    try {
      const row = page.locator(`tr[data-run="${id}"]`);
      await row.waitFor({ timeout: 10_000 });
      expect(await row.getAttribute('data-status')).toBe('running');
      await d.storage.db
        .update(runs)
        .set({ status: 'failed', finishedAt: new Date() })
        .where(eq(runs.id, id));
      await expect.poll(() => row.getAttribute('data-status'), { timeout: 10_000 }).toBe('failed');
    } finally {
      await d.storage.db.delete(runs).where(eq(runs.id, id));
    }
    await expect.poll(() => page.locator(`tr[data-run="${id}"]`).count(), { timeout: 10_000 }).toBe(0);
  });
});

describe('run page', () => {
  it('shows lineage with links, both training curves, Table 1 next to the paper, downloads', async () => {
    await page.goto(`${dash.url}/runs/${d.runA}`);
    await page.locator('[data-chart="chart-seg"][data-drawn] canvas').first().waitFor();
    await page.locator('[data-chart="chart-dist"][data-drawn] canvas').first().waitFor();
    const [run] = await d.storage.db.select().from(schema.runs).where(eq(schema.runs.id, d.runA));
    expect(run!.workflowId, 'run A has a Temporal workflow id').toBeTruthy();
    expect(await page.locator('#temporal-link').getAttribute('href')).toBe(
      `http://127.0.0.1:8233/namespaces/default/workflows/${run!.workflowId}`,
    );
    expect(run!.mlflowRunId, 'run A has an MLflow run id').toBeTruthy();
    expect(await page.locator('#mlflow-link').getAttribute('href')).toContain(run!.mlflowRunId);
    const results = await resultsOf(d.runA);
    const seen = results.filter((r) => r.subset === 'seen');
    const unseen = results.filter((r) => r.subset === 'unseen');
    expect([seen.length, unseen.length]).toEqual([8, 6]);
    expect(await page.locator('#table1 tbody tr[data-image]').count()).toBe(results.length);
    expect(await page.locator('[data-cell="aji-all"]').textContent()).toBe(
      pct(mean(results.map((r) => r.aji))),
    );
    expect(await page.locator('[data-cell="aji-seen"]').textContent()).toBe(
      pct(mean(seen.map((r) => r.aji))),
    );
    expect(await page.locator('[data-cell="aji-unseen"]').textContent()).toBe(
      pct(mean(unseen.map((r) => r.aji))),
    );
    const table = await page.locator('#table1').textContent();
    for (const v of [PAPER_AJI.all, PAPER_AJI.seen, PAPER_AJI.unseen]) expect(table).toContain(pct(v));
    const csv = await page.request.get(`${dash.url}/runs/${d.runA}/results.csv`);
    expect(csv.status()).toBe(200);
    expect((await csv.text()).trim().split('\n')).toHaveLength(results.length + 1);
    await page.screenshot({ path: join(SHOTS, 'run.png'), fullPage: true });
  });
});

describe('run page while training', () => {
  it('redraws the curves as epochs arrive', async () => {
    const { runs, experiments, metrics } = schema;
    const [exp] = await d.storage.db.select().from(experiments).limit(1);
    const id = 'run-live-curves';
    await d.storage.db.insert(runs).values({
      id,
      experimentId: exp!.id,
      status: 'running',
      spec: {},
      configHash: 'live',
      seed: 1,
      startedAt: new Date(),
    });
    const epoch = (step: number) =>
      ['loss', 'val_loss', 'lr'].map((key) => ({
        runId: id,
        stage: 'seg',
        key,
        step,
        value: 1 / (step + 1),
      }));
    try {
      await d.storage.db.insert(metrics).values([...epoch(1), ...epoch(2)]);
      await page.goto(`${dash.url}/runs/${id}`);
      const fig = page.locator('[data-chart="chart-seg"]');
      await expect.poll(() => fig.getAttribute('data-points')).toBe('6');
      await d.storage.db.insert(metrics).values(epoch(3));
      await expect.poll(() => fig.getAttribute('data-points'), { timeout: 15_000 }).toBe('9');
    } finally {
      await d.storage.db.delete(runs).where(eq(runs.id, id));
    }
  });
});

describe('models page', () => {
  it('is one click from the nav and links each version to the run it came from', async () => {
    await page.goto(`${dash.url}/`);
    await page.locator('header nav a', { hasText: 'Models' }).click();
    await page.locator('#models-table').waitFor();
    const [v] = await listModelVersions(d.storage.db);
    expect(v, 'a registered model version').toBeTruthy();
    const row = page.locator(`tr[data-model="${v!.name}"][data-version="${v!.version}"]`);
    expect(await row.locator('[data-cell="aliases"]').textContent()).toContain(v!.aliases[0] ?? '—');
    await row.locator('[data-cell="run"]').click();
    await page.waitForURL(`${dash.url}/runs/${v!.runId}`);
    await page.screenshot({ path: join(SHOTS, 'models.png'), fullPage: true });
  });
});

describe('compare page', () => {
  it('shows per-image deltas and subset averages computed from the rows, coloured by sign', async () => {
    await page.goto(`${dash.url}/compare?runs=${d.runA},${d.runB}`);
    await page.locator('[data-chart="compare-seg"][data-drawn] canvas').first().waitFor();
    const a = new Map((await resultsOf(d.runA)).map((r) => [r.image, r]));
    const b = new Map((await resultsOf(d.runB)).map((r) => [r.image, r]));
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    expect(a.size).toBe(14);
    const signs = { better: 0, worse: 0 };
    for (const [image, ra] of a) {
      const cell = page.locator(`[data-cell="img-${image}-delta-1"]`);
      const delta = b.get(image)!.aji - ra.aji;
      expect(await cell.textContent(), image).toBe(deltaPct(delta));
      const bg = await cell.evaluate((el) => getComputedStyle(el).backgroundColor);
      // deltaColour: green when B is better, red when worse, alpha 0.1 + 0.55 * min(1, |delta| / 0.05).
      const alpha = Number((Math.min(1, Math.abs(delta) / 0.05) * 0.55 + 0.1).toFixed(2));
      expect(bg, image).toBe(delta > 0 ? `rgba(22, 163, 74, ${alpha})` : `rgba(220, 38, 38, ${alpha})`);
      signs[delta > 0 ? 'better' : 'worse']++;
    }
    // The two arms differ both ways on some images, so both colours are checked.
    expect(signs.better).toBeGreaterThan(0);
    expect(signs.worse).toBeGreaterThan(0);
    for (const subset of ['seen', 'unseen', 'all'] as const) {
      const pick = (m: Map<string, { subset: string; aji: number }>) =>
        [...m.values()].filter((r) => subset === 'all' || r.subset === subset).map((r) => r.aji);
      const delta = mean(pick(b)) - mean(pick(a));
      expect(await page.locator(`[data-cell="avg-${subset}-delta-1"]`).textContent(), subset).toBe(
        deltaPct(delta),
      );
    }
    await page.screenshot({ path: join(SHOTS, 'compare.png'), fullPage: true });
  });
});

describe('image viewer', () => {
  /** Counts canvas pixels near a layer's colour (smoothing blends edges, so a tolerance). */
  const countColour = (p: Page, rgb: [number, number, number]) =>
    p.evaluate((c) => {
      const cv = document.getElementById('canvas') as HTMLCanvasElement;
      const px = (cv.getContext('2d') as CanvasRenderingContext2D).getImageData(
        0,
        0,
        cv.width,
        cv.height,
      ).data;
      let n = 0;
      for (let i = 0; i < px.length; i += 4) {
        if (
          Math.abs(px[i]! - c[0]) < 40 &&
          Math.abs(px[i + 1]! - c[1]) < 40 &&
          Math.abs(px[i + 2]! - c[2]) < 40
        )
          n++;
      }
      return n;
    }, rgb);
  const PRED: [number, number, number] = [0, 229, 255];
  const GT: [number, number, number] = [57, 255, 20];

  it('shows H&E with toggleable contours and maps, zooms, and reports the nucleus under the cursor', async () => {
    await page.goto(`${dash.url}/runs/${d.runA}/images/${d.image}`);
    await page.locator('#stage[data-ready="true"]').waitFor({ timeout: 30_000 });
    expect(await page.locator('#stage').getAttribute('data-layers')).toBe('he,pred,gt');
    await page.screenshot({ path: join(SHOTS, 'viewer.png') });
    const predOn = await countColour(page, PRED);
    expect(predOn).toBeGreaterThan(1000);
    await page.uncheck('#layer-pred');
    expect(await page.locator('#stage').getAttribute('data-layers')).toBe('he,gt');
    expect(await countColour(page, PRED)).toBeLessThan(predOn / 20);
    // Predicted contours are drawn over the GT ones: count GT with the prediction hidden.
    const gtOn = await countColour(page, GT);
    expect(gtOn).toBeGreaterThan(1000);
    await page.uncheck('#layer-gt');
    expect(await page.locator('#stage').getAttribute('data-layers')).toBe('he');
    expect(await countColour(page, GT)).toBeLessThan(gtOn / 20);
    await page.uncheck('#layer-he');
    expect(await page.locator('#stage').getAttribute('data-layers')).toBe('');
    await page.check('#layer-he');
    await page.check('#layer-pred');
    await page.check('#layer-gt');

    for (const map of ['prob', 'distance', 'markers']) {
      expect(await page.locator(`#map-${map}`).isDisabled(), `#map-${map} is enabled`).toBe(false);
      await showViewerMap(page, map);
      await page.screenshot({ path: join(SHOTS, `viewer-${map}.png`) });
    }
    await page.check('#map-none');

    // Hover the centroid of a predicted nucleus: the panel names it and its IoU with the best GT.
    const table = await (
      await page.request.get(`${dash.url}/data/${d.runA}/images/${d.image}/nuclei.json`)
    ).json();
    const k = table.id.findIndex((_: number, i: number) => table.gt[i] > 0 && table.area[i] > 150);
    expect(k, 'a predicted nucleus over 150 px that matches a GT one').toBeGreaterThanOrEqual(0);
    const view = await page.evaluate(() => {
      const r = (document.getElementById('stage') as HTMLElement).getBoundingClientRect();
      return { left: r.left, top: r.top, width: r.width, height: r.height };
    });
    await page.click('#zoom-fit');
    // With the image fitted, map image pixel -> screen from the canvas geometry.
    const scale = Math.min(view.width / 1000, view.height / 1000);
    const ox = (view.width - 1000 * scale) / 2;
    const oy = (view.height - 1000 * scale) / 2;
    await page.mouse.move(
      view.left + ox + (table.cx[k] + 0.5) * scale,
      view.top + oy + (table.cy[k] + 0.5) * scale,
    );
    await expect
      .poll(() => page.locator('#hover').textContent())
      .toContain(`predicted nucleus #${table.id[k]}`);
    expect(await page.locator('#hover').textContent()).toContain(`IoU ${table.iou[k].toFixed(3)}`);

    await page.click('#zoom-in');
    await page.click('#zoom-in');
    await page.screenshot({ path: join(SHOTS, 'viewer-zoom.png') });
  });
});
