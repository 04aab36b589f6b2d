/**
 * One comparison of runs (src/tracking/compare.ts): its averaging rule (over the images that all
 * compared runs scored), and `nucleiflow compare` and the dashboard printing the same numbers for
 * two runs whose image sets differ. The CLI and the dashboard read the same embedded database one
 * after the other (PGlite is single-process).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard } from '../dashboards/server/app.ts';
import { deltaPct } from '../dashboards/server/format.ts';
import { loadConfig } from '../src/config.ts';
import { openStorage, schema } from '../src/storage/index.ts';
import {
  type Comparison,
  compareResults,
  compareRuns,
  meanSdText,
  type RunsComparison,
} from '../src/tracking/compare.ts';
import { addRunningSeed, seedAblation, seedDashboard, testImages } from '../testing/dashboard-seed.ts';
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

describe('arms over seeds', () => {
  const r = (runId: string, image: string, subset: string, aji: number, method?: string) => ({
    ...row(runId, image, subset, aji),
    ...(method ? { method } : {}),
  });
  const runs = [
    { id: 'a1', arm: { erosion: true, seed: 1 }, seed: 1 },
    { id: 'b1', arm: { erosion: false, seed: 1 }, seed: 1 },
    { id: 'a2', arm: { seed: 2, erosion: true }, seed: 2 },
    { id: 'b2', arm: { erosion: false, seed: 2 }, seed: 2 },
  ];
  // Per-run AJI on images i1, i2, i3 (all seen); arm values are per-image means over seeds.
  const aji: Record<string, number[]> = {
    a1: [0.5, 0.6, 0.7],
    a2: [0.52, 0.62, 0.72],
    b1: [0.55, 0.6, 0.8],
    b2: [0.57, 0.66, 0.8],
  };
  const results = Object.entries(aji).flatMap(([id, xs]) =>
    xs.map((v, i) => r(id, `i${i + 1}`, 'seen', v, 'two-stage')),
  );

  it('groups runs that differ only in seed into one arm: mean ± sample sd of the per-run means', () => {
    const c = compareRuns(runs, [...results, r('a1', 'i1', 'seen', 0.01, 'stage1')]);
    expect(c.arms.arms.map((a) => [a.label, a.runIds, a.seeds])).toEqual([
      ['erosion=true', ['a1', 'a2'], [1, 2]],
      ['erosion=false', ['b1', 'b2'], [1, 2]],
    ]);
    const seenA = c.arms.arms[0]!.stats.find((s) => s.subset === 'seen')!;
    // Per-run means 0.6 and 0.62: mean 0.61, sd 0.02 / sqrt(2). The stage-1 row is not mixed in.
    expect(seenA.mean!.aji).toBeCloseTo(0.61, 12);
    expect(seenA.sd!.aji).toBeCloseTo(0.02 / Math.SQRT2, 12);
    expect(meanSdText(seenA.mean!.aji, seenA.sd!.aji)).toBe('61.00 ± 1.41');
    expect(c.arms.arms[0]!.stats.find((s) => s.subset === 'unseen')!.mean).toBeNull();
  });

  it('gives paired per-image differences against the first arm with a paired t interval', () => {
    const c = compareRuns(runs, results);
    const d = c.arms.differences.find((x) => x.subset === 'all')!;
    // Arm values per image: A 0.51, 0.61, 0.71; B 0.56, 0.63, 0.80. Differences 0.05, 0.02, 0.09:
    // mean 0.05333, sd 0.035119, se 0.020276, t(0.975, 2) = 4.302653 -> ± 0.087241.
    expect(d.arm).toBe(1);
    expect(d.nImages).toBe(3);
    expect(d.scores!.aji.mean).toBeCloseTo(0.16 / 3, 12);
    expect(d.scores!.aji.low!).toBeCloseTo(0.16 / 3 - 0.087241, 5);
    expect(d.scores!.aji.high!).toBeCloseTo(0.16 / 3 + 0.087241, 5);
  });

  it('compares one method at a time', () => {
    const stage1 = compareResults(
      ['a1'],
      [r('a1', 'i1', 'seen', 0.3, 'stage1'), r('a1', 'i1', 'seen', 0.5)],
      'stage1',
    );
    expect(stage1.rows).toHaveLength(1);
    expect(stage1.rows[0]!.scores[0]!.aji).toBe(0.3);
    // A row without a method is a two-stage row.
    expect(compareResults(['a1'], [r('a1', 'i1', 'seen', 0.5)]).rows[0]!.scores[0]!.aji).toBe(0.5);
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
  let ablJson: RunsComparison & { differences: unknown[] };
  let ablText: string;
  let ablStage1: RunsComparison & { differences: unknown[] };
  let ablReport: string;
  let ablStderr: string;

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
    await seedAblation(storage.db, dataDir);
    // A third seed still running: every comparison of the experiment leaves it out and names it.
    await addRunningSeed(storage.db);
    await storage.close();

    cliJson = JSON.parse(cli(['compare', A, B, '--json']));
    cliText = cli(['compare', A, B, '--metrics', 'aji']);
    cliRuns = JSON.parse(cli(['runs', '--json']));
    const { DATABASE_URL: _d, ...env } = process.env;
    const r = spawnSync(process.execPath, [BIN, 'compare', '--experiment', 'exp-abl', '--json'], {
      encoding: 'utf8',
      env: { ...env, NUCLEIFLOW_HOME: home },
    });
    expect(r.status, r.stderr).toBe(0);
    ablStderr = r.stderr;
    ablJson = JSON.parse(r.stdout);
    ablText = cli(['compare', '--experiment', 'exp-abl', '--metrics', 'aji']);
    ablStage1 = JSON.parse(cli(['compare', '--experiment', 'exp-abl', '--method', 'stage1', '--json']));
    cli(['report', 'exp-abl', '--out', join(home, 'report')]);
    ablReport = readFileSync(join(home, 'report', 'report.md'), 'utf8');

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

  it('prints the same arm means ± sd and paired intervals in the CLI, the report and the dashboard', async () => {
    const web = (await (await fetch(`${dash!.url}/api/compare?experiment=exp-abl`)).json()) as RunsComparison;
    const { differences: _, ...fromCli } = ablJson;
    expect(web).toEqual(fromCli);
    expect(web.arms.arms.map((a) => a.runIds.length)).toEqual([2, 2]);
    expect(web.runIds).not.toContain('abl-on-s3');
    expect(ablStderr).toBe('nucleiflow: left out, no two-stage results yet: abl-on-s3 (running)\n');
    const page = await (await fetch(`${dash!.url}/compare?experiment=exp-abl&metric=aji`)).text();
    expect(page).toMatch(
      /id="compare-left-out">Left out, no results yet: <span class="mono">abl-on-s3<\/span> \(running\)\.<\/p>/,
    );
    const title = { seen: 'Seen organs', unseen: 'Unseen organs', all: 'All' } as const;
    const label = {
      seen: 'Average, seen organs',
      unseen: 'Average, unseen organs',
      all: 'Average, all',
    } as const;
    for (const [i, arm] of web.arms.arms.entries()) {
      for (const st of arm.stats) {
        const text = meanSdText(st.mean!.aji, st.sd!.aji);
        // Dashboard cell.
        const cell = new RegExp(`data-cell="arm-${i}-${st.subset}"[^>]*>([^<]*)<`).exec(page);
        expect(cell?.[1], `${arm.label} ${st.subset}`).toBe(text);
        // CLI arms table: label, average, seeds, AJI.
        const line = ablText
          .split('\n')
          .find((l) => l.startsWith(arm.label) && l.includes(`${label[st.subset]} (${st.nImages})`));
        expect(line?.endsWith(text), `${arm.label} ${st.subset}`).toBe(true);
        // Report: the arm's Table 1 row of the two-stage method, AJI column.
        const section = ablReport.slice(ablReport.indexOf(`### Arm ${arm.label}:`));
        const row = section
          .split('\n')
          .find((l) => l.startsWith(`| ${title[st.subset]} (${st.nImages})`) && l.includes('| Two-stage |'));
        expect(row?.split('|')[5]?.trim(), `${arm.label} ${st.subset}`).toBe(text);
      }
    }
    // The paired interval of the all-images AJI, in all three.
    const d = web.arms.differences.find((x) => x.subset === 'all')!;
    const iv = /data-cell="armdiff-1-all"[^>]*>([^<]*)</.exec(page)?.[1];
    expect(iv).toBe('-2.00 [-2.12, -1.88]');
    expect(ablText).toMatch(/groundTruth\.erosion=false\s+Average, all\s+14\s+-2\.00 \[-2\.12, -1\.88\]/);
    expect(ablReport).toContain(
      '| All | 14 | -2.00 [-2.12, -1.88] | -2.00 [-2.12, -1.88] | -2.00 [-2.12, -1.88]',
    );
    expect(d.scores!.aji.mean).toBeCloseTo(-0.02, 12);
  });

  it('compares stage 1 alone the same way in the CLI, the report and the dashboard', async () => {
    const web = (await (
      await fetch(`${dash!.url}/api/compare?experiment=exp-abl&method=stage1`)
    ).json()) as RunsComparison;
    const { differences: _, ...fromCli } = ablStage1;
    expect(web).toEqual(fromCli);
    expect(web.method).toBe('stage1');
    const seen = web.arms.arms[0]!.stats.find((s) => s.subset === 'seen')!;
    // The seed's stage-1 rows are the two-stage scores minus 0.10: 65.70 - 10.
    const text = meanSdText(seen.mean!.aji, seen.sd!.aji);
    expect(text).toBe('55.70 ± 0.28');
    const page = await (await fetch(`${dash!.url}/compare?experiment=exp-abl&method=stage1`)).text();
    expect(/data-cell="arm-0-seen"[^>]*>([^<]*)</.exec(page)?.[1]).toBe(text);
    const section = ablReport.slice(ablReport.indexOf('### Arm groundTruth.erosion=true:'));
    const row = section
      .split('\n')
      .find((l) => l.startsWith('| Seen organs (8)') && l.includes('| U-Net (stage 1 alone) |'));
    expect(row?.split('|')[5]?.trim()).toBe(text);
  });
});
