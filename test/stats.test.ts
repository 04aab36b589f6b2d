/** src/util/stats.ts against published values: Student's t table and a paired interval by hand. */
import { describe, expect, it } from 'vitest';
import { mean, pairedTInterval, sampleSd, studentTCdf, studentTQuantile } from '../src/util/stats.ts';

describe('Student t', () => {
  it('gives the two-sided 95% and 99% critical values of the t table', () => {
    // t_{0.975} for df 1, 4, 7, 13 and t_{0.995} for df 10, from any t table.
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.7062, 4);
    expect(studentTQuantile(0.975, 4)).toBeCloseTo(2.7764, 4);
    expect(studentTQuantile(0.975, 7)).toBeCloseTo(2.3646, 4);
    expect(studentTQuantile(0.975, 13)).toBeCloseTo(2.1604, 4);
    expect(studentTQuantile(0.995, 10)).toBeCloseTo(3.1693, 4);
    // Symmetric, and the normal's 1.96 in the limit.
    expect(studentTQuantile(0.025, 7)).toBeCloseTo(-2.3646, 4);
    expect(studentTQuantile(0.975, 1e6)).toBeCloseTo(1.96, 2);
    expect(studentTCdf(0, 3)).toBeCloseTo(0.5, 12);
  });

  it('refuses p outside (0, 1)', () => {
    expect(() => studentTQuantile(1, 4)).toThrow(/p must lie/);
  });
});

describe('paired t interval', () => {
  it('matches the interval computed by hand', () => {
    // d = 1..5: mean 3, sd sqrt(2.5), se sqrt(0.5); 3 ± 2.776445 * 0.707107.
    const ci = pairedTInterval([1, 2, 3, 4, 5]);
    expect(ci.n).toBe(5);
    expect(ci.mean).toBe(3);
    expect(ci.low!).toBeCloseTo(3 - 2.776445 * Math.sqrt(0.5), 5);
    expect(ci.high!).toBeCloseTo(3 + 2.776445 * Math.sqrt(0.5), 5);
    expect(ci.low!).toBeCloseTo(1.0368, 4);
  });

  it('has no interval for one pair, and a zero-width one for constant differences', () => {
    expect(pairedTInterval([0.2])).toMatchObject({ mean: 0.2, low: null, high: null });
    const c = pairedTInterval([0.02, 0.02, 0.02]);
    expect(c.low).toBeCloseTo(0.02, 12);
    expect(c.high).toBeCloseTo(0.02, 12);
  });

  it('mean and sample sd', () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    expect(sampleSd([1, 2, 3, 4])).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(sampleSd([7])).toBeNull();
  });
});
