// The registerModel activity: a completed run's packaged model becomes the next version of the
// model named after its spec, with a card from the store, and a retried activity makes no second one.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, runDir } from '../activities/index.ts';
import { realCompute } from '../activities/pipeline.ts';
import { loadConfig } from '../src/config.ts';
import { SHIPPED_MODEL_DIR } from '../src/model/model-dir.ts';
import { openStorage, type Storage, schema } from '../src/storage/index.ts';
import * as tracking from '../src/tracking/index.ts';
import { listModels } from '../src/tracking/registry.ts';

describe('registerModel activity', () => {
  const home = mkdtempSync(join(tmpdir(), 'nf-register-'));
  const config = { ...loadConfig(), home };
  let storage: Storage;
  beforeAll(async () => {
    storage = await openStorage({ home });
  });
  afterAll(async () => {
    await storage?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('registers the run folder model under the spec name, once, after the report', async () => {
    const spec = { name: 'quick' };
    for (const id of ['e1', 'e2'])
      await tracking.createExperiment(storage.db, {
        id,
        name: 'quick',
        specName: 'quick',
        spec,
        workflowId: `exp-${id}`,
        runs: [{ id: `${id}-r0`, arm: {}, spec, configHash: 'h', seed: 1, workflowId: `run-${id}` }],
      });
    const activities = createActivities({
      config,
      db: storage.db,
      mlflow: undefined,
      compute: realCompute(config),
    });
    for (const runId of ['e1-r0', 'e2-r0']) {
      cpSync(SHIPPED_MODEL_DIR, join(runDir(config, runId), 'model'), {
        recursive: true,
      });
      await activities.report({ runId });
    }
    expect(await activities.registerModel({ runId: 'e1-r0' })).toEqual({ name: 'quick', version: 1 });
    expect(await activities.registerModel({ runId: 'e1-r0' })).toEqual({ name: 'quick', version: 1 });
    expect(await activities.registerModel({ runId: 'e2-r0' })).toEqual({ name: 'quick', version: 2 });
    const versions = await listModels(storage.db);
    expect(versions.map((v) => [v.name, v.version, v.runId, v.dir])).toEqual([
      ['quick', 1, 'e1-r0', join(runDir(config, 'e1-r0'), 'model')],
      ['quick', 2, 'e2-r0', join(runDir(config, 'e2-r0'), 'model')],
    ]);
    expect((versions[0]!.card as { run: string }).run).toBe('e1-r0');
    // Queued for MLflow (no client here): one model-version row per run, the retry adding none.
    for (const runId of ['e1-r0', 'e2-r0']) {
      const rows = await storage.db
        .select()
        .from(schema.mlflowOutbox)
        .where(and(eq(schema.mlflowOutbox.runId, runId), eq(schema.mlflowOutbox.kind, 'model-version')));
      expect(rows).toHaveLength(1);
    }
  });
});
