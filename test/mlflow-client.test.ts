// The MLflow client's "unreachable" error names why fetch failed (fetch's own message says only
// "fetch failed"): a refused connection and a port fetch itself refuses read differently. And
// log-batch chunking, a pure function (the real server's side is in test/platform/mlflow.test.ts).
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { chunkBatch, MlflowClient, MlflowError } from '../src/tracking/mlflow-client.ts';

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function failure(p: Promise<unknown>): Promise<MlflowError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MlflowError);
  return err as MlflowError;
}

describe('MlflowClient unreachable errors', () => {
  it('names a refused connection', async () => {
    const port = await closedPort();
    const err = await failure(new MlflowClient(`http://127.0.0.1:${port}`).getExperiment('1'));
    expect(err.message).toBe(`MLflow at http://127.0.0.1:${port} unreachable: fetch failed (ECONNREFUSED)`);
    expect(err.status).toBe(0);
  });

  it("names fetch's bad port", async () => {
    const err = await failure(new MlflowClient('http://127.0.0.1:5060').getExperiment('1'));
    expect(err.message).toBe('MLflow at http://127.0.0.1:5060 unreachable: fetch failed (bad port)');
  });
});

describe('chunkBatch', () => {
  it('splits log-batch at 1000 metrics / 100 params / 100 tags, keeping every entry in order', () => {
    const m = Array.from({ length: 2500 }, (_, i) => ({ key: 'k', value: i, timestamp: 1, step: i }));
    const p = Array.from({ length: 150 }, (_, i) => ({ key: `p${i}`, value: 'v' }));
    const t = Array.from({ length: 150 }, (_, i) => ({ key: `t${i}`, value: 'v' }));
    const chunks = chunkBatch(m, p, t);
    for (const c of chunks) {
      expect(c.metrics.length + c.params.length + c.tags.length).toBeLessThanOrEqual(1000);
      expect(c.metrics.length).toBeLessThanOrEqual(1000);
      expect(c.params.length).toBeLessThanOrEqual(100);
      expect(c.tags.length).toBeLessThanOrEqual(100);
    }
    expect(chunks.flatMap((c) => c.metrics)).toEqual(m);
    expect(chunks.flatMap((c) => c.params)).toEqual(p);
    expect(chunks.flatMap((c) => c.tags)).toEqual(t);
  });
});
