// Renumbering after the cleanup steps of the Mahbod et al. 2019 post-processing, from the instance boxes
// (src/imaging/instance-boxes.ts) they keep up to date.
import type { InstanceBoxes } from '../imaging/instance-boxes.ts';
import type { LabelImage } from '../imaging/types.ts';

/**
 * Renumbers ids 1..N in raster order of their first pixel, in place, from
 * `stats` instead of a scan; valid as long as every edit that moved an id's first pixel updated
 * `stats` (expandLabels does; hole filling never moves it: a hole lies below its instance's top row). O(pixels + N log N).
 */
export function relabelByFirstPixel(labels: LabelImage, stats: InstanceBoxes): number {
  const ids: number[] = [];
  for (let l = 1; l <= stats.maxId; l++) if (stats.area[l]! > 0) ids.push(l);
  ids.sort((a, b) => stats.first[a]! - stats.first[b]!);
  const map = new Int32Array(stats.maxId + 1);
  ids.forEach((l, k) => {
    map[l] = k + 1;
  });
  const d = labels.data;
  for (let i = 0; i < d.length; i++) d[i] = map[d[i]!]!;
  return ids.length;
}
