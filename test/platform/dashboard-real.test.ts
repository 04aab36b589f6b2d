// The dashboard in a real browser over a database filled by a real `quick` ablation (two arms,
// through Temporal): the runs list shows both runs, the compare page's deltas are the database's,
// and the viewer shows the maps the inference activity wrote as switchable layers.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard } from '../../dashboards/server/app.ts';
import { deltaPct } from '../../dashboards/server/format.ts';
import { loadConfig, REPO_ROOT } from '../../src/config.ts';
import * as tracking from '../../src/tracking/index.ts';
import { launchChromium } from '../../testing/chromium.ts';
import { type Cli, platformCli, runErosionAblation } from '../helpers/platform.ts';
import { showViewerMap } from '../helpers/viewer.ts';

const SHOTS = resolve(REPO_ROOT, 'artifacts', 'screenshots');

describe('dashboard over a real quick ablation', { timeout: 900_000 }, () => {
  let cli: Cli;
  let dash: Dashboard;
  let browser: BrowserContext;
  let page: Page;
  const profile = mkdtempSync(join(tmpdir(), 'nf-chromium-real-'));

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    cli = await platformCli();
    await cli.startWorker();
    dash = await startDashboard({
      db: cli.storage.db,
      home: cli.home,
      dataDir: loadConfig().dataDir,
      host: '127.0.0.1',
      port: 0,
      pollMs: 250,
    });
    browser = await launchChromium(profile);
    page = browser.pages()[0] ?? (await browser.newPage());
  });

  afterAll(async () => {
    await browser?.close();
    await dash?.close();
    await cli?.cleanup();
    rmSync(profile, { recursive: true, force: true });
  });

  it('lists both arms, compares them with the database deltas, and shows the real intermediate maps', async () => {
    const { runs } = await runErosionAblation(cli, 2);
    expect(runs.map((x) => x.status)).toEqual(['completed', 'completed']);
    const [a, b] = [runs[0]!.id, runs[1]!.id];

    await page.goto(`${dash.url}/`);
    await expect.poll(() => page.locator('#runs-body tr[data-run]').count()).toBe(2);
    await page.screenshot({ path: join(SHOTS, 'real-ablation-runs.png'), fullPage: true });

    await page.goto(`${dash.url}/compare?runs=${a},${b}`);
    const ra = await tracking.getImageResults(cli.storage.db, a);
    const rb = await tracking.getImageResults(cli.storage.db, b);
    expect(ra).toHaveLength(2);
    for (const x of ra) {
      const y = rb.find((z) => z.image === x.image)!;
      expect(await page.locator(`[data-cell="img-${x.image}-delta-1"]`).textContent(), x.image).toBe(
        deltaPct(y.aji - x.aji),
      );
    }
    await page.screenshot({ path: join(SHOTS, 'real-ablation-compare.png'), fullPage: true });

    const image = ra[0]!.image;
    await page.goto(`${dash.url}/runs/${a}/images/${image}`);
    await page.locator('#stage[data-ready="true"]').waitFor({ timeout: 60_000 });
    for (const map of ['prob', 'distance', 'markers']) {
      expect(await page.locator(`#map-${map}`).isDisabled(), map).toBe(false);
      await showViewerMap(page, map);
      await page.screenshot({ path: join(SHOTS, `real-viewer-${map}.png`) });
    }
  });
});
