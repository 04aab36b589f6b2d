/**
 * Chart descriptions the server hands to static/charts.js (which draws them with uPlot). Loss
 * and validation loss share the left axis; the learning rate gets a log-scaled right axis.
 */
import type { Curve } from '../../src/tracking/queries.ts';

export interface ChartSeries {
  label: string;
  x: number[];
  y: number[];
  axis: 'left' | 'right';
  colour: number;
  dash?: boolean;
}

export interface ChartSpec {
  id: string;
  title: string;
  xLabel: string;
  leftLabel: string;
  rightLabel?: string;
  series: ChartSeries[];
}

export const STAGES = [
  { stage: 'seg', title: 'Stage 1: segmentation U-Net' },
  { stage: 'dist', title: 'Stage 2: distance U-Net' },
] as const;

const LOSS_KEYS = ['loss', 'val_loss'];

/** Training curves of one run: one chart per net. */
export function runCharts(curves: Curve[]): ChartSpec[] {
  return STAGES.map(({ stage, title }) => {
    const mine = curves.filter((c) => c.stage === stage);
    const series: ChartSeries[] = [];
    for (const c of mine) {
      if (LOSS_KEYS.includes(c.key)) {
        series.push({
          label: c.key,
          x: c.steps,
          y: c.values,
          axis: 'left',
          colour: c.key === 'loss' ? 0 : 1,
        });
      } else if (c.key === 'lr') {
        series.push({ label: 'lr', x: c.steps, y: c.values, axis: 'right', colour: 2, dash: true });
      }
    }
    return {
      id: `chart-${stage}`,
      title,
      xLabel: 'epoch',
      leftLabel: 'loss',
      rightLabel: 'learning rate',
      series,
    };
  });
}

/** Overlaid curves of several runs: per net, every run's training (solid) and validation (dashed) loss. */
export function compareCharts(runs: { id: string; label: string; curves: Curve[] }[]): ChartSpec[] {
  return STAGES.map(({ stage, title }) => {
    const series: ChartSeries[] = [];
    runs.forEach((r, i) => {
      for (const c of r.curves) {
        if (c.stage !== stage || !LOSS_KEYS.includes(c.key)) continue;
        series.push({
          label: `${r.label} ${c.key}`,
          x: c.steps,
          y: c.values,
          axis: 'left',
          colour: i,
          dash: c.key === 'val_loss',
        });
      }
    });
    return { id: `compare-${stage}`, title, xLabel: 'epoch', leftLabel: 'loss', series };
  });
}
