// submitExperiment's extra params (a rerun's `rerun_of`) are written with the runs, in one
// transaction, before the workflow starts; on PGlite, with a Temporal client that only records.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSpec } from '../../experiments/index.ts';
import { submitExperiment } from '../../platform/submit.ts';
import type { TemporalHandle } from '../../platform/temporal.ts';
import { openStorage, type Storage, schema } from '../../src/storage/index.ts';
import * as tracking from '../../src/tracking/index.ts';

describe('submitExperiment with params', () => {
  const home = mkdtempSync(join(tmpdir(), 'nf-submit-'));
  let storage: Storage;
  /** Params of each run as they stood when its workflow was started. */
  const atStart: Array<Record<string, string>> = [];
  // Only workflow.start is called by submitExperiment; the rest of the handle is not needed here.
  const temporal = {
    client: {
      workflow: {
        start: async (_wf: unknown, o: { args: [{ runs: Array<{ runId: string }> }] }) => {
          for (const r of o.args[0].runs) atStart.push(await tracking.getParams(storage.db, r.runId));
        },
      },
    },
  } as unknown as TemporalHandle;

  beforeAll(async () => {
    storage = await openStorage({ home });
  });
  afterAll(async () => {
    await storage?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('records them on every new run, queued for MLflow, before the workflow starts', async () => {
    const loaded = await loadSpec('quick', ['matrix={"gtErosion":[true,false]}']);
    const params = { rerun_of: 'quick-x-r0', 'rerun_drift.data_hash': 'aa -> bb' };
    const sub = await submitExperiment(storage.db, temporal, loaded, { params });
    expect(sub.runIds).toHaveLength(2);
    expect(atStart).toEqual([params, params]);
    for (const id of sub.runIds) {
      expect(await tracking.getParams(storage.db, id)).toEqual(params);
      const queued = (await storage.db.select().from(schema.mlflowOutbox)).filter(
        (o) => o.runId === id && o.kind === 'params',
      );
      expect(queued.map((o) => o.payload)).toEqual([
        {
          kind: 'params',
          params: [
            { key: 'rerun_of', value: 'quick-x-r0' },
            { key: 'rerun_drift.data_hash', value: 'aa -> bb' },
          ],
        },
      ]);
    }
  });

  it('leaves no experiment and no run, and starts nothing, when its params cannot be written', async () => {
    const before = {
      experiments: (await storage.db.select().from(schema.experiments)).length,
      runs: (await storage.db.select().from(schema.runs)).length,
      started: atStart.length,
    };
    const loaded = await loadSpec('quick');
    // A lone surrogate: the params' text column takes it, the outbox's jsonb payload rejects it.
    await expect(
      submitExperiment(storage.db, temporal, loaded, { params: { rerun_of: '\ud800' } }),
    ).rejects.toThrow(/insert into "mlflow_outbox"/);
    expect({
      experiments: (await storage.db.select().from(schema.experiments)).length,
      runs: (await storage.db.select().from(schema.runs)).length,
      started: atStart.length,
    }).toEqual(before);
  });
});
