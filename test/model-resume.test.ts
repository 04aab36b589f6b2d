// Exact resume after SIGKILL with a steps budget: a training process is killed mid-epoch and
// restarted; its final weights, Adam moments and Rng state must equal an uninterrupted run's, and it
// stops after exactly the budget's steps although they are not a whole number of epochs.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../src/config.ts';
import { loadCheckpoint } from '../src/model/checkpoint.ts';

const CHILD = join(REPO_ROOT, 'test', 'helpers', 'train-child.ts');

function trainChild(dir: string): { child: ChildProcess; done: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
  });
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

const epochOf = async (dir: string) => (await loadCheckpoint(dir).catch(() => undefined))?.header.epoch ?? 0;

describe('exact resume after SIGKILL, steps budget', () => {
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

    const ca = (await loadCheckpoint(a))!;
    const cb = (await loadCheckpoint(b))!;
    // 22 steps = 3 epochs of 6 and one of 4; the lr dropped after ceil(22/3) = 8 and ceil(44/3) = 15 steps.
    expect([ca.header.epoch, ca.header.adamSteps]).toEqual([4, 22]);
    expect(ca.header.history.map((h) => h.steps)).toEqual([6, 12, 18, 22]);
    expect(ca.header.lrDrops).toEqual([8, 15]);
    expect(cb.header.epoch).toBe(4);
    expect(cb.header.adamSteps).toBe(22);
    expect(cb.header.lrDrops).toEqual([8, 15]);
    expect(cb.header.rngState).toEqual(ca.header.rngState);
    for (const key of ['weights', 'm', 'v'] as const) {
      expect(ca[key].length, `${key} count`).toBeGreaterThan(0);
      expect(cb[key], `${key} count`).toHaveLength(ca[key].length);
      ca[key].forEach((t, i) => {
        expect(Buffer.from(cb[key][i]!.buffer).equals(Buffer.from(t.buffer)), `${key}[${i}] differs`).toBe(
          true,
        );
      });
    }
    expect(cb.header.history.map((h) => [h.loss, h.lr])).toEqual(
      ca.header.history.map((h) => [h.loss, h.lr]),
    );
  });
});
