// The one per-subset mean (src/metrics/subsets.ts) and the tables that print it.
import { describe, expect, it } from 'vitest';
import { inSubset, meanOf, perSubset, subsetMeans } from '../src/metrics/subsets.ts';
import { table1 } from '../src/tracking/report.ts';

const row = (image: string, subset: 'seen' | 'unseen', aji: number, dice: number) => ({
  image,
  organ: 'Liver',
  subset,
  aji,
  dice,
  f1: 0.5,
  ajiPlus: 0.5,
  pq: 0.5,
  nGt: 10,
  nPred: 9,
});

// Two seen images and one unseen: the mean over all images (0.5) is not the mean of the two
// subset means (0.45), so a per-subset-then-average shortcut fails here.
const rows = [row('a', 'seen', 0.2, 0.6), row('b', 'seen', 0.4, 0.8), row('c', 'unseen', 0.9, 0.1)];

describe('per-subset means', () => {
  it('averages each subset over its own images and "all" over every image', () => {
    const m = subsetMeans(rows, ['aji', 'dice'] as const);
    expect(m.seen!.aji).toBeCloseTo(0.3, 12);
    expect(m.seen!.dice).toBeCloseTo(0.7, 12);
    expect(m.unseen!.aji).toBeCloseTo(0.9, 12);
    expect(m.all!.aji).toBeCloseTo(0.5, 12);
    expect(m.all!.dice).toBeCloseTo(0.5, 12);
  });

  it('has no average for a subset without images', () => {
    const m = subsetMeans(inSubset(rows, 'seen'), ['aji'] as const);
    expect(m.unseen).toBeNull();
    expect(m.all!.aji).toBeCloseTo(0.3, 12);
    expect(meanOf([], ['aji'] as const)).toBeNull();
  });

  it('hands each subset its rows', () => {
    expect(perSubset(rows, (rs) => rs.map((r) => r.image))).toEqual({
      seen: ['a', 'b'],
      unseen: ['c'],
      all: ['a', 'b', 'c'],
    });
  });

  it('is what the Table-1 report prints', () => {
    const { header, body } = table1(rows);
    const aji = header.indexOf('AJI');
    const at = (label: string) => body.find((r) => r[0] === label)![aji];
    expect(at('Average, seen organs')).toBe('30.00');
    expect(at('Average, unseen organs')).toBe('90.00');
    expect(at('Average, all')).toBe('50.00');
  });
});
