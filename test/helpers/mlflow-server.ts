/**
 * A private MLflow server for fault tests (the shared one must stay up for other tests): same
 * flags as scripts/services.sh, its own port, SQLite file and artifact folder, so it can be
 * stopped and started again with its data intact.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '../../src/config.ts';

export async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export interface MlflowServer {
  readonly uri: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function mlflowServer(dir: string, port: number): MlflowServer {
  const venv = execFileSync('bash', [resolve(REPO_ROOT, 'scripts', 'setup-tools-venv.sh')], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .at(-1)!;
  const uri = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  mkdirSync(join(dir, 'artifacts'), { recursive: true });
  return {
    uri,
    async start() {
      child = spawn(
        join(venv, 'bin', 'mlflow'),
        [
          'server',
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
          '--workers',
          '1',
          '--backend-store-uri',
          `sqlite:///${join(dir, 'mlflow.db')}`,
          '--serve-artifacts',
          '--artifacts-destination',
          join(dir, 'artifacts'),
        ],
        { detached: true, stdio: 'ignore' },
      );
      const until = Date.now() + 120_000;
      while (Date.now() < until) {
        try {
          if ((await fetch(`${uri}/health`)).ok) return;
        } catch {
          // not up yet
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      throw new Error(`private MLflow did not start on ${uri}`);
    },
    async stop() {
      const c = child;
      if (!c?.pid || c.exitCode !== null) return;
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      // The server forks workers: stop its whole process group (the group this test started).
      process.kill(-c.pid, 'SIGKILL');
      await exited;
      child = undefined;
    },
  };
}
