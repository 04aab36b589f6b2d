// The Temporal SDK's log lines go to the log file under the NucleiFlow home, and to stderr only when
// NUCLEIFLOW_TEMPORAL_LOG_STDERR=1 asks for it (platform/worker.ts installRuntime).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../src/config.ts';

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const script = `
  const { installRuntime } = await import(${JSON.stringify(join(REPO_ROOT, 'platform', 'worker.ts'))});
  const { Runtime } = await import('@temporalio/worker');
  installRuntime();
  Runtime.instance().logger.warn('probe warning', { queue: 'q1' });
  Runtime.instance().logger.info('probe info');
  // The SDK hands log entries to the logger asynchronously, so exit only once the last line the
  // level lets through (PROBE_LAST) is in the file (at most 20 s); a fixed 200 ms lost lines.
  const { existsSync, readFileSync } = await import('node:fs');
  const file = process.env.NUCLEIFLOW_HOME + '/logs/temporal-sdk.log';
  const has = () => existsSync(file) && readFileSync(file, 'utf8').includes(process.env.PROBE_LAST);
  for (let i = 0; i < 200 && !has(); i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => process.stderr.write('', r));
  process.exit(0); // the installed runtime would keep the process alive
`;

/** Runs the probe in a home of its own; `last` is the last line its log level lets through. */
function run(env: NodeJS.ProcessEnv, last: string) {
  const home = mkdtempSync(join(tmpdir(), 'nf-sdk-log-'));
  homes.push(home);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, NUCLEIFLOW_HOME: home, PROBE_LAST: last, ...env },
    timeout: 60_000,
  });
  return { ...r, log: readFileSync(join(home, 'logs', 'temporal-sdk.log'), 'utf8') };
}

describe('the Temporal SDK log', () => {
  it('goes to <home>/logs/temporal-sdk.log at WARN, not to the terminal', () => {
    const r = run(
      { NUCLEIFLOW_TEMPORAL_LOG: undefined, NUCLEIFLOW_TEMPORAL_LOG_STDERR: undefined },
      'probe warning',
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/probe/);
    expect(r.stdout).not.toMatch(/probe/);
    const log = r.log;
    expect(log).toMatch(/^\d{4}-\d\d-\d\dT\S+Z \[WARN\] probe warning \{"queue":"q1"\}$/m);
    expect(log).not.toMatch(/probe info/);
  });

  it('is also printed on stderr with NUCLEIFLOW_TEMPORAL_LOG_STDERR=1', () => {
    const r = run({ NUCLEIFLOW_TEMPORAL_LOG: 'INFO', NUCLEIFLOW_TEMPORAL_LOG_STDERR: '1' }, 'probe info');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\[WARN\] probe warning/);
    expect(r.stderr).toMatch(/\[INFO\] probe info/);
  });
});
