import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyDihedral } from '../src/augment/geometry.ts';
import { createRng } from '../src/augment/rng.ts';
import { UserError } from '../src/errors.ts';
import { toGrayscale, toGrayscale8 } from '../src/imaging/grayscale.ts';
import { readRgb, writeRgbPng } from '../src/imaging/io.ts';
import type { RgbImage } from '../src/imaging/types.ts';
import { symmetricEigen3 } from '../src/stain/eigen3.ts';
import { fitMacenko, LowTissueError, normalizeMacenko } from '../src/stain/macenko.ts';
import { renderOpticalDensityMap } from '../src/stain/macenko-render.ts';
import {
  histogramDistance,
  nucleiBackgroundHistograms,
  rankReferenceCandidates,
  scoreReferenceCandidate,
} from '../src/stain/reference.ts';
import { percentileInPlace } from '../src/util/percentile.ts';
import { runCli } from './helpers/cli.ts';
import { fixtureU8, manifest, slideLabels, slideRgb } from './stain-gt-fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'nf-stain-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function uniformImage(width: number, height: number, rgb: [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i += 3) data.set(rgb, i);
  return { width, height, data };
}

describe('grayscale', () => {
  it('uses the BT.601 weights and rounds to nearest for the 8-bit version', () => {
    const img: RgbImage = { width: 3, height: 1, data: new Uint8Array([255, 0, 0, 0, 255, 0, 10, 20, 30]) };
    const g = toGrayscale(img).data;
    expect(g[0]).toBeCloseTo(76.245, 4);
    expect(g[1]).toBeCloseTo(149.685, 4);
    expect(g[2]).toBeCloseTo(0.299 * 10 + 0.587 * 20 + 0.114 * 30, 4);
    expect(Array.from(toGrayscale8(img).data)).toEqual([76, 150, 18]);
    expect(toGrayscale8(uniformImage(2, 2, [255, 255, 255])).data.every((v) => v === 255)).toBe(true);
  });
});

describe('percentile and eigen solver', () => {
  it('percentile equals the sorted-array linear interpolation (NumPy default)', () => {
    const rng = createRng(7);
    for (const n of [1, 2, 5, 100, 1001]) {
      const a = Float64Array.from({ length: n }, () => Math.floor(rng.next() * 20) / 4);
      const sorted = Float64Array.from(a).sort();
      for (const p of [0, 1, 37.5, 50, 99, 100]) {
        const pos = (p / 100) * (n - 1);
        const lo = Math.floor(pos);
        const hi = Math.min(lo + 1, n - 1);
        const want = sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
        expect(percentileInPlace(Float64Array.from(a), p)).toBeCloseTo(want, 12);
      }
    }
  });

  it('Jacobi eigenvectors are orthonormal, reconstruct the matrix and have fixed signs', () => {
    const rng = createRng(11);
    for (let t = 0; t < 50; t++) {
      const b = Array.from({ length: 9 }, () => rng.uniform(-1, 1));
      const m = [0, 1, 2].flatMap((i) => [0, 1, 2].map((j) => b[i * 3 + j] + b[j * 3 + i]));
      const { values, vectors } = symmetricEigen3(m);
      expect(values[0]).toBeLessThanOrEqual(values[1]);
      expect(values[1]).toBeLessThanOrEqual(values[2]);
      for (let i = 0; i < 3; i++) {
        expect(vectors[i][0] + vectors[i][1] + vectors[i][2]).toBeGreaterThanOrEqual(0);
        for (let j = 0; j < 3; j++) {
          const dot =
            vectors[i][0] * vectors[j][0] + vectors[i][1] * vectors[j][1] + vectors[i][2] * vectors[j][2];
          expect(dot).toBeCloseTo(i === j ? 1 : 0, 10);
        }
      }
      for (let r = 0; r < 3; r++) {
        for (let c = 0; c < 3; c++) {
          const v = values.reduce((s, l, k) => s + l * vectors[k][r] * vectors[k][c], 0);
          expect(v).toBeCloseTo(m[r * 3 + c], 10);
        }
      }
    }
  });
});

describe('Macenko against the NumPy reference (tools/python/macenko_ref.py)', () => {
  const { params, fits, normalize } = manifest.macenko;

  it.each(fits.map((f) => [f.slide, f] as const))(
    'fits the same stain model on the full image %s',
    async (_s, f) => {
      const m = fitMacenko(await slideRgb(f.slide), params);
      for (let i = 0; i < 6; i++) expect(Math.abs(m.stainMatrix[i] - f.stainMatrix[i])).toBeLessThan(1e-6);
      for (let i = 0; i < 2; i++) expect(Math.abs(m.maxConc[i] / f.maxConc[i] - 1)).toBeLessThan(1e-6);
      // Rows are unit vectors and H (row 0) has the larger red optical density.
      expect(Math.hypot(m.stainMatrix[0], m.stainMatrix[1], m.stainMatrix[2])).toBeCloseTo(1, 12);
      expect(Math.hypot(m.stainMatrix[3], m.stainMatrix[4], m.stainMatrix[5])).toBeCloseTo(1, 12);
      expect(m.stainMatrix[0]).toBeGreaterThan(m.stainMatrix[3]);
    },
  );

  it('normalises real crops like the reference: mean |diff| < 0.01 levels, max 1 level (rounding)', async () => {
    const target = fitMacenko(await slideRgb(normalize.targetSlide), params);
    for (const c of normalize.crops) {
      const src = await slideRgb(c.slide, c.window);
      const fit = fitMacenko(src, params);
      for (let i = 0; i < 6; i++) expect(Math.abs(fit.stainMatrix[i] - c.stainMatrix[i])).toBeLessThan(1e-6);
      const ours = normalizeMacenko(src, target, params).data;
      const ref = fixtureU8(c.output);
      expect(ref.length).toBe(ours.length);
      let sum = 0;
      let max = 0;
      for (let i = 0; i < ref.length; i++) {
        const d = Math.abs(ref[i] - ours[i]);
        sum += d;
        if (d > max) max = d;
      }
      expect(sum / ref.length).toBeLessThan(0.01);
      expect(max).toBeLessThanOrEqual(1);
    }
  });

  it('re-rendering equals the per-pixel formula, also for ill-conditioned maps (exact fallback, no Inf * 0)', async () => {
    const img = await slideRgb(fits[0].slide, [0, 0, 300, 200]);
    const io = 240;
    const od = Float64Array.from({ length: 256 }, (_, v) => -Math.log((v + 1) / io));
    const naive = (m: number[]): Uint8Array => {
      const out = new Uint8Array(img.data.length);
      for (let j = 0; j < out.length; j += 3) {
        for (let c = 0; c < 3; c++) {
          const x =
            m[c * 3] * od[img.data[j]] +
            m[c * 3 + 1] * od[img.data[j + 1]] +
            m[c * 3 + 2] * od[img.data[j + 2]];
          out[j + c] = Math.min(255, Math.max(0, Math.round(io * Math.exp(-x))));
        }
      }
      return out;
    };
    const ordinary = [0.9, 0.2, -0.1, 0.3, 1.1, 0.05, -0.2, 0.4, 0.8];
    const illConditioned = [1000, -1000, 0, 0, 1000, -1000, -1000, 0, 1000];
    for (const m of [ordinary, illConditioned]) {
      const ours = renderOpticalDensityMap(img.data, Float64Array.from(m), od, io);
      let max = 0;
      const want = naive(m);
      for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(ours[i] - want[i]));
      expect(max).toBeLessThanOrEqual(1);
    }
  });

  it('is deterministic and invariant to rotating or mirroring the image', async () => {
    const img = await slideRgb(fits[2].slide, [0, 0, 400, 300]);
    const a = fitMacenko(img);
    expect(fitMacenko(img)).toEqual(a);
    const b = fitMacenko(applyDihedral(img, { k: 1, flip: true }));
    for (let i = 0; i < 6; i++) expect(b.stainMatrix[i]).toBeCloseTo(a.stainMatrix[i], 9);
    for (let i = 0; i < 2; i++) expect(b.maxConc[i]).toBeCloseTo(a.maxConc[i], 9);
  });

  it('near-white image: fit throws a LowTissueError (a UserError); normalise returns an unchanged copy and warns', async () => {
    const real = await slideRgb(fits[0].slide, [0, 0, 200, 200]);
    const white = uniformImage(200, 200, [236, 238, 240]);
    // A faint speck of tissue: 0.5% of pixels, below the 1% minimum.
    for (let i = 0; i < 200; i++) white.data.set(real.data.subarray(i * 3 * 97, i * 3 * 97 + 3), i * 3 * 199);
    expect(() => fitMacenko(white)).toThrow(LowTissueError);
    expect(() => fitMacenko(white)).toThrow(UserError);
    expect(() => fitMacenko(white)).toThrow(/too little stained tissue for Macenko: \d+ of 40000 pixels/);
    const target = fitMacenko(real);
    const warnings: string[] = [];
    const out = normalizeMacenko(white, target, { onWarning: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/left unchanged/);
    expect(out.data).toEqual(white.data);
    expect(out.data).not.toBe(white.data);
  });

  it('single-colour and black images never give NaN: a LowTissueError', () => {
    expect(() => fitMacenko(uniformImage(64, 64, [0, 0, 0]))).toThrow(LowTissueError);
    expect(() => fitMacenko(uniformImage(64, 64, [120, 60, 150]))).toThrow(LowTissueError);
    expect(() => fitMacenko(uniformImage(64, 64, [255, 255, 255]))).toThrow(LowTissueError);
  });

  it('rejects a buffer that does not match its size, naming the shapes', () => {
    expect(() => fitMacenko({ width: 10, height: 10, data: new Uint8Array(299) })).toThrow(
      /299 values, expected 300/,
    );
  });
});

describe('reference image selection (Mahbod et al. 2019)', () => {
  it('histograms are normalised; distances behave at the extremes', async () => {
    const s = manifest.reference[0].slide;
    const h = nucleiBackgroundHistograms(await slideRgb(s), await slideLabels(s));
    expect(h.nuclei.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(h.background.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(h.nucleiPixels + h.backgroundPixels).toBe(1000 * 1000);
    const p = new Float64Array(256);
    const q = new Float64Array(256);
    p[10] = 1;
    q[200] = 1;
    expect(histogramDistance(p, p, 'jensen-shannon')).toBe(0);
    expect(histogramDistance(p, q, 'jensen-shannon')).toBeCloseTo(Math.LN2, 12);
    expect(histogramDistance(p, q, 'chi-square')).toBeCloseTo(1, 12);
    expect(histogramDistance(p, q, 'bhattacharyya')).toBe(Number.POSITIVE_INFINITY);
  });

  it('Jensen-Shannon distances match NumPy on four training slides and rank in descending order', async () => {
    const scores = [];
    for (const r of manifest.reference) {
      const s = scoreReferenceCandidate(r.slide, await slideRgb(r.slide), await slideLabels(r.slide));
      expect(s.distance).toBeCloseTo(r.jensenShannon, 10);
      scores.push(s);
    }
    const ranked = rankReferenceCandidates(scores, 'jensen-shannon');
    const want = [...manifest.reference]
      .sort((a, b) => b.jensenShannon - a.jensenShannon)
      .map((r) => r.slide);
    expect(ranked.ranking.map((r) => r.id)).toEqual(want);
    expect(ranked.chosen.id).toBe(want[0]);
  });

  it('an image without nuclei in its ground truth is an InputError naming it', () => {
    const img = uniformImage(8, 8, [200, 150, 200]);
    const labels = { width: 8, height: 8, data: new Int32Array(64) };
    expect(() => scoreReferenceCandidate('slide-X', img, labels)).toThrow(
      /slide-X: ground truth has 0 nucleus/,
    );
  });
});

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = runCli(args);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('CLI', () => {
  it('normalize writes the PNG; a blank reference or a missing file fails in one line with no output file', async () => {
    const src = join(tmp, 'src.png');
    const ref = join(tmp, 'ref.png');
    const blank = join(tmp, 'blank.png');
    await writeRgbPng(src, await slideRgb(manifest.macenko.normalize.crops[0].slide, [0, 0, 256, 256]));
    await writeRgbPng(ref, await slideRgb(manifest.macenko.normalize.targetSlide, [0, 0, 256, 256]));
    await writeRgbPng(blank, uniformImage(64, 64, [245, 245, 245]));

    const out = join(tmp, 'out.png');
    const ok = cli('normalize', src, '--reference', ref, '--out', out);
    expect(ok.status, ok.stderr).toBe(0);
    const img = await readRgb(out);
    const want = normalizeMacenko(await readRgb(src), fitMacenko(await readRgb(ref)));
    expect(img.data).toEqual(want.data);

    const bad = cli('normalize', src, '--reference', blank, '--out', join(tmp, 'bad.png'));
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/blank\.png: unusable as reference, too little stained tissue/);
    const missing = cli(
      'normalize',
      join(tmp, 'nope.tif'),
      '--reference',
      ref,
      '--out',
      join(tmp, 'bad.png'),
    );
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/nope\.tif: file not found/);
    expect(existsSync(join(tmp, 'bad.png'))).toBe(false);

    const badAlpha = cli(
      'normalize',
      src,
      '--reference',
      ref,
      '--out',
      join(tmp, 'bad.png'),
      '--alpha',
      '60',
    );
    expect(badAlpha.status).toBe(2);
    expect(badAlpha.stderr).toMatch(
      /option '--alpha <percent>' argument '60' is invalid\. Expected a number >= 0 and < 50/,
    );
    const warn = cli('normalize', blank, '--reference', ref, '--out', join(tmp, 'copy.png'));
    expect(warn.status).toBe(0);
    expect(warn.stderr).toMatch(/warning: .*left unchanged/);
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('reference --json ranks all 16 training slides and refuses test splits', () => {
    const r = cli('reference', '--split', 'kumar-train', '--json');
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { chosen: { id: string }; ranking: { id: string; distance: number }[] };
    expect(j.ranking).toHaveLength(16);
    expect(j.chosen.id).toBe(j.ranking[0].id);
    for (let i = 1; i < 16; i++)
      expect(j.ranking[i - 1].distance).toBeGreaterThanOrEqual(j.ranking[i].distance);
    for (const f of manifest.reference) {
      expect(j.ranking.find((x) => x.id === f.slide)?.distance).toBeCloseTo(f.jensenShannon, 10);
    }
    const bad = cli('reference', '--split', 'kumar-test-same');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/only training images qualify/);
  });
});
