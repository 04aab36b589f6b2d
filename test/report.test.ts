/**
 * `nucleiflow report` on a seeded two-arm, two-seed ablation (testing/dashboard-seed.ts,
 * seedAblation): Table 1 per arm (mean ± sd over seeds) for stage 1 alone and two-stage, the paired
 * differences with their intervals, training facts, chosen post-processing, plots and the CSV,
 * all checked against values worked out by hand from the seed's formula; and bad input (unknown
 * id, nothing scored yet) leaving the output folder as it was.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq, sql } from 'drizzle-orm';
import { XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { writeReportDir } from '../src/report/write.ts';
import { openStorage, schema } from '../src/storage/index.ts';
import { addRunningSeed, seedAblation, testImages } from '../testing/dashboard-seed.ts';
import { BIN } from './helpers/cli.ts';

let home: string;
let out: string;
let md: string;
let named: string;
let single: string;
let partial: string;

const cli = (args: string[]) => {
  const { DATABASE_URL: _, ...env } = process.env;
  return spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...env, NUCLEIFLOW_HOME: home },
  });
};

/** The cells of the Table 1 row for `subset` and `method` under the heading of `arm`. */
function table1Row(text: string, arm: string, subset: string, method: string): string[] {
  const start = text.indexOf(`### Arm ${arm}:`);
  expect(start, arm).toBeGreaterThanOrEqual(0);
  const line = text
    .slice(start)
    .split('\n')
    .find((l) => l.startsWith(`| ${subset}`) && l.includes(`| ${method} |`));
  expect(line, `${arm} ${subset} ${method}`).toBeDefined();
  return line!
    .split('|')
    .slice(1, -1)
    .map((c) => c.trim());
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'nf-report-'));
  out = join(home, 'out', 'exp');
  let storage = await openStorage({ home });
  await seedAblation(storage.db, loadConfig().dataDir);
  await storage.close();
  const r = cli(['report', 'exp-abl', '--out', out]);
  expect(r.status, r.stderr).toBe(0);
  md = readFileSync(join(out, 'report.md'), 'utf8');
  const n = cli(['report', 'exp-abl', '--out', join(home, 'out', 'docs'), '--name', 'results']);
  expect(n.status, n.stderr).toBe(0);
  named = readFileSync(join(home, 'out', 'docs', 'results.md'), 'utf8');
  // One run whose stage-1-alone rows are not stored.
  storage = await openStorage({ home });
  const ir = schema.imageResults;
  await storage.db.delete(ir).where(and(eq(ir.runId, 'abl-off-s2'), eq(ir.method, 'stage1')));
  // And a third seed of the experiment that is still running.
  await addRunningSeed(storage.db);
  await storage.close();
  const e = cli(['report', 'exp-abl', '--out', join(home, 'out', 'exp2')]);
  expect(e.status, e.stderr).toBe(0);
  partial = readFileSync(join(home, 'out', 'exp2', 'report.md'), 'utf8');
  const s = cli(['report', 'abl-off-s2', '--out', join(home, 'out', 'one')]);
  expect(s.status, s.stderr).toBe(0);
  single = readFileSync(join(home, 'out', 'one', 'report.md'), 'utf8');
}, 120_000);

afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('nucleiflow report --name', () => {
  it('writes <name>.md with its plots and per-image.csv in <name>/, linked from it', () => {
    const docs = join(home, 'out', 'docs');
    expect(readdirSync(docs).sort()).toEqual(['results', 'results.md']);
    expect(readdirSync(join(docs, 'results')).sort()).toEqual(
      readdirSync(out)
        .filter((f) => f !== 'report.md')
        .sort(),
    );
    expect(named).toContain(`\`nucleiflow report exp-abl --out ${docs} --name results\``);
    expect(named).toContain('](results/curves-abl-on-s1-seg-loss.svg)');
    expect(named).toContain('[per-image.csv](results/per-image.csv)');
    // The same report otherwise.
    const strip = (t: string) => t.replace(/^Generated .*$/m, '').replaceAll('](results/', '](');
    expect(strip(named)).toBe(strip(md));
  });

  it('refuses a name that is not a plain file name', () => {
    const r = cli(['report', 'exp-abl', '--out', join(home, 'out', 'bad'), '--name', '../up']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--name.*a plain file name/);
    expect(existsSync(join(home, 'out', 'bad'))).toBe(false);
  });
});

describe('nucleiflow report on a two-arm, two-seed experiment', () => {
  it('says at its top the command that generated it', () => {
    expect(md.split('\n')[2]).toBe(
      `Generated from the tracking store by \`nucleiflow report exp-abl --out ${out}\`; rerun it to regenerate this file.`,
    );
  });

  it('gives Table 1 per arm as mean ± sd over seeds, beside the paper', () => {
    // Erosion on, seed 1, two-stage AJI: seen images 0.60 + 0.01k + 0.02 ± 0.002 (k = 0..7; the
    // ±0.002 cancel) -> 0.655; seed 2 adds 0.004 -> 0.659: mean 0.657, sd 0.004/sqrt(2) = 0.0028.
    const seenTwo = table1Row(md, 'groundTruth.erosion=true', 'Seen organs (8)', 'Two-stage');
    // Columns: Subset, Method, Dice, F1, AJI, AJI+, PQ, paper AJI.
    expect(seenTwo.slice(2)).toEqual([
      '90.70 ± 0.28',
      '95.70 ± 0.28',
      '65.70 ± 0.28',
      '66.70 ± 0.28',
      '63.70 ± 0.28',
      '56.68',
    ]);
    // Unseen: 0.50 + 0.01k (k = 0..5) + 0.02 -> 0.545, 0.549: 54.70. All 14: (8 * 0.655 +
    // 6 * 0.545) / 14 = 0.607857, with seed 2 0.611857: mean 60.99, paper 56.87.
    expect(table1Row(md, 'groundTruth.erosion=true', 'Unseen organs (6)', 'Two-stage')[4]).toBe(
      '54.70 ± 0.28',
    );
    const all = table1Row(md, 'groundTruth.erosion=true', 'All (14)', 'Two-stage');
    expect([all[4], all[7]]).toEqual(['60.99 ± 0.28', '56.87']);
    // Stage 1 alone is 0.10 below; the paper column has only its U-Net AJI over all images.
    expect(table1Row(md, 'groundTruth.erosion=true', 'Seen organs (8)', 'U-Net (stage 1 alone)')[4]).toBe(
      '55.70 ± 0.28',
    );
    expect(table1Row(md, 'groundTruth.erosion=true', 'Seen organs (8)', 'U-Net (stage 1 alone)')[7]).toBe(
      '—',
    );
    expect(table1Row(md, 'groundTruth.erosion=true', 'All (14)', 'U-Net (stage 1 alone)')[7]).toBe(
      '49.39 (GT erosion) / 44.41 (none)',
    );
    // Erosion off: 0.02 lower everywhere.
    expect(table1Row(md, 'groundTruth.erosion=false', 'Seen organs (8)', 'Two-stage')[4]).toBe(
      '63.70 ± 0.28',
    );
    expect(table1Row(md, 'groundTruth.erosion=false', 'All (14)', 'Two-stage')[4]).toBe('58.99 ± 0.28');
  });

  it('gives the paired per-image differences with their paired t 95% intervals', () => {
    // Off minus on, per image: -0.018 for even k, -0.022 for odd k. Seen (n 8): mean -0.02, sd
    // 0.002 * sqrt(8/7) = 0.0021381, se 0.00075593, t(0.975, 7) = 2.3646 -> ± 0.0017875.
    // Unseen (n 6): sd 0.002 * sqrt(6/5), se 0.00089443, t(0.975, 5) = 2.5706 -> ± 0.0022992.
    // All (n 14): sd 0.002 * sqrt(14/13), se 0.00055470, t(0.975, 13) = 2.1604 -> ± 0.0011984.
    const section = md.slice(md.indexOf('## Paired per-image differences, Two-stage'));
    const row = (subset: string) =>
      section
        .split('\n')
        .find((l) => l.includes(`| ${subset} |`))!
        .split('|')
        .map((c) => c.trim());
    expect(row('Seen organs')[3]).toBe('8');
    expect(row('Seen organs')[6]).toBe('-2.00 [-2.18, -1.82]');
    expect(row('Unseen organs')[6]).toBe('-2.00 [-2.23, -1.77]');
    expect(row('All')[6]).toBe('-2.00 [-2.12, -1.88]');
    expect(section).toContain('paired t over images (95%)');
    expect(md).toContain('## Paired per-image differences, U-Net (stage 1 alone)');
  });

  it('lists training facts, the chosen post-processing, code commit and data hash', () => {
    expect(md).toContain('| abl-on-s1 | seg | 400 steps | 400 | 4 | 200, 300 | 20.0 | 35.0 |');
    // The distance net's cpuSeconds are not in the seed: shown as missing, not invented.
    expect(md).toContain('| abl-on-s1 | dist | 200 steps | 200 | 4 | 100 | 5.0 | — |');
    expect(md).toContain(
      '| abl-off-s2 | thr=0.5,sigma=1 | `{"sigma":1,"threshold":0.5}` | 61.00 | 80.00 | 85.00 | 16 |',
    );
    expect(md).not.toContain('thr=0.6');
    expect(md).toContain(
      '| abl-off-s1 | seed=1, groundTruth.erosion=false | 1 | completed | c0ffee012345 | d4t4h45h |',
    );
  });

  it('embeds learning curves of both nets as valid SVG files', () => {
    for (const run of ['abl-on-s1', 'abl-off-s2'])
      for (const f of ['seg-loss', 'seg-lr', 'dist-loss', 'dist-lr']) {
        const name = `curves-${run}-${f}.svg`;
        expect(md).toContain(`](${name})`);
        const svg = readFileSync(join(out, name), 'utf8');
        expect(XMLValidator.validate(svg), name).toBe(true);
        expect(svg).toMatch(f.endsWith('loss') ? /data-series="val_loss"/ : /data-series="lr"/);
      }
  });

  it('writes the per-image results of every run and method as CSV', () => {
    const lines = readFileSync(join(out, 'per-image.csv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('run,arm,seed,method,image,organ,subset,dice,f1,aji,ajiPlus,pq,n_gt,n_pred');
    expect(lines).toHaveLength(1 + 4 * 14 * 2);
    const rows = lines.slice(1).map((l) => l.split(','));
    // The first seen image in the manifest (k = 0), erosion on, seed 2: 0.60 + 0.02 - 0.002 + 0.004.
    const first = testImages(loadConfig().dataDir).find((i) => i.subset === 'seen')!.image;
    const k0 = rows.filter((r) => r[0] === 'abl-on-s2' && r.includes(first) && r.includes('two-stage'));
    expect(k0).toHaveLength(1);
    // Fields from the end: n_pred, n_gt, pq, ajiPlus, aji (the arm's JSON holds quoted commas).
    expect(Number(k0[0]!.at(-5))).toBeCloseTo(0.622, 12);
  });

  it('says so when a run has no stage-1-alone rows, and has no sd for one seed', () => {
    expect(single).toContain('# NucleiFlow report: run abl-off-s2');
    expect(single).toContain('No stage-1-alone (U-Net) results are stored for abl-off-s2');
    const u = table1Row(single, 'groundTruth.erosion=false', 'Seen organs', 'U-Net (stage 1 alone)');
    expect(u.slice(2, 7)).toEqual(['—', '—', '—', '—', '—']);
    // Seed 2 alone: 0.635 + 0.004.
    expect(table1Row(single, 'groundTruth.erosion=false', 'Seen organs (8)', 'Two-stage')[4]).toBe('63.90');
    expect(single).not.toContain('## Paired per-image differences');
  });

  it('names the runs of an experiment that have no results yet and leaves them out', () => {
    expect(partial).toContain('Left out, no per-image results yet: abl-on-s3 (running).');
    expect(partial).toContain('### Arm groundTruth.erosion=true: 2 run(s), seeds 1, 2');
    expect(table1Row(partial, 'groundTruth.erosion=true', 'Seen organs (8)', 'Two-stage')[4]).toBe(
      '65.70 ± 0.28',
    );
  });
});

describe('nucleiflow report refuses bad input and leaves the folder as it was', () => {
  it('an unknown id: one line, exit 1, no folder created', () => {
    const dir = join(home, 'out', 'unknown');
    const r = cli(['report', 'no-such-thing', '--out', dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('nucleiflow: unknown run or experiment: no-such-thing\n');
    expect(existsSync(dir)).toBe(false);
  });

  it('an experiment or run with no results yet: one line, exit 1, existing folder untouched', () => {
    const dir = join(home, 'out', 'pending');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'report.md'), 'old\n');
    for (const [id, what] of [
      ['exp-abl-pending', 'experiment exp-abl-pending'],
      ['abl-pending-s1', 'run abl-pending-s1'],
    ]) {
      const r = cli(['report', id!, '--out', dir]);
      expect(r.status, id).toBe(1);
      expect(r.stderr).toBe(`nucleiflow: ${what} has no per-image results yet (abl-pending-s1 running)\n`);
    }
    expect(readdirSync(dir)).toEqual(['report.md']);
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toBe('old\n');
    expect(readdirSync(join(home, 'out')).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('a write that fails half-way leaves neither a new folder nor a changed one', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'nf-report-write-'));
    try {
      const files = [
        { name: 'report.md', content: 'new\n' },
        { name: 'report/plot.svg', content: '<svg/>' },
        { name: '.bad', content: 'x' },
      ];
      await expect(writeReportDir(join(parent, 'fresh'), files)).rejects.toThrow(/report file name/);
      for (const bad of ['../up.md', 'a/b/c.svg', '.hidden/x.svg', 'a/', '/abs.md'])
        await expect(
          writeReportDir(join(parent, 'fresh'), [{ name: bad, content: '' }]),
          bad,
        ).rejects.toThrow(/report file name/);
      expect(readdirSync(parent)).toEqual([]);
      mkdirSync(join(parent, 'old'));
      writeFileSync(join(parent, 'old', 'report.md'), 'old\n');
      await expect(writeReportDir(join(parent, 'old'), files)).rejects.toThrow(/report file name/);
      expect(readFileSync(join(parent, 'old', 'report.md'), 'utf8')).toBe('old\n');
      expect(readdirSync(parent)).toEqual(['old']);
      // And a good write into the existing folder replaces the file, keeping others.
      writeFileSync(join(parent, 'old', 'notes.txt'), 'mine\n');
      await writeReportDir(join(parent, 'old'), files.slice(0, 2));
      expect(readFileSync(join(parent, 'old', 'report.md'), 'utf8')).toBe('new\n');
      expect(readFileSync(join(parent, 'old', 'report', 'plot.svg'), 'utf8')).toBe('<svg/>');
      expect(readdirSync(join(parent, 'old')).sort()).toEqual(['notes.txt', 'report', 'report.md']);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('names the validation split and leaves the paper column out for runs scored on kumar-val', async () => {
    const storage = await openStorage({ home });
    await storage.db.execute(
      sql`update runs set spec = jsonb_set(spec, '{dataset}', '{"name":"monuseg","split":"kumar-val"}') where experiment_id = 'exp-abl'`,
    );
    await storage.close();
    const dir = join(home, 'out', 'val');
    const r = cli(['report', 'exp-abl', '--out', dir]);
    expect(r.status, r.stderr).toBe(0);
    const text = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(text).toContain('Scores in percent on the kumar-val validation split (4 training images held out');
    expect(text).toContain("The paper's numbers are for the Kumar test split and are not shown.");
    expect(text).not.toContain('56.87');
    // Subset, Method and the five scores: no paper cell.
    const row = table1Row(text, 'groundTruth.erosion=true', 'All (14)', 'Two-stage');
    expect(row).toHaveLength(7);
    expect(row[4]).toBe('60.99 ± 0.28');
  });

  it('says when the recipe of each run was first scored on the test split, and by which run', async () => {
    const storage = await openStorage({ home });
    const put = (runId: string, recipe: string, at: string) =>
      storage.db.insert(schema.params).values([
        { runId, key: 'test.recipe', value: recipe },
        { runId, key: 'test.scored_at', value: at },
      ]);
    await put('abl-on-s1', 'recipe-on', '2026-11-25T09:00:00.000Z');
    await put('abl-on-s2', 'recipe-on', '2026-11-25T08:30:00.000Z');
    await put('abl-off-s1', 'recipe-off', '2026-11-25T10:00:00.000Z');
    await storage.close();
    const dir = join(home, 'out', 'first');
    const r = cli(['report', 'exp-abl', '--out', dir]);
    expect(r.status, r.stderr).toBe(0);
    const text = readFileSync(join(dir, 'report.md'), 'utf8');
    const last = (run: string) =>
      text
        .split('\n')
        .find((l) => l.startsWith(`| ${run} |`) && l.includes('| worker-'))
        ?.split('|')
        .at(-2)
        ?.trim();
    expect(last('abl-on-s1')).toBe('2026-11-25T08:30:00.000Z by abl-on-s2');
    expect(last('abl-on-s2')).toBe('2026-11-25T08:30:00.000Z by this run');
    expect(last('abl-off-s1')).toBe('2026-11-25T10:00:00.000Z by this run');
    expect(last('abl-off-s2')).toBe('not recorded');
  });

  it('reports a completed run that trained on all 30 images as not scored, with its facts and curves', async () => {
    const storage = await openStorage({ home });
    await storage.db.delete(schema.imageResults).where(eq(schema.imageResults.runId, 'abl-off-s2'));
    await storage.db.execute(
      sql`update runs set spec = jsonb_set(spec, '{dataset}', '{"name":"monuseg","split":"all"}') where id = 'abl-off-s2'`,
    );
    await storage.close();
    const dir = join(home, 'out', 'general');
    const r = cli(['report', 'abl-off-s2', '--out', dir]);
    expect(r.status, r.stderr).toBe(0);
    const text = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(text).toContain('0 run(s) with results.');
    expect(text).toContain('Not scored: abl-off-s2 trained on all 30 images (split `all`)');
    expect(text).not.toContain('## Table 1');
    expect(text).toMatch(/\| abl-off-s2 \|/);
    expect(text).toMatch(/!\[abl-off-s2 seg loss\]\(curves-abl-off-s2-seg-loss\.svg\)/);
    expect(XMLValidator.validate(readFileSync(join(dir, 'curves-abl-off-s2-seg-loss.svg'), 'utf8'))).toBe(
      true,
    );
  });
});
