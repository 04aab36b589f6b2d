// `nucleiflow export` / `import`: an experiment's records leave one store and arrive in another
// unchanged; a second import changes nothing; a differing copy is refused; unfinished runs arrive
// as failed, ready for `resume`; bad documents are refused with nothing written.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { openStorage, type Storage } from '../src/storage/index.ts';
import * as tracking from '../src/tracking/index.ts';
import {
  type ExperimentExport,
  exportExperiment,
  importExperiment,
  parseExport,
} from '../src/tracking/transfer.ts';
import { type AblationSeed, registerSeededModel, seedAblation } from '../testing/dashboard-seed.ts';
import { runCli } from './helpers/cli.ts';

const TABLES = ['experiments', 'runs', 'params', 'metrics', 'image_results', 'tuning_results', 'artifacts'];

async function counts(s: Storage): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of TABLES) {
    const r = (await s.db.execute(sql.raw(`select count(*)::int as n from ${t}`))) as unknown as {
      rows: Array<{ n: number }>;
    };
    out[t] = Number(r.rows[0]!.n);
  }
  return out;
}

const rounded = (v: unknown): unknown =>
  typeof v === 'number'
    ? Number(v.toPrecision(12))
    : Array.isArray(v)
      ? v.map(rounded)
      : v && typeof v === 'object' && !(v instanceof Date)
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rounded(x)]))
        : v;
const withoutTime = ({ exportedAt: _, ...rest }: ExperimentExport) => rest;
const clone = (d: ExperimentExport): ExperimentExport => JSON.parse(JSON.stringify(d));

describe('experiment export and import', { timeout: 120_000 }, () => {
  const homes: string[] = [];
  const newHome = () => {
    const h = mkdtempSync(join(tmpdir(), 'nf-transfer-'));
    homes.push(h);
    return h;
  };
  let source: Storage;
  let sourceHome: string;
  let seed: AblationSeed;
  let doc: ExperimentExport;

  beforeAll(async () => {
    sourceHome = newHome();
    source = await openStorage({ home: sourceHome });
    seed = await seedAblation(source.db, loadConfig().dataDir, { stage1: true });
    doc = await exportExperiment(source.db, seed.experimentId);
  });
  afterAll(async () => {
    await source?.close();
    for (const h of homes) rmSync(h, { recursive: true, force: true });
  });

  it('moves every record of a finished experiment, so the copy reads and exports as the original', async () => {
    expect(doc.runs.map((b) => b.run.id)).toEqual([...seed.runIds].sort());
    expect(doc.runs.every((b) => b.imageResults.length > 0 && b.metrics.length > 0)).toBe(true);
    const target = await openStorage({ home: newHome() });
    try {
      // Through JSON text, as the file carries it.
      expect(await importExperiment(target.db, parseExport(JSON.stringify(doc), 'doc.json'))).toBe(
        'imported',
      );
      const again = await exportExperiment(target.db, seed.experimentId);
      // Everything but the MLflow run ids, which name runs of the other store's MLflow.
      const noMlflow = (d: ExperimentExport) => ({
        ...withoutTime(d),
        runs: d.runs.map((b) => ({ ...b, run: { ...b.run, mlflowRunId: null } })),
      });
      expect(again.runs.every((b) => b.run.mlflowRunId === null)).toBe(true);
      expect(noMlflow(again)).toEqual(noMlflow(doc));
      // What the report and compare read: the same summaries, timestamps and all.
      const before = await tracking.listRunSummaries(source.db, { experiment: seed.experimentId });
      const after = await tracking.listRunSummaries(target.db, { experiment: seed.experimentId });
      // SQL's avg sums in row order, which an import need not keep: equal to 12 digits.
      expect(rounded(after)).toEqual(rounded(before));
      for (const id of seed.runIds) {
        expect(await tracking.getImageResults(target.db, id)).toEqual(
          await tracking.getImageResults(source.db, id),
        );
      }

      // A second import of the same document changes nothing.
      const n = await counts(target);
      expect(await importExperiment(target.db, clone(doc))).toBe('unchanged');
      expect(await counts(target)).toEqual(n);

      // A copy that differs is refused, naming the run, and nothing changes.
      const edited = clone(doc);
      const run = edited.runs[1]!;
      run.imageResults[0]!.aji = 0.123;
      await expect(importExperiment(target.db, edited)).rejects.toThrow(
        new RegExp(
          `experiment ${seed.experimentId} is already in the store and differs: run ${run.run.id}'s imageResults differ; --replace`,
        ),
      );
      expect(await counts(target)).toEqual(n);
      // With replace, the file's version wins.
      expect(await importExperiment(target.db, edited, { replace: true })).toBe('replaced');
      const edit = run.imageResults[0]!;
      const stored = await tracking.getImageResults(target.db, String(run.run.id), 'all');
      expect(stored.find((x) => x.image === edit.image && x.method === edit.method)!.aji).toBe(0.123);
      expect(await counts(target)).toEqual(n);

      // Replacing would drop a registered model version with its run: refused.
      await registerSeededModel(target.db, newHome(), seed.runIds[0]!);
      await expect(importExperiment(target.db, doc, { replace: true })).rejects.toThrow(
        /cannot be replaced: run \S+ registered model/,
      );
    } finally {
      await target.close();
    }
  });

  it('imports a run that had not ended as failed, with the reason and the resume command', async () => {
    const pending = await exportExperiment(source.db, seed.pendingExperimentId);
    expect(pending.runs.map((b) => b.run.status)).toEqual(['running']);
    const target = await openStorage({ home: newHome() });
    try {
      // Its MLflow run id names a run of the exporting store's MLflow: dropped, so delivery here makes a new one.
      const withMlflow = clone(pending);
      withMlflow.runs[0]!.run.mlflowRunId = '0123456789abcdef';
      await importExperiment(target.db, withMlflow);
      const [run] = await tracking.listRuns(target.db, { experimentId: seed.pendingExperimentId });
      expect(run!.mlflowRunId).toBeNull();
      expect(run!.status).toBe('failed');
      expect(run!.error).toBe(
        `interrupted: exported while running at ${pending.exportedAt}; nucleiflow resume ${seed.pendingRunId} continues it`,
      );
      expect((await tracking.getExperiment(target.db, seed.pendingExperimentId))!.status).toBe('failed');
      // Importing the same file again: what it would write is what the store holds.
      expect(await importExperiment(target.db, pending)).toBe('unchanged');
    } finally {
      await target.close();
    }
  });

  it('refuses bad documents with one line and writes nothing', async () => {
    expect(() => parseExport('{', 'x.json')).toThrow(/^x\.json: not JSON/);
    expect(() => parseExport(JSON.stringify({ ...doc, format: 'other' }), 'x.json')).toThrow(
      /^x\.json: not a NucleiFlow experiment export: format: /,
    );
    const stray = clone(doc);
    stray.runs[0]!.metrics[0]!.runId = 'someone-else';
    expect(() => parseExport(JSON.stringify(stray), 'x.json')).toThrow(
      /a row of metrics under run \S+ names run someone-else/,
    );
    // A column this schema lacks, in the last run: the transaction leaves no row of the first runs.
    const unknown = clone(doc);
    unknown.runs.at(-1)!.metrics[0]!.colour = 'red';
    const target = await openStorage({ home: newHome() });
    try {
      await expect(importExperiment(target.db, unknown)).rejects.toThrow(
        /metrics: 'colour' is not a column of this store's schema/,
      );
      expect(Object.values(await counts(target)).every((n) => n === 0)).toBe(true);
    } finally {
      await target.close();
    }
  });

  it('runs as `nucleiflow export` and `nucleiflow import`', async () => {
    const from = newHome();
    const to = newHome();
    const file = join(from, 'study.json');
    await source.close();
    const env = (home: string) => {
      const e: NodeJS.ProcessEnv = { ...process.env, NUCLEIFLOW_HOME: home };
      delete e.DATABASE_URL;
      return e;
    };
    try {
      const ex = runCli(['export', seed.experimentId, '--out', file], { env: env(sourceHome) });
      expect(ex.status, ex.stderr).toBe(0);
      expect(ex.stdout).toMatch(new RegExp(`^exported ${seed.experimentId} \\(4 runs: `));
      expect(withoutTime(JSON.parse(readFileSync(file, 'utf8')))).toEqual(withoutTime(doc));
      const im = runCli(['import', file], { env: env(to) });
      expect(im.status, im.stderr).toBe(0);
      expect(im.stdout).toBe(`imported ${seed.experimentId} (4 runs)\n`);
      const twice = runCli(['import', file], { env: env(to) });
      expect(twice.stdout).toBe(`already in the store, unchanged: ${seed.experimentId} (4 runs)\n`);

      writeFileSync(file, '{"format": 1}');
      const bad = runCli(['import', file], { env: env(to) });
      expect(bad.status).toBe(1);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
      expect(bad.stderr).toMatch(/not a NucleiFlow experiment export/);
      const none = runCli(['export', 'no-such-experiment', '--out', file], { env: env(to) });
      expect(none.status).toBe(1);
      expect(none.stderr).toMatch(/no experiment no-such-experiment in the tracking store/);
    } finally {
      source = await openStorage({ home: sourceHome });
    }
  });
});
