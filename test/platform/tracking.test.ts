import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage, type Storage } from '../../src/storage/index.ts';
import * as tracking from '../../src/tracking/index.ts';
import { createTestDatabase } from '../helpers/services.ts';

async function exercise(s: Storage) {
  const { db } = s;
  const run = { id: 'e1-r0', arm: {}, spec: { a: 1 }, configHash: 'h', seed: 1, workflowId: 'run-e1-r0' };
  const exp = {
    id: 'e1',
    name: 'quick',
    specName: 'quick',
    spec: { a: 1 },
    workflowId: 'exp-e1',
    runs: [run],
  };
  // Every write twice: what a retried activity does. The second must change nothing.
  for (let attempt = 0; attempt < 2; attempt++) {
    await tracking.createExperiment(db, exp);
    await tracking.putParams(db, run.id, { 'training.seg.epochs': '3', seed: '1' });
    for (let epoch = 0; epoch < 3; epoch++) {
      await tracking.putStepMetrics(db, run.id, 'seg', epoch, { loss: 1 / (epoch + 1), lr: 1e-3 });
    }
    await tracking.putImageResults(db, run.id, [
      {
        method: 'two-stage',
        image: 'a',
        organ: 'Liver',
        subset: 'seen',
        dice: 0.8,
        f1: 0.7,
        aji: 0.5,
        ajiPlus: 0.55,
        pq: 0.45,
        nGt: 10,
        nPred: 9,
      },
    ]);
    await tracking.addTimings(db, run.id, { split: 1.5 });
  }
  const dir = mkdtempSync(join(tmpdir(), 'nf-art-'));
  writeFileSync(join(dir, 'x.txt'), 'hello');
  const a = await tracking.putArtifact(db, run.id, 'report', join(dir, 'x.txt'), 'report/x.txt');
  await tracking.putArtifact(db, run.id, 'report', join(dir, 'x.txt'), 'report/x.txt');
  rmSync(dir, { recursive: true });
  expect(a.sha256).toBe('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');

  const count = async (t: string) =>
    Number(
      (
        (await db.execute(sql.raw(`select count(*)::int as n from ${t}`))) as unknown as {
          rows: Array<{ n: number }>;
        }
      ).rows[0]!.n,
    );
  expect(await count('experiments')).toBe(1);
  expect(await count('runs')).toBe(1);
  expect(await count('params')).toBe(2);
  expect(await count('metrics')).toBe(6);
  expect(await count('image_results')).toBe(1);
  expect(await count('artifacts')).toBe(1);
  // 1 params + 3 metric steps + 1 image-results + 1 timings + 1 artifact, each queued once despite the retries.
  expect(await count('mlflow_outbox')).toBe(7);
  const m = await tracking.getMetrics(db, run.id, 'seg');
  expect(m.filter((r) => r.key === 'loss').map((r) => r.step)).toEqual([0, 1, 2]);

  // A tracking write that fails inside its transaction leaves neither its rows nor its outbox rows.
  // putParams inserts all 150 params and queues the first outbox chunk (100) before the second
  // chunk fails: its payload holds a lone surrogate, which the text column takes (as U+FFFD) but
  // jsonb rejects.
  const bad = Object.fromEntries(
    Array.from({ length: 150 }, (_, i) => [`bad.${i}`, i === 120 ? '\ud800' : 'v']),
  );
  await expect(tracking.putParams(db, run.id, bad)).rejects.toThrow(/insert into "mlflow_outbox"/);
  expect(await count('params')).toBe(2);
  expect(await count('mlflow_outbox')).toBe(7);
}

describe('tracking store', () => {
  let pgDb: Awaited<ReturnType<typeof createTestDatabase>>;
  const home = mkdtempSync(join(tmpdir(), 'nf-pglite-'));
  beforeAll(async () => {
    pgDb = await createTestDatabase();
  });
  afterAll(async () => {
    await pgDb?.drop();
    rmSync(home, { recursive: true, force: true });
  });

  it('applies the migrations to real PostgreSQL (twice) and writes idempotently', async () => {
    const s = await openStorage({ databaseUrl: pgDb.url, home });
    await s.close();
    const again = await openStorage({ databaseUrl: pgDb.url, home });
    try {
      await exercise(again);
    } finally {
      await again.close();
    }
  });

  it('applies the same migrations to PGlite and writes idempotently', async () => {
    const s = await openStorage({ home });
    try {
      expect(s.kind).toBe('pglite');
      await exercise(s);
    } finally {
      await s.close();
    }
  });
});
