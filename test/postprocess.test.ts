import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { instanceBoxes } from '../src/imaging/instance-boxes.ts';
import { readLabels } from '../src/imaging/io.ts';
import type { FloatImage, LabelImage, MaskImage } from '../src/imaging/types.ts';
import { evaluate } from '../src/metrics/index.ts';
import { connectedComponents } from '../src/postprocess/connected-components.ts';
import { fillHolesPerInstance } from '../src/postprocess/fill-holes.ts';
import { gaussianBlur, gaussianKernel } from '../src/postprocess/gaussian.ts';
import { separableBlur } from '../src/postprocess/gaussian-core.ts';
import { peakLocalMax } from '../src/postprocess/peaks.ts';
import { iterativePostprocess, postprocess } from '../src/postprocess/pipeline.ts';
import { relabelByFirstPixel } from '../src/postprocess/relabel.ts';
import { removeSmallInstances, removeSmallObjects } from '../src/postprocess/remove-small.ts';
import { sigmaFromRadius } from '../src/postprocess/sigma.ts';
import { watershed } from '../src/postprocess/watershed.ts';
import {
  CROSSCHECK_DIR,
  loadPostprocessCase,
  readCrosscheckManifest,
} from '../testing/crosscheck-fixtures.ts';
import { differ } from './helpers/arrays.ts';

const manifest = readCrosscheckManifest();

const read = (p: string) => readLabels(join(CROSSCHECK_DIR, p));
/** Ids renamed 1, 2, ... in raster order of first appearance: equal iff the two maps are the same instances. */
function firstPixelOrder(d: ArrayLike<number>): Int32Array {
  const ids = new Map<number, number>([[0, 0]]);
  return Int32Array.from(d, (v) => {
    if (!ids.has(v)) ids.set(v, ids.size);
    return ids.get(v)!;
  });
}

describe.each(manifest.postprocess.map((c) => [c.name, c] as const))(
  'post-processing %s vs SciPy/scikit-image',
  (_n, c) => {
    it('matches every step of the reference chain', async () => {
      const { prob, dist } = await loadPostprocessCase(CROSSCHECK_DIR, c);
      const r = postprocess({ foreground: prob, distance: dist, keepIntermediates: true });
      const im = r.intermediates!;
      expect(Math.abs(r.sigma - c.sigma)).toBeLessThan(1e-9);
      expect(r.minDistance).toBe(c.minDistance);
      // Connected components: identical to scipy.ndimage.label with an 8-connected structure.
      expect(differ(im.components.data, (await read(c.cc)).data)).toBe(0);
      // Gaussian (scipy gaussian_filter, mode='reflect', truncate=4) at sampled pixels.
      const full = gaussianBlur(dist, r.sigma);
      const worst = Math.max(
        ...c.gaussianSample.index.map((idx, k) => Math.abs(full.data[idx]! - c.gaussianSample.value[k]!)),
      );
      expect(worst).toBeLessThan(1e-6);
      // Peaks: skimage's peak_local_max(labels=components, exclude_border=False); these inputs have no plateau.
      const peaks = peakLocalMax(full, {
        minDistance: r.minDistance,
        labels: im.components,
        excludeBorder: false,
      });
      expect(new Set(peaks)).toEqual(new Set(c.skimagePeaks));
      // Steps fed with the reference's own inputs reproduce its outputs exactly.
      const ws = await read(c.ws);
      expect(differ(removeSmallObjects(ws, 20).data, (await read(c.small)).data)).toBe(0);
      expect(differ(fillHolesPerInstance(await read(c.small)).data, (await read(c.filled)).data)).toBe(0);
      // Watershed: skimage's basins pixel for pixel, ids included (watershed.ts states this count).
      expect(differ(im.basins.data, ws.data)).toBe(0);
      // The in-place path (no intermediates kept) gives the same instances.
      expect(differ(postprocess({ foreground: prob, distance: dist }).labels.data, r.labels.data)).toBe(0);
      // The whole chain: the same instances as skimage's; only the numbering differs (the reference
      // renumbers by sorted id, we by first pixel), so both are put in first-pixel order first.
      const ref = await read(c.skimage);
      expect(differ(firstPixelOrder(r.labels.data), firstPixelOrder(ref.data))).toBe(0);
      // And it segments the real nuclei well from these (noisy) inputs.
      expect(evaluate(await read(c.gt), r.labels).aji).toBeGreaterThan(0.85);
    });
  },
);

const f32 = (w: number, h: number, d: number[]): FloatImage => ({
  width: w,
  height: h,
  data: Float32Array.from(d),
});
const mask = (w: number, h: number, d: number[]): MaskImage => ({
  width: w,
  height: h,
  data: Uint8Array.from(d),
});
const lab = (w: number, h: number, d: number[]): LabelImage => ({
  width: w,
  height: h,
  data: Int32Array.from(d),
});

describe('peakLocalMax', () => {
  it('gives one peak per plateau (its first raster pixel), all with plateaus="all"', () => {
    const img = f32(7, 3, [0, 0, 0, 0, 0, 0, 0, 0, 5, 5, 5, 5, 5, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(peakLocalMax(img, { excludeBorder: false }))).toEqual([8]);
    expect(Array.from(peakLocalMax(img, { excludeBorder: false, plateaus: 'all' }))).toEqual([
      8, 9, 10, 11, 12,
    ]);
    expect(Array.from(peakLocalMax(img, { excludeBorder: false, plateaus: 'all', minDistance: 2 }))).toEqual([
      8, 10, 12,
    ]);
  });
  it('finds nothing in a constant image and respects thresholds and the border', () => {
    expect(peakLocalMax(f32(3, 3, [1, 1, 1, 1, 1, 1, 1, 1, 1])).length).toBe(0);
    const img = f32(5, 1, [3, 0, 1, 0, 2]);
    expect(Array.from(peakLocalMax(img, { excludeBorder: false }))).toEqual([0, 4, 2]);
    expect(Array.from(peakLocalMax(img, { excludeBorder: false, thresholdAbs: 1 }))).toEqual([0, 4]);
    expect(Array.from(peakLocalMax(img, { excludeBorder: false, thresholdRel: 0.8 }))).toEqual([0]);
    const framed = f32(5, 3, [0, 0, 0, 0, 0, 3, 0, 1, 0, 2, 0, 0, 0, 0, 0]);
    expect(Array.from(peakLocalMax(framed))).toEqual([7]);
  });
  it('compares pixels only within their label', () => {
    const img = f32(4, 1, [1, 2, 5, 0]);
    expect(Array.from(peakLocalMax(img, { excludeBorder: false, labels: lab(4, 1, [1, 1, 2, 2]) }))).toEqual([
      1, 2,
    ]);
  });
});

describe('watershed', () => {
  it('splits two basins at the ridge and keeps unreachable pixels at 0', () => {
    const img = f32(5, 1, [0, 1, 2, 1, 0]);
    const out = watershed(img, lab(5, 1, [1, 0, 0, 0, 2]), mask(5, 1, [1, 1, 1, 1, 1]));
    expect(Array.from(out.data)).toEqual([1, 1, 1, 2, 2]);
    const cut = watershed(img, lab(5, 1, [1, 0, 0, 0, 0]), mask(5, 1, [1, 1, 0, 1, 1]));
    expect(Array.from(cut.data)).toEqual([1, 1, 0, 0, 0]);
  });
  it('floods in exact (value, age) order: same result as a plain heap on images with many ties and downhill steps', () => {
    let seed = 11;
    const rnd = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    for (let t = 0; t < 30; t++) {
      const w = 20 + (t % 7) * 5;
      const h = 15 + (t % 5) * 6;
      const levels = 1 + (t % 6) * 3; // few levels: many equal values (ties), -0 and +0 included
      const img = f32(
        w,
        h,
        Array.from(
          { length: w * h },
          () => (Math.floor(rnd() * levels) - levels / 2) * (t % 2 ? 1 : -1) || -0,
        ),
      );
      const m = mask(
        w,
        h,
        Array.from({ length: w * h }, () => (rnd() < 0.85 ? 1 : 0)),
      );
      const mk = lab(
        w,
        h,
        Array.from({ length: w * h }, (_, i) => (m.data[i] && rnd() < 0.02 ? 1 + Math.floor(rnd() * 9) : 0)),
      );
      expect(Array.from(watershed(img, mk, m).data)).toEqual(Array.from(heapWatershed(img, mk, m)));
    }
  });
  it('names the offending shapes', () => {
    expect(() => watershed(f32(2, 2, [0, 0, 0, 0]), lab(4, 1, [0, 0, 0, 0]))).toThrow(
      /markers is 4x1 but the image is 2x2/,
    );
    expect(() =>
      watershed(f32(2, 2, [0, 0, 0, 0]), lab(2, 2, [0, 0, 0, 0]), mask(2, 3, [0, 0, 0, 0, 0, 0])),
    ).toThrow(/mask is 2x3 but the image is 2x2/);
  });
});

describe('cleanup steps', () => {
  it('fills a hole with its instance but never overwrites a nucleus inside it', () => {
    // 5x5 ring of id 1 with a background pixel and a pixel of id 2 inside.
    const l = lab(5, 5, [1, 1, 1, 1, 1, 1, 0, 0, 2, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
    const out = fillHolesPerInstance(l).data;
    expect(out[8]).toBe(2);
    expect(Array.from(out).filter((v) => v === 0).length).toBe(0);
    // Open ring: nothing to fill.
    const open = lab(3, 3, [1, 1, 1, 1, 0, 1, 1, 0, 1]);
    expect(fillHolesPerInstance(open).data[4]).toBe(0);
  });
  it('removes objects below the size, by id or by 8-connected component', () => {
    expect(Array.from(removeSmallObjects(lab(4, 1, [1, 1, 2, 0]), 2).data)).toEqual([1, 1, 0, 0]);
    const m = mask(3, 2, [1, 0, 0, 0, 1, 1]);
    expect(Array.from(removeSmallObjects(m, 3, true).data)).toEqual([1, 0, 0, 0, 1, 1]);
  });
  it('labels 8- and 4-connected components in raster order', () => {
    const m = mask(3, 3, [1, 0, 1, 0, 1, 0, 0, 0, 1]);
    expect(connectedComponents(m, 8).count).toBe(1);
    expect(Array.from(connectedComponents(m, 4).labels.data)).toEqual([1, 0, 2, 0, 3, 0, 0, 0, 4]);
    expect(Array.from(connectedComponents(m, 4).areas)).toEqual([5, 1, 1, 1, 1]);
    expect(Array.from(connectedComponents(m, 8).areas)).toEqual([5, 4]);
  });
});

describe('pipeline', () => {
  it('derives sigma from nucleus size, clamps it, and iterates the size estimate to a fixed point', async () => {
    expect(sigmaFromRadius(12)).toBe(3);
    expect(sigmaFromRadius(100)).toBe(8);
    expect(sigmaFromRadius(0)).toBe(2);
    const c = manifest.postprocess[0]!;
    const { prob, dist } = await loadPostprocessCase(CROSSCHECK_DIR, c);
    const r = iterativePostprocess({ foreground: prob, distance: dist }, { maxIterations: 4 });
    expect(r.iterations.length).toBeGreaterThanOrEqual(1);
    expect(r.converged).toBe(true);
    expect(r.iterations.length).toBeLessThanOrEqual(4);
    expect(r.iterations[0]!.sigma).toBeCloseTo(c.sigma, 9);
    expect(evaluate(await read(c.gt), r.labels).aji).toBeGreaterThan(0.85);
  });
  const img = (width: number, height: number, data: Float32Array): FloatImage => ({ width, height, data });
  it('seeds a component that got no peak even when another got two', () => {
    // Two components of a 30x10 foreground: A (x 0..9) with two distance peaks, B (x 20..29) whose
    // distance stays under the peak threshold. Counting seeds (2) against components (2) would miss B.
    const W = 30;
    const H = 10;
    const fg = new Float32Array(W * H);
    const d = new Float32Array(W * H);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const i = y * W + x;
        if (x < 10) {
          fg[i] = 1;
          d[i] = Math.max(1 - Math.abs(x - 2) / 3, 1 - Math.abs(x - 7) / 3, 0.1);
        } else if (x >= 20) {
          fg[i] = 1;
          d[i] = 0.2;
        }
      }
    const r = postprocess({
      foreground: img(W, H, fg),
      distance: img(W, H, d),
      sigma: 0.5,
      minDistance: 1,
      minSize: 1,
      peakThreshold: 0.5,
    });
    expect(r.nAddedSeeds).toBe(1);
    expect(new Set(r.labels.data).size).toBe(4);
    expect(r.labels.data[5 * W + 25]).not.toBe(0);
  });

  it("takes one seed per interior component with markers 'interior', splitting what the distance peak merges", () => {
    // Two touching nuclei as one 20x10 component; the distance map has one central peak, the interior
    // map two cores.
    const W = 20;
    const H = 10;
    const fg = new Float32Array(W * H).fill(1);
    const d = new Float32Array(W * H);
    const interior = new Float32Array(W * H).fill(0.1);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        d[y * W + x] = 1 - Math.abs(x - 9.5) / 10 - Math.abs(y - 4.5) / 10;
        if (y >= 2 && y <= 7 && ((x >= 2 && x <= 6) || (x >= 13 && x <= 17))) interior[y * W + x] = 0.9;
      }
    const base = { foreground: img(W, H, fg), distance: img(W, H, d), sigma: 1, minSize: 1 };
    expect(postprocess(base).nMarkers).toBe(1);
    const split = postprocess({ ...base, markers: 'interior', interior: img(W, H, interior) });
    expect(split.nMarkers).toBe(2);
    // Every pixel is foreground: two instances and no background.
    expect(new Set(split.labels.data).size).toBe(2);
    expect(split.labels.data[5 * W + 3]).not.toBe(split.labels.data[5 * W + 16]);
    expect(() => postprocess({ ...base, markers: 'interior' })).toThrow(
      /markers 'interior' needs the interior map/,
    );
  });

  it('rejects inputs of different sizes naming both shapes', () => {
    expect(() =>
      postprocess({ foreground: f32(2, 2, [0, 0, 0, 0]), distance: f32(1, 4, [0, 0, 0, 0]) }),
    ).toThrow(/2x2 vs 1x4/);
  });
  it('blurs only inside a mask without changing the values there', async () => {
    const c = manifest.postprocess[1]!;
    const { prob, dist } = await loadPostprocessCase(CROSSCHECK_DIR, c);
    const m = mask(
      prob.width,
      prob.height,
      Array.from(prob.data, (v) => (v > 0.5 ? 1 : 0)),
    );
    const a = gaussianBlur(dist, 2.7);
    const b = gaussianBlur(dist, 2.7, { within: m });
    let bad = 0;
    for (let i = 0; i < a.data.length; i++) if (b.data[i] !== (m.data[i] ? a.data[i] : 0)) bad++;
    expect(bad).toBe(0);
  });
});

/** scipy.ndimage.gaussian_filter written out: reflect borders, vertical pass first, float64 sums, float32 intermediate. */
function directBlur(img: FloatImage, sigma: number): Float32Array {
  const { width: w, height: h, data } = img;
  const k = gaussianKernel(sigma);
  const r = (k.length - 1) / 2;
  const refl = (i: number, n: number) => {
    const p = 2 * n;
    const m = ((i % p) + p) % p;
    return m < n ? m : p - 1 - m;
  };
  const tmp = new Float32Array(w * h);
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = k[r]! * data[y * w + x]!;
      for (let d = 1; d <= r; d++)
        s += k[r + d]! * (data[refl(y - d, h) * w + x]! + data[refl(y + d, h) * w + x]!);
      tmp[y * w + x] = s;
    }
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = k[r]! * tmp[y * w + x]!;
      for (let d = 1; d <= r; d++)
        s += k[r + d]! * (tmp[y * w + refl(x - d, w)]! + tmp[y * w + refl(x + d, w)]!);
      out[y * w + x] = s;
    }
  return out;
}

describe('Gaussian kernels (WebAssembly SIMD)', () => {
  it('are bit-identical to the direct float64 definition on odd sizes, wide kernels and masks', () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (const [w, h] of [
      [1, 1],
      [3, 7],
      [17, 5],
      [33, 40],
      [64, 3],
    ] as const) {
      const img = f32(w, h, Array.from({ length: w * h }, rand));
      const m = mask(
        w,
        h,
        Array.from({ length: w * h }, () => (rand() > 0.6 ? 1 : 0)),
      );
      for (const sigma of [0.5, 2, 6]) {
        const ref = directBlur(img, sigma);
        expect(differ(gaussianBlur(img, sigma).data, ref), `${w}x${h} sigma ${sigma}`).toBe(0);
        const within = gaussianBlur(img, sigma, { within: m }).data;
        expect(
          differ(
            within,
            Float32Array.from(ref, (v, i) => (m.data[i] ? v : 0)),
          ),
        ).toBe(0);
      }
    }
  });
  it('refuses an image whose buffers would not fit the 4 GiB kernel memory, before touching it', () => {
    const none = () => ({ runs: new Int32Array(0), count: 0 });
    expect(() =>
      separableBlur(new Float32Array(0), 20_000, 20_000, gaussianKernel(2), new Float32Array(0), none, none),
    ).toThrow(/20000x20000 image needs \d+ bytes of kernel memory, more than 4 GiB/);
  });
});

describe('instance statistics', () => {
  it('gives area, box and first pixel per id, clears small ids in their boxes and renumbers by first pixel', () => {
    // 4x3: id 5 (3 px, first at 1), id 2 (1 px, first at 7), id 9 (2 px non-contiguous, first at 0).
    const l = lab(4, 3, [9, 5, 5, 0, 0, 5, 0, 2, 0, 0, 0, 9]);
    const s = instanceBoxes(l);
    expect(s.maxId).toBe(9);
    expect([s.area[5], s.area[2], s.area[9]]).toEqual([3, 1, 2]);
    expect([s.x0[9], s.y0[9], s.x1[9], s.y1[9], s.first[9]]).toEqual([0, 0, 3, 2, 0]);
    removeSmallInstances(l, 2, s);
    expect(Array.from(l.data)).toEqual([9, 5, 5, 0, 0, 5, 0, 0, 0, 0, 0, 9]);
    expect(relabelByFirstPixel(l, s)).toBe(2);
    expect(Array.from(l.data)).toEqual([1, 2, 2, 0, 0, 2, 0, 0, 0, 0, 0, 1]);
    expect(() => instanceBoxes(lab(2, 1, [0, -3]))).toThrow(/negative label -3 at x=1, y=0/);
  });
});

/** Reference for the flood order: a plain (value, age) binary heap, as skimage's heap watershed. */
function heapWatershed(img: FloatImage, markers: LabelImage, m: MaskImage): Int32Array {
  const { width: w, height: h } = img;
  const out = Int32Array.from(markers.data, (v, i) => (m.data[i] ? v : 0));
  const heap: [number, number, number][] = [];
  const less = (a: [number, number, number], b: [number, number, number]) =>
    a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  const push = (e: [number, number, number]) => {
    heap.push(e);
    let k = heap.length - 1;
    while (k > 0 && less(heap[k]!, heap[(k - 1) >> 1]!)) {
      [heap[k], heap[(k - 1) >> 1]] = [heap[(k - 1) >> 1]!, heap[k]!];
      k = (k - 1) >> 1;
    }
  };
  const pop = () => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let k = 0;
      for (;;) {
        let c = 2 * k + 1;
        if (c >= heap.length) break;
        if (c + 1 < heap.length && less(heap[c + 1]!, heap[c]!)) c++;
        if (!less(heap[c]!, heap[k]!)) break;
        [heap[k], heap[c]] = [heap[c]!, heap[k]!];
        k = c;
      }
    }
    return top;
  };
  let age = 0;
  for (let i = 0; i < out.length; i++) if (out[i]) push([img.data[i]!, age++, i]);
  const nb: [number, number][] = [
    [0, -1],
    [-1, 0],
    [1, 0],
    [0, 1],
    [-1, -1],
    [1, -1],
    [-1, 1],
    [1, 1],
  ];
  while (heap.length > 0) {
    const [, , p] = pop();
    const x = p % w;
    const y = (p - x) / w;
    for (const [dx, dy] of nb) {
      const xx = x + dx;
      const yy = y + dy;
      if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
      const q = yy * w + xx;
      if (!m.data[q] || out[q]) continue;
      out[q] = out[p]!;
      push([img.data[q]!, age++, q]);
    }
  }
  return out;
}
