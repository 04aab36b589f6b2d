// Per-nucleus distance-map target of the distance U-Net in Mahbod et al. 2019 ("A Two-Stage U-Net Algorithm for Segmentation of Nuclei in H&E-Stained Tissues", ECDP).
//
// Conventions: for each instance id separately, the exact Euclidean distance (src/groundtruth/edt.ts)
// of each of its pixels to the nearest pixel NOT of that id (background or another nucleus), so
// touching nuclei keep separate peaks; the image border is not background (scipy convention).
// Normalisation: each nucleus is divided by its own maximum, so every nucleus peaks at exactly 1
// and small and large nuclei weigh alike; background is 0. An instance covering the whole image
// (no pixel of another id anywhere) gets 1 everywhere.
// Complexity: one pass over the image for the bounding boxes, then O(area of the box + 1 px margin)
// per instance, so O(n) when boxes hardly overlap; scratch sized to the largest box, allocated once.
import type { FloatImage, LabelImage } from '../imaging/types.ts';
import { assertBuffer } from '../imaging/types.ts';
import { createEdtScratch, FAR, squaredEdtInPlace } from './edt.ts';

/** Normalised per-nucleus distance map in [0, 1]. */
export function distanceTargets(labels: LabelImage): FloatImage {
  assertBuffer('distanceTargets', labels, 1);
  const { width, height, data } = labels;
  const n = width * height;
  let maxId = 0;
  for (let i = 0; i < n; i++) {
    const id = data[i];
    if (id < 0)
      throw new RangeError(`distanceTargets: negative label ${id} at pixel ${i % width},${(i / width) | 0}`);
    if (id > maxId) maxId = id;
  }
  const out = new Float32Array(n);
  if (maxId === 0) return { width, height, data: out };

  // Bounding boxes (inclusive), one pass.
  const x0 = new Int32Array(maxId + 1).fill(width);
  const y0 = new Int32Array(maxId + 1).fill(height);
  const x1 = new Int32Array(maxId + 1).fill(-1);
  const y1 = new Int32Array(maxId + 1).fill(-1);
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      const id = data[i];
      if (id === 0) continue;
      if (x < x0[id]) x0[id] = x;
      if (x > x1[id]) x1[id] = x;
      if (y < y0[id]) y0[id] = y;
      if (y > y1[id]) y1[id] = y;
    }
  }
  // Boxes grow by one pixel (clamped to the image): the nearest pixel of another id always lies
  // inside the grown box, because clamping a point to a box that contains p never moves it away from p.
  let maxArea = 0;
  let maxSide = 0;
  for (let id = 1; id <= maxId; id++) {
    if (x1[id] < 0) continue;
    x0[id] = Math.max(0, x0[id] - 1);
    y0[id] = Math.max(0, y0[id] - 1);
    x1[id] = Math.min(width - 1, x1[id] + 1);
    y1[id] = Math.min(height - 1, y1[id] + 1);
    const w = x1[id] - x0[id] + 1;
    const h = y1[id] - y0[id] + 1;
    maxArea = Math.max(maxArea, w * h);
    maxSide = Math.max(maxSide, w, h);
  }
  const g = new Float64Array(maxArea);
  const scratch = createEdtScratch(maxSide);
  for (let id = 1; id <= maxId; id++) {
    if (x1[id] < 0) continue;
    const bx = x0[id];
    const by = y0[id];
    const w = x1[id] - bx + 1;
    const h = y1[id] - by + 1;
    for (let y = 0; y < h; y++) {
      const src = (by + y) * width + bx;
      for (let x = 0; x < w; x++) g[y * w + x] = data[src + x] === id ? FAR : 0;
    }
    squaredEdtInPlace(g, w, h, scratch);
    let peak = 0;
    for (let y = 0; y < h; y++) {
      const src = (by + y) * width + bx;
      for (let x = 0; x < w; x++) if (data[src + x] === id && g[y * w + x] > peak) peak = g[y * w + x];
    }
    const scale = peak >= FAR ? 0 : 1 / Math.sqrt(peak);
    for (let y = 0; y < h; y++) {
      const src = (by + y) * width + bx;
      for (let x = 0; x < w; x++) {
        if (data[src + x] === id) out[src + x] = scale === 0 ? 1 : Math.sqrt(g[y * w + x]) * scale;
      }
    }
  }
  return { width, height, data: out };
}
