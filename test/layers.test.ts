import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../src/config.ts';
import { readLabels } from '../src/imaging/io.ts';
import { writeLayerPng } from '../src/imaging/layers.ts';

describe('writeLayerPng', () => {
  it('quantises a float map to 16 bits (clipped, NaN as 0) and writes a label map as is, making folders', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nf-layers-'));
    const prob = join(dir, 'new', 'sub', 'x.prob.png');
    await writeLayerPng(prob, { width: 5, height: 1, data: Float32Array.from([0, 0.5, 1, 7, Number.NaN]) });
    expect(Array.from((await readLabels(prob)).data)).toEqual([0, 32768, 65535, 65535, 0]);
    const markers = join(dir, 'x.markers.png');
    await writeLayerPng(markers, { width: 3, height: 1, data: Int32Array.from([0, 2, 40000]) });
    expect(Array.from((await readLabels(markers)).data)).toEqual([0, 2, 40000]);
  });
});

describe('layering', () => {
  it('the library, activities and workflows import nothing from dashboards/', () => {
    const offenders: string[] = [];
    for (const top of ['src', 'activities', 'workflows']) {
      const root = join(REPO_ROOT, top);
      for (const f of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
        if (!f.endsWith('.ts')) continue;
        const text = readFileSync(join(root, f), 'utf8');
        if (/from\s+['"][./]*dashboards\//.test(text)) offenders.push(relative(REPO_ROOT, join(root, f)));
      }
    }
    expect(offenders).toEqual([]);
  });
});
