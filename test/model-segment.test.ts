// nucleiflow segment: outputs and bad input (small image, gray image, missing/corrupt model dir).
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../src/augment/rng.ts';
import { loadConfig } from '../src/config.ts';
import { nucleiGeoJson } from '../src/imaging/geojson.ts';
import { instanceStats, instanceStatsCsv } from '../src/imaging/instance-stats.ts';
import { readLabels, readRgb } from '../src/imaging/io.ts';
import { signedArea, traceOutlines } from '../src/imaging/outlines.ts';
import { loadTf } from '../src/model/backend.ts';
import { fromFloat16, toFloat16 } from '../src/model/float16.ts';
import { loadSegmenter } from '../src/model/infer.ts';
import { loadModel, SHIPPED_MODEL_DIR, saveModel, tunedOptions } from '../src/model/model-dir.ts';
import { createUNet } from '../src/model/unet.ts';
import { differ, maxAbsDiff } from './helpers/arrays.ts';
import { runCli } from './helpers/cli.ts';

const dataDir = loadConfig().dataDir;
const SLIDE = 'TCGA-21-5784-01Z-00-DX1';
const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));
let modelDir: string;
let imgDir: string;
let saved: { seg: Float32Array[]; dist: Float32Array[] };

async function randomWeights(seed: number): Promise<Float32Array[]> {
  const net = createUNet(loadTf(), 'sigmoid', createRng(seed));
  const w = await Promise.all(net.params.map(async (p) => Float32Array.from(await p.data())));
  net.dispose();
  return w;
}

const sha256Of = (dir: string, which: 'seg' | 'dist') =>
  (JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { sha256: Record<string, string> }).sha256[
    which
  ];

function cli(...args: string[]) {
  const r = runCli(['segment', ...args], { env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } });
  return {
    code: r.status,
    stdout: r.stdout,
    stderr: r.stderr.split('\n').filter((l) => l.startsWith('nucleiflow:')),
  };
}

beforeAll(async () => {
  modelDir = tmp('nf-model-');
  saved = { seg: await randomWeights(1), dist: await randomWeights(2) };
  await saveModel(modelDir, { ...saved, stainTarget: null });
  imgDir = tmp('nf-img-');
  const rgb = await readRgb(join(dataDir, 'images', `${SLIDE}.tif`));
  const raw = (w: number, h: number) =>
    sharp(Buffer.from(rgb.data.buffer), { raw: { width: 1000, height: 1000, channels: 3 } }).extract({
      left: 0,
      top: 0,
      width: w,
      height: h,
    });
  await raw(320, 288).png().toFile(join(imgDir, 'ok.png'));
  await raw(200, 300).png().toFile(join(imgDir, 'small.png'));
  await raw(300, 300).toColourspace('b-w').png().toFile(join(imgDir, 'gray.png'));
});

describe('nucleiflow segment', () => {
  it('writes a 16-bit label PNG, TIFF, GeoJSON, overlay and CSV for a non-square image', () => {
    const out = tmp('nf-out-');
    const r = cli(
      join(imgDir, 'ok.png'),
      '--out',
      out,
      '--model',
      modelDir,
      '--format',
      'png,tiff,geojson',
      '--overlay',
    );
    expect(r.stderr).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ok\.png: \d+ nuclei in [\d.]+ s/);
    expect(readdirSync(out).sort()).toEqual([
      'ok.csv',
      'ok.geojson',
      'ok.labels.png',
      'ok.labels.tif',
      'ok.overlay.png',
    ]);
    // A comment line naming the model folder and its weights, then the header.
    expect(readFileSync(join(out, 'ok.csv'), 'utf8').split('\n').slice(0, 2)).toEqual([
      `# model: folder ${modelDir} (seg sha256 ${sha256Of(modelDir, 'seg')}, dist sha256 ${sha256Of(modelDir, 'dist')})`,
      'id,area,centroid_x,centroid_y,mean_intensity',
    ]);
    expect(JSON.parse(readFileSync(join(out, 'ok.geojson'), 'utf8')).type).toBe('FeatureCollection');
  });

  it('rejects an image under 256 px, a gray image and a missing model with one line each, writing nothing', () => {
    const out = tmp('nf-out-');
    const small = cli(join(imgDir, 'small.png'), '--out', out, '--model', modelDir);
    expect(small.code).not.toBe(0);
    expect(small.stderr).toEqual([
      `nucleiflow: ${join(imgDir, 'small.png')}: image is 200x300; segment needs at least 256x256 px`,
    ]);
    const gray = cli(join(imgDir, 'gray.png'), '--out', out, '--model', modelDir);
    expect(gray.code).not.toBe(0);
    expect(gray.stderr).toHaveLength(1);
    expect(gray.stderr[0]).toMatch(/gray\.png: not an RGB image \(1 channel\)/);
    const missing = cli(join(imgDir, 'ok.png'), '--out', out, '--model', join(modelDir, 'nope'));
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toHaveLength(1);
    expect(missing.stderr[0]).toMatch(/model .*nope: folder does not exist/);
    expect(readdirSync(out)).toEqual([]);
  });
});

describe('model folder', () => {
  it('round-trips float16 weights and rejects corrupt or incomplete folders', async () => {
    const m = await loadModel(modelDir);
    expect(m.manifest.dtype).toBe('float16');
    for (const net of ['seg', 'dist'] as const) {
      expect(m[net]).toHaveLength(46);
      expect(m[net].map((w) => w.length)).toEqual(saved[net].map((w) => w.length));
      // Each tensor comes back as exactly its saved weights rounded through float16.
      m[net].forEach((w, i) => {
        expect(differ(w, fromFloat16(toFloat16(saved[net][i]!)))).toBe(0);
      });
    }
    const bad = tmp('nf-bad-');
    await expect(loadModel(bad)).rejects.toThrow(/no model\.json/);
    writeFileSync(join(bad, 'model.json'), '{');
    await expect(loadModel(bad)).rejects.toThrow(/not valid JSON/);
    writeFileSync(join(bad, 'model.json'), readFileSync(join(modelDir, 'model.json')));
    await expect(loadModel(bad)).rejects.toThrow(/seg\.bin is missing/);
    writeFileSync(join(bad, 'seg.bin'), readFileSync(join(modelDir, 'seg.bin')).subarray(0, 100));
    await expect(loadModel(bad)).rejects.toThrow(/seg\.bin does not match its sha256/);
    expect(existsSync(join(bad, 'dist.bin'))).toBe(false);
  });

  it('ships the default model: checksums hold, 1,941,105 weights per net, tuned post-processing recorded', async () => {
    const m = await loadModel(SHIPPED_MODEL_DIR);
    const count = (ws: readonly Float32Array[]) => ws.reduce((n, w) => n + w.length, 0);
    expect(count(m.seg)).toBe(1_941_105);
    expect(count(m.dist)).toBe(1_941_105);
    expect(m.manifest.postprocess?.chosenOn).toMatch(/training images/);
  });

  it('ships the general model: trained on all 30 images, unscored, each net under 10 MB with the paper size', async () => {
    const dir = join(SHIPPED_MODEL_DIR, '..', 'general');
    const m = await loadModel(dir);
    const count = (ws: readonly Float32Array[]) => ws.reduce((n, w) => n + w.length, 0);
    expect(count(m.seg)).toBe(1_941_105);
    expect(count(m.dist)).toBe(1_941_105);
    for (const net of ['seg', 'dist']) expect(statSync(join(dir, `${net}.bin`)).size).toBeLessThan(10e6);
    const card = JSON.parse(readFileSync(join(dir, 'card.json'), 'utf8')) as {
      split: string;
      specName: string;
      scores: { all: unknown; nImages: number };
    };
    expect([card.split, card.specName, card.scores.all, card.scores.nImages]).toEqual([
      'all',
      'general',
      null,
      0,
    ]);
    expect(m.manifest.postprocess?.chosenOn).toMatch(/30 training images/);
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toMatch(/Not scored: it trained on all 30 images/);
  });

  it('maps the post-processing a model was tuned with onto pipeline options, leaving absent ones at the defaults', () => {
    expect(tunedOptions(undefined)).toEqual({});
    expect(tunedOptions({ threshold: 0.2, chosenOn: 'x' })).toEqual({ threshold: 0.2 });
    expect(
      tunedOptions({ threshold: 0.2, sigmaScale: 0.5, minDistanceScale: 0.75, peakThreshold: 0.3 }),
    ).toEqual({
      threshold: 0.2,
      sigmaOptions: { scale: 0.5 },
      minDistanceScale: 0.75,
      peakThreshold: 0.3,
    });
  });

  it('segments the same image to identical outputs, in one pass or in tiles with a margin wider than the nets reach', async () => {
    const s = await loadSegmenter(modelDir);
    const rgb = await readRgb(join(imgDir, 'ok.png'));
    const one = await s.segment(rgb, 'ok', { tile: 1024 });
    const again = await s.segment(rgb, 'ok', { tile: 1024 });
    expect(differ(again.foreground.data, one.foreground.data)).toBe(0);
    expect(differ(again.labels.data, one.labels.data)).toBe(0);
    // Changing one input column of a 512 px U-Net input changes outputs up to 94 px away, so a
    // 112 px margin gives every kept pixel its whole context; the tile origins (0, 64 across, 0, 32
    // down) lie on the nets' 16 px pooling grid. Then tiling computes the same function; only
    // float summation order may differ between the 320 and 256 px wide convolutions. How much
    // depends on the CPU's kernels: under 1e-6 where this bound was first set, 1.8e-6 on an AVX2
    // EPYC; a pixel that lost part of its context moves by far more (checked below).
    const tiled = await s.segment(rgb, 'ok', { tile: 256, margin: 112 });
    expect(tiled.foreground.data.length).toBe(320 * 288);
    expect(maxAbsDiff(tiled.foreground.data, one.foreground.data)).toBeLessThan(1e-5);
    expect(maxAbsDiff(tiled.distance.data, one.distance.data)).toBeLessThan(1e-5);
    expect(differ(tiled.labels.data, one.labels.data)).toBe(0);
    // With a 48 px margin the second row of tiles (origin y 32) writes from y = 80 and the second
    // column (origin x 64) from x = 112: only the first tile's pixels keep their whole context.
    const narrow = await s.segment(rgb, 'ok', { tile: 256, margin: 48 });
    let worst = 0;
    for (let y = 0; y < 80; y++)
      for (let x = 0; x < 112; x++)
        worst = Math.max(
          worst,
          Math.abs(narrow.foreground.data[y * 320 + x]! - one.foreground.data[y * 320 + x]!),
        );
    expect(worst).toBeLessThan(1e-5);
    // Elsewhere the narrow margin cut context, and the outputs move far beyond that tolerance.
    expect(maxAbsDiff(narrow.foreground.data, one.foreground.data)).toBeGreaterThan(1e-3);
    s.dispose();
  });

  it('gives the nucleus and interior probabilities of a three-class model, the same in one pass or in tiles', async () => {
    const net = createUNet(loadTf(), 'softmax3', createRng(4));
    const seg = await Promise.all(net.params.map(async (p) => Float32Array.from(await p.data())));
    net.dispose();
    const dir = tmp('nf-model-3c-');
    await saveModel(dir, { seg, dist: await randomWeights(2), stainTarget: null, segOutput: 'softmax3' });
    const s = await loadSegmenter(dir);
    try {
      const rgb = await readRgb(join(imgDir, 'ok.png'));
      const one = await s.segment(rgb, 'ok');
      const inner = one.interior!.data;
      const fg = one.foreground.data;
      // P(interior) <= P(interior) + P(boundary) = 1 - P(background), all within [0, 1].
      for (let i = 0; i < fg.length; i++) {
        expect(inner[i]!).toBeGreaterThanOrEqual(0);
        expect(inner[i]!).toBeLessThanOrEqual(fg[i]! + 1e-6);
        expect(fg[i]!).toBeLessThanOrEqual(1 + 1e-6);
      }
      const tiled = await s.segment(rgb, 'ok', { tile: 256, margin: 112 });
      expect(maxAbsDiff(tiled.interior!.data, inner)).toBeLessThan(1e-5);
      const seeded = await s.segment(rgb, 'ok', { postprocess: { markers: 'interior' } });
      expect(seeded.labels.data.length).toBe(fg.length);
    } finally {
      s.dispose();
    }
  });

  it('runs the nets over the 8 views by default for a model whose model.json says inference.tta, and on request', async () => {
    const ttaDir = tmp('nf-model-tta-');
    await saveModel(ttaDir, {
      seg: await randomWeights(1),
      dist: await randomWeights(2),
      stainTarget: null,
      inference: { tta: true },
    });
    expect((await loadModel(ttaDir)).manifest.inference).toEqual({ tta: true });
    const rgb = await readRgb(join(imgDir, 'ok.png'));
    const plain = await loadSegmenter(modelDir);
    const withTta = await loadSegmenter(ttaDir);
    try {
      const one = await plain.segment(rgb, 'ok');
      const eight = await plain.segment(rgb, 'ok', { tta: true });
      // Same weights: the tta model's default is the 8-view average, and tta: false overrides it.
      expect(maxAbsDiff(one.foreground.data, eight.foreground.data)).toBeGreaterThan(1e-3);
      expect(differ((await withTta.segment(rgb, 'ok')).foreground.data, eight.foreground.data)).toBe(0);
      expect(
        differ((await withTta.segment(rgb, 'ok', { tta: false })).foreground.data, one.foreground.data),
      ).toBe(0);
    } finally {
      plain.dispose();
      withTta.dispose();
    }
    const m = JSON.parse(readFileSync(join(ttaDir, 'model.json'), 'utf8'));
    writeFileSync(join(ttaDir, 'model.json'), JSON.stringify({ ...m, inference: { tta: 'yes' } }));
    await expect(loadModel(ttaDir)).rejects.toThrow(
      /model\.json inference must be \{"tta": true\|false\}, got \{"tta":"yes"\}/,
    );
  });
});

describe('outlines and GeoJSON on real ground truth', () => {
  it('gives one closed Nucleus (Multi)Polygon per nucleus enclosing its pixels, inside the image, and CSV rows per nucleus', async () => {
    const gt = await readLabels(join(dataDir, 'labels', `${SLIDE}.png`));
    const rgb = await readRgb(join(dataDir, 'images', `${SLIDE}.tif`));
    const outlines = traceOutlines(gt);
    let n = 0;
    for (const v of gt.data) n = Math.max(n, v);
    expect(outlines.length).toBe(n);
    const fc = JSON.parse(nucleiGeoJson(outlines));
    expect(fc.features.length).toBe(n);
    let enclosed = 0;
    for (const f of fc.features) {
      expect(['Polygon', 'MultiPolygon']).toContain(f.geometry.type);
      expect(f.properties.classification.name).toBe('Nucleus');
      const polygons = (
        f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates
      ) as [number, number][][][];
      for (const rings of polygons) {
        for (const ring of rings) {
          expect(ring.length).toBeGreaterThanOrEqual(4);
          expect(ring[0]).toEqual(ring.at(-1));
          for (const [x, y] of ring) {
            expect(Number.isInteger(x) && x >= 0 && x <= 1000 && y >= 0 && y <= 1000, `${x},${y}`).toBe(true);
          }
          enclosed += signedArea(ring);
        }
      }
    }
    // Pixel-edge outlines enclose exactly the labelled pixels: 123072 (numpy, below).
    expect(enclosed).toBe(123_072);
    const stats = instanceStats(gt, rgb);
    expect(stats.length).toBe(n);
    // Independent figures from PIL + tifffile + numpy (tools venv), for the largest nucleus:
    //   lab = np.array(Image.open('labels/TCGA-21-5784-01Z-00-DX1.png')); rgb = tifffile.imread('images/...tif')
    //   ids, area = np.unique(lab[lab > 0], return_counts=True); big = ids[area.argmax()]
    //   ys, xs = np.nonzero(lab == big); xs.mean() + 0.5, ys.mean() + 0.5
    //   (0.299 * R + 0.587 * G + 0.114 * B)[lab == big].mean()
    // gave 398 nuclei, 123072 px in all; id 289, 1578 px, centroid (512.2313054499366, 204.0621039290241),
    // mean intensity 101.89089416983524.
    expect(n).toBe(398);
    expect(stats.reduce((a, r) => a + r.area, 0)).toBe(123_072);
    const big = stats.reduce((a, b) => (b.area > a.area ? b : a));
    expect([big.id, big.area]).toEqual([289, 1578]);
    expect(big.centroidX).toBeCloseTo(512.2313054499366, 9);
    expect(big.centroidY).toBeCloseTo(204.0621039290241, 9);
    expect(big.meanIntensity).toBeCloseTo(101.89089416983524, 9);
    expect(instanceStatsCsv(stats).trim().split('\n').length).toBe(n + 1);
    // The outline of the largest nucleus encloses its pixel count exactly (a ring through pixel centres would not).
    const polys = outlines.find((c) => c.id === big.id)!.polygons;
    expect(polys.flat().reduce((a, r) => a + signedArea(r), 0)).toBe(big.area);
  });
});
