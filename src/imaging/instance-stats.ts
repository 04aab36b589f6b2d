// Per-instance measurements for the segment CSV: area, centroid, mean intensity (BT.601 luma of the original RGB).
import { toCsv } from '../io/csv.ts';
import type { LabelImage, RgbImage } from './types.ts';
import { assertBuffer, assertSameShape } from './types.ts';

export interface InstanceStats {
  readonly id: number;
  /** Pixels. */
  readonly area: number;
  /** Mean pixel-centre x (x + 0.5), as in the GeoJSON. */
  readonly centroidX: number;
  readonly centroidY: number;
  /** Mean of 0.299 R + 0.587 G + 0.114 B over the instance, 0..255. */
  readonly meanIntensity: number;
}

/** Stats of every id present, in id order. O(n). */
export function instanceStats(labels: LabelImage, rgb: RgbImage): InstanceStats[] {
  assertBuffer('instanceStats labels', labels, 1);
  assertBuffer('instanceStats image', rgb, 3);
  assertSameShape('instanceStats', labels, rgb);
  let max = 0;
  for (let i = 0; i < labels.data.length; i++) if (labels.data[i]! > max) max = labels.data[i]!;
  const area = new Float64Array(max + 1);
  const sx = new Float64Array(max + 1);
  const sy = new Float64Array(max + 1);
  const si = new Float64Array(max + 1);
  const { width: w, data } = labels;
  for (let i = 0; i < data.length; i++) {
    const id = data[i]!;
    if (id <= 0) continue;
    area[id]! += 1;
    sx[id]! += (i % w) + 0.5;
    sy[id]! += Math.floor(i / w) + 0.5;
    const j = 3 * i;
    si[id]! += 0.299 * rgb.data[j]! + 0.587 * rgb.data[j + 1]! + 0.114 * rgb.data[j + 2]!;
  }
  const out: InstanceStats[] = [];
  for (let id = 1; id <= max; id++) {
    const a = area[id]!;
    if (a === 0) continue;
    out.push({ id, area: a, centroidX: sx[id]! / a, centroidY: sy[id]! / a, meanIntensity: si[id]! / a });
  }
  return out;
}

/** CSV with header `id,area,centroid_x,centroid_y,mean_intensity`. */
export function instanceStatsCsv(rows: readonly InstanceStats[]): string {
  return toCsv(
    ['id', 'area', 'centroid_x', 'centroid_y', 'mean_intensity'],
    rows.map((r) => [
      r.id,
      r.area,
      r.centroidX.toFixed(2),
      r.centroidY.toFixed(2),
      r.meanIntensity.toFixed(2),
    ]),
  );
}
