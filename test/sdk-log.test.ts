// The Temporal SDK's log lines go to the log file under the NucleiFlow home, and to stderr only when
// NUCLEIFLOW_TEMPORAL_LOG_STDERR=1 asks for it (platform/worker.ts installRuntime).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../src/config.ts';

const home = mkdtempSync(join(tmpdir(), 'nf-sdk-log-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

const script = `
  const { installRuntime } = await import(${JSON.stringify(join(REPO_ROOT, 'platform', 'worker.ts'))});
  const { Runtime } = await import('@temporalio/worker');
  installRuntime();
  Runtime.instance().logger.warn('probe warning', { queue: 'q1' });
  Runtime.instance().logger.info('probe info');
  await new Promise((r) => setTimeout(r, 200));
  process.exit(0); // the installed runtime would keep the process alive
`;

function run(env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, NUCLEIFLOW_HOME: home, ...env },
    timeout: 60_000,
  });
}

describe('the Temporal SDK log', () => {
  it('goes to <home>/logs/temporal-sdk.log at WARN, not to the terminal', () => {
    const r = run({ NUCLEIFLOW_TEMPORAL_LOG: undefined, NUCLEIFLOW_TEMPORAL_LOG_STDERR: undefined });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/probe/);
    expect(r.stdout).not.toMatch(/probe/);
    const log = readFileSync(join(home, 'logs', 'temporal-sdk.log'), 'utf8');
    expect(log).toMatch(/^\d{4}-\d\d-\d\dT\S+Z \[WARN\] probe warning \{"queue":"q1"\}$/m);
    expect(log).not.toMatch(/probe info/);
  });

  it('is also printed on stderr with NUCLEIFLOW_TEMPORAL_LOG_STDERR=1', () => {
    const r = run({ NUCLEIFLOW_TEMPORAL_LOG: 'INFO', NUCLEIFLOW_TEMPORAL_LOG_STDERR: '1' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\[WARN\] probe warning/);
    expect(r.stderr).toMatch(/\[INFO\] probe info/);
  });
});
