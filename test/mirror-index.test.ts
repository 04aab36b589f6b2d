import { describe, expect, it } from 'vitest';
import { mirrorIndex } from '../src/imaging/crop.ts';

describe('mirrorIndex', () => {
  it("reflects without repeating the edge (numpy 'reflect'), below 0, past n and far outside", () => {
    const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, k) => a + k);
    // n = 4: period 6, 0 1 2 3 2 1 | 0 1 2 3 2 1 ...
    expect(range(-7, 10).map((i) => mirrorIndex(i, 4))).toEqual([
      1, 0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2,
    ]);
    expect(range(0, 3).map((i) => mirrorIndex(i, 4))).toEqual([0, 1, 2, 3]); // inside: unchanged
    expect(range(-3, 3).map((i) => mirrorIndex(i, 2))).toEqual([1, 0, 1, 0, 1, 0, 1]);
    expect(mirrorIndex(1000 * 6 + 4, 4)).toBe(2);
    expect(mirrorIndex(-1000 * 6 - 1, 4)).toBe(1);
  });

  it('gives 0 for a one-pixel axis whatever the index', () => {
    for (const i of [-5, -1, 0, 1, 7]) expect(mirrorIndex(i, 1)).toBe(0);
  });
});
