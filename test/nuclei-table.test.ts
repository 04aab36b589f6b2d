import { describe, expect, it } from 'vitest';
import { nucleusTable } from '../dashboards/server/nuclei.ts';
import type { LabelImage } from '../src/imaging/types.ts';

const img = (w: number, d: number[]): LabelImage => ({
  width: w,
  height: d.length / w,
  data: Int32Array.from(d),
});

describe('nucleusTable', () => {
  it('reports the ids found in the files, gaps and large ids included', () => {
    // 4x2. Pred 70000 (3 px) overlaps GT 9 (2 px) and GT 5 (1 px); pred 3 (2 px) overlaps GT 5.
    const gt = img(4, [9, 9, 5, 0, 0, 0, 5, 5]);
    const pred = img(4, [70000, 70000, 70000, 0, 0, 0, 3, 3]);
    const t = nucleusTable(pred, gt);
    expect(t.id).toEqual([3, 70000]);
    expect(t.area).toEqual([2, 3]);
    expect(t.cx).toEqual([2.5, 1]);
    expect(t.cy).toEqual([1, 0]);
    // Pred 3 vs GT 5: 2 / 3. Pred 70000 vs GT 9: 2 / 3, vs GT 5: 1 / 5.
    expect(t.gt).toEqual([5, 9]);
    expect(t.iou).toEqual([0.667, 0.667]);
    expect(t.gtId).toEqual([5, 9]);
    expect(t.gtArea).toEqual([3, 2]);
    expect(nucleusTable(pred, null).gt).toEqual([0, 0]);
  });
});
