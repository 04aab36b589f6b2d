import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../src/config.ts';
import { readGrey, readLabels, writeLabelsPng } from '../src/imaging/io.ts';
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

describe('a markers layer with more seeds than 16 bits hold', () => {
  it('is written with every seed in place (values above 65535 folded into 1..65535); a label map with those ids is refused', async () => {
    // 70,000 seeds, one pixel each, on every other pixel of a 500x280 map (what an untrained
    // distance net gives the watershed on a large image).
    const [w, h, seeds] = [500, 280, 70_000];
    const data = new Int32Array(w * h);
    for (let k = 0; k < seeds; k++) data[2 * k] = k + 1;
    const dir = mkdtempSync(join(tmpdir(), 'nf-layers-'));
    const markers = join(dir, 'layers', 'x.markers.png');
    await writeLayerPng(markers, { width: w, height: h, data });
    const back = await readGrey(markers);
    expect([back.width, back.height, back.maxCode]).toEqual([w, h, 65535]);
    const wrong: number[] = [];
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      const want = v > 65535 ? v - 65535 : v;
      if (back.data[i] !== want) wrong.push(i);
    }
    expect(wrong).toEqual([]);
    expect(back.data[2 * 65535]).toBe(1); // seed 65536, folded, still a seed
    expect(back.data[2 * (seeds - 1)]).toBe(seeds - 65535);

    // The instance label map writer never folds: one clear error naming the file, nothing written.
    const labels = join(dir, 'x.png');
    await expect(writeLabelsPng(labels, { width: w, height: h, data })).rejects.toThrow(
      /x\.png: cannot store id 65536 \(pixel x=70, y=262\) in a 16-bit PNG \(ids must be 0\.\.65535\)/,
    );
    expect(readdirSync(dir)).toEqual(['layers']);
    expect(existsSync(labels)).toBe(false);
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
