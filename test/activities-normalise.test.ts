import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { realCompute } from '../activities/pipeline.ts';
import type { SlideRef, StainTarget } from '../activities/types.ts';
import { loadSpec } from '../experiments/index.ts';
import { loadConfig } from '../src/config.ts';
import { kumarSplit } from '../src/data/manifest.ts';
import { readRgb } from '../src/imaging/io.ts';
import { fitMacenko } from '../src/stain/macenko.ts';

describe('normalise activity compute', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'nf-norm-cache-'));
  afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

  it('reports 0 cache hits on a cold cache, then every image as a hit', async () => {
    const config = { ...loadConfig(), cacheDir };
    const { spec } = (await loadSpec('quick')).runs[0]!;
    const slides: SlideRef[] = (await kumarSplit(config.dataDir)).train.slice(0, 2).map((s) => ({
      id: s.id,
      organ: s.organ,
      subset: 'train',
      image: s.imagePath,
      labels: s.labelPath!,
    }));
    const m = fitMacenko(await readRgb(slides[0]!.image));
    const stain: StainTarget = {
      referenceId: slides[0]!.id,
      stainMatrix: Array.from(m.stainMatrix),
      maxConc: Array.from(m.maxConc),
      tissuePixels: m.tissuePixels,
    };
    const compute = realCompute(config);
    const seen: number[] = [];
    expect(await compute.normalise(spec, slides, stain, (i) => seen.push(i))).toEqual({
      cached: 0,
      computed: 2,
    });
    expect(seen).toEqual([1, 2]);
    expect(readdirSync(join(cacheDir, 'stain-normalised'))).toHaveLength(2);
    expect(await compute.normalise(spec, slides, stain, () => {})).toEqual({ cached: 2, computed: 0 });
  });
});
