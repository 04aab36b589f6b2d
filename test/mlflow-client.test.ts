// The MLflow client's "unreachable" error names why fetch failed (fetch's own message says only
// "fetch failed"): a refused connection and a port fetch itself refuses read differently.
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { MlflowClient, MlflowError } from '../src/tracking/mlflow-client.ts';

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
