// Post-processing selection (src/postprocess/grid.ts, tune.ts) and the stage-1-alone instances (stage1.ts).
import { describe, expect, it } from 'vitest';
import { resolveSpec } from '../experiments/index.ts';
import paper from '../experiments/paper.ts';
import quick from '../experiments/quick.ts';
import { distanceTargets } from '../src/groundtruth/distance-targets.ts';
import type { FloatImage, LabelImage } from '../src/imaging/types.ts';
import { COARSE_GRID, gridSettings, settingKey } from '../src/postprocess/grid.ts';
import { stage1Instances } from '../src/postprocess/stage1.ts';
import { type TuningImage, tunePostprocess } from '../src/postprocess/tune.ts';

/** A float map from rows of characters, `values` giving each character's probability. */
function probMap(rows: string[], values: Record<string, number>): FloatImage {
  const w = rows[0]!.length;
  const data = new Float32Array(w * rows.length);
  rows.forEach((r, y) => {
    for (let x = 0; x < w; x++) data[y * w + x] = values[r[x]!]!;
  });
  return { width: w, height: rows.length, data };
}

const toRows = (l: LabelImage) =>
  Array.from({ length: l.height }, (_, y) =>
    Array.from(l.data.subarray(y * l.width, (y + 1) * l.width), (v) => (v === 0 ? '.' : String(v))).join(''),
  );

describe('stage1Instances (Table 1 "U-Net" column)', () => {
  // A: 5x5 with a hole (h); B: two 4x4 squares touching only diagonally; C: 3x3 (9 px, under 20);
  // e: exactly 0.5, which is not above the threshold.
  const prob = probMap(
    [
      '.e..........',
      '.AAAAA..CCC.',
      '.AAAAA..CCC.',
      '.AAhAA..CCC.',
      '.AAAAA......',
      '.AAAAA......',
      '............',
      '.BBBB.......',
      '.BBBB.......',
      '.BBBB.......',
      '.BBBB.......',
      '.....BBBB...',
      '.....BBBB...',
      '.....BBBB...',
      '.....BBBB...',
    ],
    { '.': 0.1, e: 0.5, h: 0.2, A: 0.9, B: 0.7, C: 0.95 },
  );

  it('labels 8-connected components of prob > threshold, removes those under 20 px, fills holes', () => {
    expect(toRows(stage1Instances(prob))).toEqual([
      '............',
      '.11111......',
      '.11111......',
      '.11111......',
      '.11111......',
      '.11111......',
      '............',
      '.2222.......',
      '.2222.......',
      '.2222.......',
      '.2222.......',
      '.....2222...',
      '.....2222...',
      '.....2222...',
      '.....2222...',
    ]);
  });

  it('applies the threshold and the growth it is given', () => {
    const high = stage1Instances(prob, { threshold: 0.8 });
    expect(toRows(high).slice(5, 9)).toEqual([
      '.11111......',
      '............',
      '............',
      '............',
    ]);
    const grown = stage1Instances(prob, { threshold: 0.8, expand: 1 });
    expect(toRows(grown).slice(0, 2)).toEqual(['.11111......', '1111111.....']);
  });
});

describe('tunePostprocess', () => {
  // Three separate discs of radius 7. Stage 1 is sure (0.95) inside each disc eroded by one pixel
  // and unsure (0.65) on its outline, so only threshold 0.5 without growth gives the discs exactly.
  const W = 64;
  const centres = [
    [14, 14],
    [44, 18],
    [28, 46],
  ] as const;
  const gt = new Int32Array(W * W);
  for (let y = 0; y < W; y++)
    for (let x = 0; x < W; x++)
      centres.forEach(([cx, cy], k) => {
        if ((x - cx) ** 2 + (y - cy) ** 2 <= 49) gt[y * W + x] = k + 1;
      });
  const fg = new Float32Array(W * W).fill(0.05);
  for (let y = 1; y < W - 1; y++)
    for (let x = 1; x < W - 1; x++) {
      const l = gt[y * W + x]!;
      if (l === 0) continue;
      const inner = [-1, 1, -W, W].every((d) => gt[y * W + x + d] === l);
      fg[y * W + x] = inner ? 0.95 : 0.65;
    }
  const gtImg: LabelImage = { width: W, height: W, data: gt };
  const image: TuningImage = {
    id: 'synthetic',
    gt: gtImg,
    foreground: { width: W, height: W, data: fg },
    distance: distanceTargets(gtImg),
  };
  const grid = { threshold: [0.8, 0.5], sigmaScale: [0.25, 0.7], minDistanceScale: [0.25], expand: [2, 0] };

  it('scores every setting and chooses the one that reproduces the ground truth', async () => {
    const seen: number[] = [];
    const r = await tunePostprocess([image, image], grid, { onSetting: (_s, i) => void seen.push(i) });
    expect(r.scores.map((s) => s.key)).toEqual(gridSettings(grid).map(settingKey));
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const s of r.scores) expect(s.images).toBe(2);
    // Equal best scores (both sigmas): the first in grid order is chosen.
    expect(r.chosen.key).toBe('thr=0.5,sigma=0.25,seed=0.25,grow=0');
    expect(r.chosen.aji).toBeCloseTo(1, 12);
    expect(r.chosen.dice).toBeCloseTo(1, 12);
    expect(r.chosen.f1).toBeCloseTo(1, 12);
    for (const s of r.scores) expect(s.aji).toBeLessThanOrEqual(r.chosen.aji);
    const eroded = r.scores.find((s) => s.key === 'thr=0.8,sigma=0.25,seed=0.25,grow=0')!;
    expect(eroded.aji).toBeLessThan(0.95);
  });

  it('chooses the seed rule too when the grid lists them, keyed with seeds=', async () => {
    const interior = { width: W, height: W, data: Float32Array.from(fg, (v) => (v > 0.9 ? 0.9 : 0.1)) };
    const both = { ...grid, markers: ['distance', 'interior'] as const };
    const r = await tunePostprocess([{ ...image, interior }], both);
    expect(r.scores).toHaveLength(16);
    expect(r.scores.map((s) => s.key)).toEqual(gridSettings(both).map(settingKey));
    expect(r.scores[0]!.key).toBe('thr=0.8,sigma=0.25,seed=0.25,grow=2,seeds=distance');
    expect(r.scores[8]!.key).toBe('thr=0.8,sigma=0.25,seed=0.25,grow=2,seeds=interior');
    // Both seed rules reproduce the ground truth at thr=0.5, grow=0 (AJI 1): the first in grid order wins.
    expect(r.chosen.key).toBe('thr=0.5,sigma=0.25,seed=0.25,grow=0,seeds=distance');
    expect(r.chosen.setting.markers).toBe('distance');
    expect(r.chosen.aji).toBe(Math.max(...r.scores.map((s) => s.aji)));
    expect(r.chosen.aji).toBeCloseTo(1, 12);
    // Without the interior map an interior setting cannot be scored.
    await expect(tunePostprocess([image], { ...grid, markers: ['interior'] })).rejects.toThrow(
      /needs the interior map/,
    );
  });

  it('refuses an empty image list', async () => {
    await expect(tunePostprocess([], grid)).rejects.toThrow(/no images/);
  });
});

describe('spec postprocess.grid', () => {
  const withGrid = (pp: Record<string, unknown>) => resolveSpec('t', { ...paper, postprocess: pp });
  const base = { sigmaRule: 'paper', iterativeSizeReestimation: false };

  it('is absent in paper (the fixed rule) and set in quick', () => {
    expect(resolveSpec('paper', paper).spec.postprocess.grid).toBeUndefined();
    expect(gridSettings(resolveSpec('quick', quick).spec.postprocess.grid || COARSE_GRID)).toHaveLength(4);
  });

  it('defaults every list left out to the coarse grid', () => {
    expect(withGrid({ ...base, grid: {} }).spec.postprocess.grid).toEqual(COARSE_GRID);
    expect(gridSettings(COARSE_GRID)).toHaveLength(48);
    expect(withGrid({ ...base, grid: { expand: [0] } }).spec.postprocess.grid).toEqual({
      ...COARSE_GRID,
      expand: [0],
    });
    expect(withGrid({ ...base, grid: false }).spec.postprocess.grid).toBe(false);
  });

  it('refuses a grid that cannot apply, naming the field', () => {
    expect(() => withGrid({ ...base, sigmaRule: 'fixed', sigma: 2, grid: {} })).toThrow(
      /postprocess\.grid: a grid tunes sigmaScale/,
    );
    expect(() => withGrid({ ...base, expand: 2, grid: {} })).toThrow(/postprocess\.expand: the grid chooses/);
    expect(() => withGrid({ ...base, grid: { threshold: [0.9, 0.9] } })).toThrow(
      /postprocess\.grid\.threshold: a value is repeated/,
    );
    expect(() => withGrid({ ...base, grid: { threshold: [1.5] } })).toThrow(
      /postprocess\.grid\.threshold\[0\]/,
    );
    expect(() => withGrid({ ...base, grid: { thresholds: [0.5] } })).toThrow(
      /postprocess\.grid\.thresholds: unknown key/,
    );
    expect(() => withGrid({ ...base, grid: true })).toThrow(/postprocess\.grid: false, or an object/);
  });
});
