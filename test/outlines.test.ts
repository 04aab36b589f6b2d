import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRng } from '../src/augment/rng.ts';
import { ensureToolsVenv, loadConfig, REPO_ROOT } from '../src/config.ts';
import { readLabels } from '../src/imaging/io.ts';
import { type Outline, outlineOfMask, signedArea, traceOutlines } from '../src/imaging/outlines.ts';
import { centresInside } from './helpers/centres-inside.ts';

const tmp = mkdtempSync(join(tmpdir(), 'nf-outlines-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Labels from rows of digits ('.' or '0' = background). */
function grid(rows: string[]): { width: number; height: number; data: Int32Array } {
  const width = rows[0]!.length;
  const data = new Int32Array(width * rows.length);
  rows.forEach((r, y) => {
    [...r].forEach((c, x) => {
      data[y * width + x] = c === '.' ? 0 : Number(c);
    });
  });
  return { width, height: rows.length, data };
}

describe('traceOutlines', () => {
  it('outlines a pixel by its four corners and a block by its four outer corners, collinear corners dropped', () => {
    expect(traceOutlines(grid(['1'])).map((o) => o.polygons)).toEqual([
      [
        [
          [
            [0, 0],
            [1, 0],
            [1, 1],
            [0, 1],
            [0, 0],
          ],
        ],
      ],
    ]);
    const [o] = traceOutlines(grid(['...', '.11', '.11']));
    expect(o!.polygons).toEqual([
      [
        [
          [1, 1],
          [3, 1],
          [3, 3],
          [1, 3],
          [1, 1],
        ],
      ],
    ]);
  });

  it('keeps pieces that meet only at a corner apart (4-connected), one polygon each, largest first', () => {
    const [o] = traceOutlines(grid(['1.', '.1']));
    expect(o!.polygons.length).toBe(2);
    const [big] = traceOutlines(grid(['1..', '.11', '.11']));
    expect(big!.polygons.map((p) => signedArea(p[0]!))).toEqual([4, 1]);
  });

  it('keeps a hole as a clockwise ring, and a pocket meeting the outside at a corner as a hole touching the shell', () => {
    const [ring] = traceOutlines(grid(['111', '1.1', '111']));
    expect(ring!.polygons.length).toBe(1);
    expect(ring!.polygons[0]!.map(signedArea)).toEqual([9, -1]);
    // (2, 1) is background that meets the outside background (3, 0) only at the corner (3, 1).
    const [pocket] = traceOutlines(grid(['111.', '11.1', '1111']));
    expect(pocket!.polygons.length).toBe(1);
    expect(pocket!.polygons[0]!.map(signedArea)).toEqual([11, -1]);
    expect(pocket!.polygons[0]![1]).toContainEqual([3, 1]);
    expect(pocket!.polygons[0]![0]).toContainEqual([3, 1]);
  });

  it('gives every id of a label image its own outline, in id order, offset to the image', () => {
    const out = traceOutlines(grid(['.22', '1.2', '...']));
    expect(out.map((o) => o.id)).toEqual([1, 2]);
    expect(out[0]!.polygons[0]![0]![0]).toEqual([0, 1]);
    expect(out[1]!.polygons.flat().reduce((a, r) => a + signedArea(r), 0)).toBe(3);
  });

  it('encloses exactly the pixels of 2,000 random labelings: area = pixel count, rasterised back = the label', () => {
    const r0 = createRng(11);
    const rng = (): number => r0.next();
    for (let t = 0; t < 2000; t++) {
      const w = 1 + Math.floor(rng() * 9);
      const h = 1 + Math.floor(rng() * 9);
      const p = 0.3 + 0.5 * rng();
      const labels = { width: w, height: h, data: new Int32Array(w * h) };
      for (let i = 0; i < w * h; i++) labels.data[i] = rng() < p ? 1 + Math.floor(rng() * 3) : 0;
      for (const o of traceOutlines(labels)) {
        const want = Uint8Array.from(labels.data, (v) => (v === o.id ? 1 : 0));
        expect(o.polygons.flat().reduce((a, r) => a + signedArea(r), 0)).toBe(
          want.reduce((a, v) => a + v, 0),
        );
        expect(centresInside(o.polygons.flat(), { x: 0, y: 0, width: w, height: h })).toEqual(want);
      }
    }
  });

  it('rejects a negative label and a mask of the wrong size', () => {
    expect(() => traceOutlines({ width: 2, height: 1, data: new Int32Array([0, -3]) })).toThrow(
      /traceOutlines: negative label -3 at x=1, y=0/,
    );
    expect(() => outlineOfMask(new Uint8Array(5), 2, 2)).toThrow(/mask of 5 values for 2x2/);
  });
});

describe('traceOutlines against GEOS (shapely, tools venv)', () => {
  it('gives valid geometries enclosing and rasterising back to exactly the pixels: random labelings and MoNuSeg ground truth', async () => {
    const r0 = createRng(5);
    const rng = (): number => r0.next();
    const cases: { width: number; height: number; data: number[]; outlines: Outline[] }[] = [];
    for (let t = 0; t < 1000; t++) {
      const w = 2 + Math.floor(rng() * 12);
      const h = 2 + Math.floor(rng() * 12);
      const p = 0.3 + 0.5 * rng();
      const data = new Int32Array(w * h);
      for (let i = 0; i < w * h; i++) data[i] = rng() < p ? 1 + Math.floor(rng() * 3) : 0;
      cases.push({
        width: w,
        height: h,
        data: [...data],
        outlines: traceOutlines({ width: w, height: h, data }),
      });
    }
    const gt = await readLabels(join(loadConfig().dataDir, 'labels', 'TCGA-21-5784-01Z-00-DX1.png'));
    const gtOutlines = traceOutlines(gt);
    cases.push({ width: gt.width, height: gt.height, data: [...gt.data], outlines: gtOutlines });
    const file = join(tmp, 'cases.json');
    writeFileSync(file, JSON.stringify(cases));
    const out = execFileSync(
      join(ensureToolsVenv(), 'bin', 'python'),
      [join(REPO_ROOT, 'tools', 'python', 'check_outlines.py'), file],
      { encoding: 'utf8', maxBuffer: 1 << 24 },
    );
    const r = JSON.parse(out) as {
      outlines: number;
      invalid: number;
      areaWrong: number;
      rasterWrong: number;
    };
    const total = cases.reduce((a, c) => a + c.outlines.length, 0);
    expect(gtOutlines.length).toBe(398);
    expect(r).toMatchObject({ outlines: total, invalid: 0, areaWrong: 0, rasterWrong: 0 });
  }, 120_000);
});
