// Exact resume after SIGKILL: a real `nucleiflow train` child process is killed mid-epoch and
// restarted; its final weights, Adam moments and Rng state must equal an uninterrupted run's.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import { BIN } from './helpers/cli.ts';

const ARGS = [
  '--stage',
  'seg',
  '--max-train-images',
  '2',
  '--seg-epochs',
  '4',
  '--steps-per-epoch',
  '6',
  '--input-size',
  '64',
  '--no-progress',
];

function trainChild(runDir: string): { child: ChildProcess; done: Promise<number | null> } {
  const child = spawn(
    process.execPath,
    [BIN, 'train', ...ARGS, '--run-dir', runDir, '--out', join(runDir, 'model')],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
    },
  );
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const done = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      if (code !== 0 && code !== null) process.stderr.write(err);
      resolve(code);
    }),
  );
  return { child, done };
}

const epochOf = async (dir: string) =>
  (await loadCheckpoint(join(dir, 'seg')).catch(() => undefined))?.header.epoch ?? 0;

describe('exact resume after SIGKILL', () => {
  it('a killed training process resumes to the same final state as an uninterrupted one', async () => {
    const a = mkdtempSync(join(tmpdir(), 'nf-resume-a-'));
    const b = mkdtempSync(join(tmpdir(), 'nf-resume-b-'));
    const full = trainChild(a);
    const victim = trainChild(b);
    // Kill B while it is inside epoch 2: right after the epoch-1 checkpoint lands.
    while ((await epochOf(b)) < 1) await new Promise((r) => setTimeout(r, 15));
    await new Promise((r) => setTimeout(r, 60));
    victim.child.kill('SIGKILL');
    expect(await victim.done).toBeNull();
    const atKill = await epochOf(b);
    expect(atKill).toBeGreaterThanOrEqual(1);
    expect(atKill).toBeLessThan(4);
    expect(await full.done).toBe(0);
    expect(await trainChild(b).done).toBe(0);

    const ca = (await loadCheckpoint(join(a, 'seg')))!;
    const cb = (await loadCheckpoint(join(b, 'seg')))!;
    expect(cb.header.epoch).toBe(4);
    expect(cb.header.rngState).toEqual(ca.header.rngState);
    expect(cb.header.adamSteps).toBe(ca.header.adamSteps);
    for (const key of ['weights', 'm', 'v'] as const) {
      ca[key].forEach((t, i) => {
        expect(Buffer.from(cb[key][i]!.buffer).equals(Buffer.from(t.buffer)), `${key}[${i}] differs`).toBe(
          true,
        );
      });
    }
    expect(cb.header.history.map((h) => h.loss)).toEqual(ca.header.history.map((h) => h.loss));
  });
});
