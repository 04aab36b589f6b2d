/**
 * One comparison of runs (src/tracking/compare.ts): its averaging rule (over the images that all
 * compared runs scored), and `nucleiflow compare` and the dashboard printing the same numbers for
 * two runs whose image sets differ. The CLI and the dashboard read the same embedded database one
 * after the other (PGlite is single-process).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard } from '../dashboards/server/app.ts';
import { deltaPct } from '../dashboards/server/format.ts';
import { loadConfig } from '../src/config.ts';
import { openStorage, schema } from '../src/storage/index.ts';
import { type Comparison, compareResults } from '../src/tracking/compare.ts';
import { seedDashboard, testImages } from '../testing/dashboard-seed.ts';
import { BIN } from './helpers/cli.ts';

const row = (runId: string, image: string, subset: string, aji: number) => ({
  runId,
  image,
  organ: 'Breast',
  subset,
  aji,
  dice: aji / 2,
  f1: 0,
  ajiPlus: 0,
  pq: 0,
  nGt: 1,
  nPred: 1,
});

describe('compare rule', () => {
  it('averages over the images every run scored and counts the images it leaves out', () => {
    const c = compareResults(
      ['a', 'b'],
      [
        row('a', 'i1', 'seen', 0.5),
        row('b', 'i1', 'seen', 0.55),
        row('a', 'i2', 'unseen', 0.6),
        row('b', 'i2', 'unseen', 0.58),
        row('a', 'i3', 'unseen', 0.7),
        row('b', 'i4', 'seen', 0.9),
        row('x', 'i1', 'seen', 0.1),
      ],
    );
    expect(c.rows.map((r) => [r.image, r.inAll])).toEqual([
      ['i1', true],
      ['i4', false],
      ['i2', true],
      ['i3', false],
    ]);
    expect(c.rows[0]!.deltas[1]!.aji).toBeCloseTo(0.05, 12);
    expect(c.rows[0]!.deltas[0]).toBeNull();
    expect(c.rows[1]!.scores[0]).toBeNull();
    expect(c.rows[3]!.deltas[1]).toBeNull();
    const avg = Object.fromEntries(c.averages.map((a) => [a.subset, a]));
    // i3 (only a) and i4 (only b) are in no average.
    expect(avg.unseen!.nImages).toBe(1);
    expect(avg.unseen!.means[0]!.aji).toBeCloseTo(0.6, 12);
    expect(avg.unseen!.deltas[1]!.aji).toBeCloseTo(-0.02, 12);
    expect(avg.seen!.means[1]!.aji).toBeCloseTo(0.55, 12);
    expect(avg.all!.nImages).toBe(2);
    expect(avg.all!.means[0]!.aji).toBeCloseTo(0.55, 12);
    expect(avg.all!.deltas[1]!.aji).toBeCloseTo(0.015, 12);
    expect(avg.all!.deltas[1]!.dice).toBeCloseTo(0.0075, 12);
    expect(c.dropped).toEqual([1, 1]);
    expect(c.droppedImages).toEqual(['i4', 'i3']);
  });

  it('has no average for a subset that no image of every run is in', () => {
    const c = compareResults(['a', 'b'], [row('a', 'i1', 'seen', 0.5), row('b', 'i2', 'unseen', 0.6)]);
    for (const a of c.averages) {
      expect(a.nImages).toBe(0);
      expect(a.means).toEqual([null, null]);
    }
  });
});

describe('CLI and dashboard print the same comparison', () => {
  let home: string;
  let dash: Dashboard | undefined;
  let close: (() => Promise<void>) | undefined;
  const A = 'run-0001';
  const B = 'run-0002';
  let cliJson: Comparison & { differences: unknown[] };
  let cliText: string;
  let cliRuns: { id: string; means: { aji: number } | null }[];
  let ownImagesDelta: number;

  const cli = (args: string[]) => {
    const { DATABASE_URL: _, ...env } = process.env;
    const r = spawnSync(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      env: { ...env, NUCLEIFLOW_HOME: home },
    });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'nf-compare-'));
    const dataDir = loadConfig().dataDir;
    let storage = await openStorage({ home });
    // Runs 1 and 2 are the two finished arms of the first experiment.
    await seedDashboard(storage.db, home, dataDir, { runs: 5 });
    const images = testImages(dataDir);
    const seen = images.find((i) => i.subset === 'seen')!.image;
    const unseen = images.find((i) => i.subset === 'unseen')!.image;
    const ir = schema.imageResults;
    // B did not score one seen and one unseen image, which A scored far above its other images:
    // averaging each run over its own images would give a very different delta.
    await storage.db.delete(ir).where(and(eq(ir.runId, B), inArray(ir.image, [seen, unseen])));
    await storage.db
      .update(ir)
      .set({ aji: 0.99 })
      .where(and(eq(ir.runId, A), inArray(ir.image, [seen, unseen])));
    const rows = await storage.db
      .select()
      .from(ir)
      .where(inArray(ir.runId, [A, B]));
    const own = (id: string) => {
      const xs = rows.filter((r) => r.runId === id);
      return xs.reduce((s, r) => s + r.aji, 0) / xs.length;
    };
    ownImagesDelta = own(B) - own(A);
    await storage.close();

    cliJson = JSON.parse(cli(['compare', A, B, '--json']));
    cliText = cli(['compare', A, B, '--metrics', 'aji']);
    cliRuns = JSON.parse(cli(['runs', '--json']));

    storage = await openStorage({ home });
    close = () => storage.close();
    dash = await startDashboard({ db: storage.db, home, dataDir, host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await dash?.close();
    await close?.();
    rmSync(home, { recursive: true, force: true });
  });

  it('gives the same averages, deltas and dropped images as JSON', async () => {
    const res = await fetch(`${dash!.url}/api/compare?runs=${A},${B}`);
    expect(res.status).toBe(200);
    const web = (await res.json()) as Comparison;
    const { differences: _, ...fromCli } = cliJson;
    expect(web).toEqual(fromCli);
    expect(web.dropped).toEqual([2, 0]);
    expect(web.droppedImages).toHaveLength(2);
    const all = web.averages.find((a) => a.subset === 'all')!;
    expect(all.nImages).toBe(12);
    // The data tells the two old rules apart: over each run's own images the delta is far off.
    expect(Math.abs(all.deltas[1]!.aji - ownImagesDelta)).toBeGreaterThan(0.01);
    // The experiment view compares the same two runs in the same order.
    const exp = (await (await fetch(`${dash!.url}/api/compare?experiment=exp-0001`)).json()) as Comparison;
    expect(exp).toEqual(web);
  });

  it('prints the same average deltas on the compare page and in the CLI table', async () => {
    const page = await (await fetch(`${dash!.url}/compare?runs=${A},${B}`)).text();
    for (const a of cliJson.averages) {
      const d = deltaPct(a.deltas[1]!.aji);
      const cell = new RegExp(`data-cell="avg-${a.subset}-delta-1"[^>]*>([^<]*)<`).exec(page);
      expect(cell?.[1], a.subset).toBe(d);
      const label = { seen: 'Average, seen organs', unseen: 'Average, unseen organs', all: 'Average, all' }[
        a.subset
      ];
      const line = cliText.split('\n').find((l) => l.startsWith(`${label} (${a.nImages})`));
      expect(line, a.subset).toBeDefined();
      expect(line!.trim().split(/\s+/).at(-1)).toBe(
        `${a.deltas[1]!.aji >= 0 ? '+' : ''}${(100 * a.deltas[1]!.aji).toFixed(2)}`,
      );
    }
    expect(cliText).toMatch(/left out: .* \(A 2, B 0 images\)/);
    expect(page).toContain('id="compare-dropped"');
  });

  it('lists the same per-run means in nucleiflow runs and the dashboard', async () => {
    const web = (await (await fetch(`${dash!.url}/api/runs`)).json()) as {
      id: string;
      ajiAll: number | null;
    }[];
    expect(cliRuns.map((r) => r.id).sort()).toEqual(web.map((r) => r.id).sort());
    for (const r of cliRuns) expect(r.means?.aji ?? null, r.id).toBe(web.find((w) => w.id === r.id)!.ajiAll);
  });
});
