/**
 * Dashboard page loads with 200 runs in the database (goal: every page under 1 s). A fresh
 * PGlite database is seeded through the storage module (testing/dashboard-seed.ts), the
 * server runs in this process, and each page is timed two ways: the HTTP response (server
 * render + transfer, median of 7 after one warm-up) and, when Chromium is installed, a real
 * browser load until the page is usable (charts drawn, viewer ready).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDashboard } from '../dashboards/server/app.ts';
import { loadConfig } from '../src/config.ts';
import { openStorage } from '../src/storage/index.ts';
import { CHROMIUM, launchChromium } from '../testing/chromium.ts';
import { seedDashboard, testImages } from '../testing/dashboard-seed.ts';
import type { BenchRow } from './harness.ts';

const RUNS = 200;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median of `reps` fetches after one warm-up; `cold` is the warm-up (first conversion, empty caches). */
async function timeHttp(url: string, reps = 7): Promise<{ cold: number; warm: number }> {
  const t0 = performance.now();
  await (await fetch(url)).arrayBuffer();
  const cold = performance.now() - t0;
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    const r = await fetch(url);
    await r.arrayBuffer();
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    times.push(performance.now() - t);
  }
  return { cold, warm: median(times) };
}

export async function run(): Promise<BenchRow[]> {
  const config = loadConfig();
  const home = mkdtempSync(join(tmpdir(), 'nf-dash-bench-'));
  const storage = await openStorage({ home });
  const rows: BenchRow[] = [];
  try {
    const image = testImages(config.dataDir)[0]!.image;
    let t = performance.now();
    const seeded = await seedDashboard(storage.db, home, config.dataDir, {
      runs: RUNS,
      epochs: 60,
      withLayers: [0, 1],
      layerImage: image,
    });
    const seedMs = performance.now() - t;
    const dash = await startDashboard({
      db: storage.db,
      home,
      dataDir: config.dataDir,
      host: '127.0.0.1',
      port: 0,
    });
    const a = seeded[0]!;
    const b = seeded[1]!;
    const pages: [string, string, string?][] = [
      ['runs list (200 runs)', '/'],
      ['runs list sorted by AJI', '/?sort=aji&dir=desc'],
      ['runs list filtered (search)', '/?q=erosion&status=completed'],
      ['run page', `/runs/${a.id}`],
      ['compare 2 runs', `/compare?runs=${a.id},${b.id}`],
      ['compare experiment arms', `/compare?experiment=${a.experimentId}`],
      ['image viewer page', `/runs/${a.id}/images/${image}`],
      ['viewer data: H&E PNG', `/data/${a.id}/images/${image}/he.png`],
      ['viewer data: predicted labels', `/data/${a.id}/images/${image}/labels/pred.bin`],
      ['viewer data: per-nucleus table', `/data/${a.id}/images/${image}/nuclei.json`],
    ];
    try {
      for (const [name, path] of pages) {
        const { cold, warm } = await timeHttp(dash.url + path);
        rows.push({
          name: `dashboard http: ${name}`,
          oursMs: warm,
          note: `${RUNS} runs in PGlite; median of 7; first request ${cold.toFixed(0)} ms`,
        });
      }
      if (existsSync(CHROMIUM)) {
        const profile = mkdtempSync(join(tmpdir(), 'nf-chromium-'));
        const ctx = await launchChromium(profile);
        try {
          const page = ctx.pages()[0] ?? (await ctx.newPage());
          const browserPages: [string, string, string][] = [
            ['runs list (200 runs)', '/', '#runs-body tr[data-run]'],
            ['run page (curves drawn)', `/runs/${a.id}`, '[data-chart="chart-seg"][data-drawn]'],
            [
              'compare (curves drawn)',
              `/compare?runs=${a.id},${b.id}`,
              '[data-chart="compare-seg"][data-drawn]',
            ],
            [
              'image viewer (image, labels, contours ready)',
              `/runs/${a.id}/images/${image}`,
              '#stage[data-ready="true"]',
            ],
          ];
          for (const [name, path, ready] of browserPages) {
            const times: number[] = [];
            for (let i = 0; i < 4; i++) {
              t = performance.now();
              await page.goto(dash.url + path);
              await page.locator(ready).first().waitFor({ timeout: 30_000 });
              if (i > 0) times.push(performance.now() - t);
            }
            rows.push({
              name: `dashboard browser: ${name}`,
              oursMs: median(times),
              note: 'Chromium headless, navigation until usable, median of 3 after warm-up',
            });
          }
        } finally {
          await ctx.close();
          rmSync(profile, { recursive: true, force: true });
        }
      }
    } finally {
      await dash.close();
    }
    rows.push({
      name: `dashboard: seed ${RUNS} runs (setup, not a page)`,
      oursMs: seedMs,
      peakRssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
    });
    return rows;
  } finally {
    await storage.close();
    rmSync(home, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run())
    console.log(`${r.name.padEnd(70)} ${r.oursMs.toFixed(1).padStart(9)} ms  ${r.note ?? ''}`);
}
