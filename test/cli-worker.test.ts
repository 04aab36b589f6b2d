import { describe, expect, it } from 'vitest';
import { assertQueuesServable } from '../platform/worker.ts';
import { runCli } from './helpers/cli.ts';

describe('a train-gpu worker', () => {
  it('refuses to start with one line: no GPU backend is installed', () => {
    for (const queue of ['train-gpu', 'nucleiflow,train-gpu']) {
      const r = runCli(['worker', '--queue', queue], { timeoutMs: 60_000 });
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toEqual([
        'nucleiflow: queue train-gpu: no GPU backend is installed (only the CPU build @tensorflow/tfjs-node); GPU training is not available yet, use train-cpu',
      ]);
    }
  });

  it('is refused by the platform too, prefixed queue names included; train-cpu is not', () => {
    expect(() => assertQueuesServable(['t1-nucleiflow', 't1-train-gpu'])).toThrow(
      /^queue t1-train-gpu: no GPU backend is installed/,
    );
    expect(() => assertQueuesServable(['t1-nucleiflow', 't1-train-cpu'])).not.toThrow();
  });
});
