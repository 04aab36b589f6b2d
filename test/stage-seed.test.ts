import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../src/config.ts';
import { DIST_SEED_OFFSET, stageSeed } from '../src/model/batch.ts';

describe('stageSeed', () => {
  it('gives the segmentation net the run seed and the distance net the run seed + 1,000,003', () => {
    // The offset is part of every recorded run's reproducibility: changing it changes stage 2.
    expect(DIST_SEED_OFFSET).toBe(1_000_003);
    expect([stageSeed(42, 'seg'), stageSeed(42, 'dist')]).toEqual([42, 1_000_045]);
  });

  it('is the only place the offset is written', () => {
    const found: string[] = [];
    for (const top of ['src', 'activities', 'workflows', 'platform', 'cli', 'scripts']) {
      for (const f of readdirSync(join(REPO_ROOT, top), { recursive: true, encoding: 'utf8' })) {
        if (f.endsWith('.ts') && /1_?000_?003/.test(readFileSync(join(REPO_ROOT, top, f), 'utf8')))
          found.push(`${top}/${f}`);
      }
    }
    expect(found).toEqual(['src/model/batch.ts']);
  });
});
