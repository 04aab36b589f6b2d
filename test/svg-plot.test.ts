/** The report's SVG line plots: well-formed XML, and every point where the axes put it. */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { linePlotSvg, niceTicks, plotScales } from '../src/report/svg-plot.ts';

const polylines = (svg: string): Record<string, [number, number][]> => {
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(svg) as {
    svg: {
      polyline: { 'data-series': string; points: string } | { 'data-series': string; points: string }[];
    };
  };
  const lines = Array.isArray(doc.svg.polyline) ? doc.svg.polyline : [doc.svg.polyline];
  return Object.fromEntries(
    lines.map((l) => [
      l['data-series'],
      l.points
        .split(' ')
        .filter(Boolean)
        .map((p) => p.split(',').map(Number) as [number, number]),
    ]),
  );
};

describe('linePlotSvg', () => {
  const series = [
    { name: 'loss', xs: [1, 2, 3, 4], ys: [1, 0.5, 0.25, 0.125] },
    { name: 'val_loss <&>', xs: [1, 2, 3, 4], ys: [1.5, 1, 0.75, 0.5] },
  ];
  const o = { title: 'a & b', xLabel: 'epoch', yLabel: 'loss', width: 680, height: 376 };

  it('is valid SVG with the title and legend escaped', () => {
    const svg = linePlotSvg(series, o);
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svg).toContain('<title>a &amp; b</title>');
    expect(svg).toContain('val_loss &lt;&amp;&gt;');
  });

  it('puts the extreme points on the corners of the plot area and the others in between', () => {
    // Plot area: x from 64 to 680 - 16 = 664, y from 32 to 376 - 44 = 332 (600 x 300 px).
    const pts = polylines(linePlotSvg(series, o));
    expect(pts.loss).toHaveLength(4);
    // x: epoch 1 -> 64, epoch 4 -> 664; y: 0.125 (min) -> 332, 1.5 (max) -> 32.
    expect(pts.loss![0]![0]).toBe(64);
    // Coordinates are written to two decimals.
    expect(pts.loss![0]![1]).toBeCloseTo(32 + 300 * (1 - (1 - 0.125) / 1.375), 2);
    expect(pts.loss![3]![0]).toBe(664);
    expect(pts.loss![3]![1]).toBe(332);
    expect(pts['val_loss <&>']![0]).toEqual([64, 32]);
    expect(pts.loss![1]![0]).toBe(64 + 200);
  });

  it('draws a log axis for the learning rate, one decade per step', () => {
    const lr = [{ name: 'lr', xs: [1, 2, 3], ys: [1e-3, 1e-4, 1e-5] }];
    const lo = { ...o, logY: true };
    const pts = polylines(linePlotSvg(lr, lo));
    expect(pts.lr!.map((p) => p[1])).toEqual([32, 182, 332]);
    const sc = plotScales(lr, lo);
    expect(sc.y(1e-4)).toBeCloseTo(182, 9);
  });

  it('leaves out non-finite values and round ticks cover the range', () => {
    const pts = polylines(linePlotSvg([{ name: 's', xs: [1, 2, 3], ys: [1, Number.NaN, 3] }], o));
    expect(pts.s).toHaveLength(2);
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(1, 3, 5, 1)).toEqual([1, 2, 3]);
    // Three epochs: ticks at whole epochs only.
    const svg = linePlotSvg([{ name: 's', xs: [1, 2, 3], ys: [1, 2, 3] }], o);
    const xTickLabels = [...svg.matchAll(/<text x="[\d.]+" y="346" text-anchor="middle">([^<]*)</g)].map(
      (m) => m[1],
    );
    expect(xTickLabels).toEqual(['1', '2', '3']);
  });
});
