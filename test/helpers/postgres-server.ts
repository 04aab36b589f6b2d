/**
 * A private PostgreSQL cluster for the restart fault test (the machine's cluster is shared with
 * other tests and must stay up): initdb into a temporary folder, its own port, trust auth. As root
 * the server runs as the postgres user, which PostgreSQL requires.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

function pgBin(name: string): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const p = join(root, v, 'bin', name);
    if (existsSync(p)) return p;
  }
  return name;
}

export interface PostgresServer {
  readonly url: string;
  restart(downMs?: number): void;
  stop(): void;
}

export function startPostgres(port: number): PostgresServer {
  const dir = mkdtempSync(join(tmpdir(), 'nf-pg-'));
  const asRoot = userInfo().uid === 0;
  const run = (bin: string, args: string[]) => {
    const cmd = asRoot ? ['runuser', ['-u', 'postgres', '--', pgBin(bin), ...args]] : [pgBin(bin), args];
    execFileSync(cmd[0] as string, cmd[1] as string[], { stdio: 'pipe' });
  };
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()), -1);
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  run('pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', 'start']);
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    /** Stops the server (fast shutdown: clients are disconnected), stays down `downMs`, starts it. */
    restart(downMs = 0) {
      run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      if (downMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, downMs);
      run('pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', 'start']);
    },
    stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
