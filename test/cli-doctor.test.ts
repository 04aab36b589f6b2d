import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.ts';

function doctor(env: Record<string, string>) {
  const clean = { ...process.env };
  for (const k of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'MLFLOW_TRACKING_URI']) delete clean[k];
  return runCli(['doctor', '--json'], {
    env: { ...clean, NUCLEIFLOW_HOME: mkdtempSync(join(tmpdir(), 'nf-doctor-')), ...env },
    timeoutMs: 60_000,
  });
}

describe('nucleiflow doctor', () => {
  it('passes on embedded defaults: native backend, PGlite, data folder found', () => {
    const r = doctor({});
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      checks: { name: string; ok: boolean; detail: string }[];
    };
    const by = Object.fromEntries(out.checks.map((c) => [c.name, c]));
    expect(by.tensorflow?.detail).toContain('backend tensorflow');
    expect(by.database?.detail).toContain('pglite');
    expect(by.data?.ok).toBe(true);
    expect(out.ok).toBe(true);
  });

  it('fails clearly, without a stack trace, on unreachable services and a missing data folder', () => {
    const r = doctor({
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/none',
      TEMPORAL_ADDRESS: '127.0.0.1:1',
      NUCLEIFLOW_DATA: '/nonexistent/monuseg',
    });
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      checks: { name: string; ok: boolean; detail: string }[];
    };
    const by = Object.fromEntries(out.checks.map((c) => [c.name, c]));
    expect(by.database?.detail).toMatch(/^DATABASE_URL: cannot connect/);
    expect(by.temporal?.detail).toMatch(/^TEMPORAL_ADDRESS 127.0.0.1:1 unreachable/);
    expect(by.data?.detail).toMatch(/^NUCLEIFLOW_DATA: no manifest.csv/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('rejects a malformed variable with one line and exit code 2', () => {
    const r = doctor({ TEMPORAL_ADDRESS: 'nonsense' });
    expect(r.status).toBe(2);
    expect(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('nucleiflow:')),
    ).toEqual(["nucleiflow: TEMPORAL_ADDRESS must be host:port, e.g. 127.0.0.1:7233 (got 'nonsense')"]);
  });
});
