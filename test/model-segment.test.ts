// nucleiflow segment: outputs and bad input (small image, gray image, missing/corrupt model dir).
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL } from '../cli/commands/segment.ts';
import { createRng } from '../src/augment/rng.ts';
import { loadConfig } from '../src/config.ts';
import { traceContours } from '../src/imaging/contours.ts';
import { nucleiGeoJson } from '../src/imaging/geojson.ts';
import { instanceStats, instanceStatsCsv } from '../src/imaging/instance-stats.ts';
import { readLabels, readRgb } from '../src/imaging/io.ts';
import { loadTf } from '../src/model/backend.ts';
import { loadSegmenter } from '../src/model/infer.ts';
import { loadModel, saveModel, tunedOptions } from '../src/model/model-dir.ts';
import { createUNet } from '../src/model/unet.ts';
import { runCli } from './helpers/cli.ts';

const dataDir = loadConfig().dataDir;
const SLIDE = 'TCGA-21-5784-01Z-00-DX1';
const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));
let modelDir: string;
let imgDir: string;

async function randomWeights(seed: number): Promise<Float32Array[]> {
  const net = createUNet(loadTf(), 'sigmoid', createRng(seed));
  const w = await Promise.all(net.params.map(async (p) => Float32Array.from(await p.data())));
  net.dispose();
  return w;
}

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
  await saveModel(modelDir, { seg: await randomWeights(1), dist: await randomWeights(2), stainTarget: null });
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
    expect(readFileSync(join(out, 'ok.csv'), 'utf8').split('\n')[0]).toBe(
      'id,area,centroid_x,centroid_y,mean_intensity',
    );
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
    expect(gray.stderr[0]).toMatch(/gray\.png: not an RGB image \(1 channel\)/);
    const missing = cli(join(imgDir, 'ok.png'), '--out', out, '--model', join(modelDir, 'nope'));
    expect(missing.code).not.toBe(0);
    expect(missing.stderr[0]).toMatch(/model .*nope: folder does not exist/);
    expect(readdirSync(out)).toEqual([]);
  });
});

describe('model folder', () => {
  it('round-trips float16 weights and rejects corrupt or incomplete folders', async () => {
    const m = await loadModel(modelDir);
    expect(m.seg.length).toBe(46);
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
    const m = await loadModel(DEFAULT_MODEL);
    const count = (ws: readonly Float32Array[]) => ws.reduce((n, w) => n + w.length, 0);
    expect(count(m.seg)).toBe(1_941_105);
    expect(count(m.dist)).toBe(1_941_105);
    expect(m.manifest.postprocess?.chosenOn).toMatch(/training images/);
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

  it('segments any size >= 256 px through the tiler with the same result as one tile', async () => {
    const s = await loadSegmenter(modelDir);
    const rgb = await readRgb(join(imgDir, 'ok.png'));
    const one = await s.segment(rgb, 'ok', { tile: 1024 });
    const tiled = await s.segment(rgb, 'ok', { tile: 256, margin: 48 });
    expect(tiled.foreground.data.length).toBe(320 * 288);
    // Tiles see mirrored context at the cut, so only near-equality is expected away from cuts.
    let close = 0;
    for (let i = 0; i < one.foreground.data.length; i++)
      if (Math.abs(one.foreground.data[i]! - tiled.foreground.data[i]!) < 0.05) close++;
    expect(close / one.foreground.data.length).toBeGreaterThan(0.9);
    s.dispose();
  });
});

describe('contours and GeoJSON on real ground truth', () => {
  it('gives one closed Nucleus polygon per nucleus, inside the image, and CSV rows per nucleus', async () => {
    const gt = await readLabels(join(dataDir, 'labels', `${SLIDE}.png`));
    const rgb = await readRgb(join(dataDir, 'images', `${SLIDE}.tif`));
    const contours = traceContours(gt);
    let n = 0;
    for (const v of gt.data) n = Math.max(n, v);
    expect(contours.length).toBe(n);
    const fc = JSON.parse(nucleiGeoJson(contours));
    expect(fc.features.length).toBe(n);
    for (const f of fc.features) {
      expect(f.geometry.type).toBe('Polygon');
      expect(f.properties.classification.name).toBe('Nucleus');
      const ring = f.geometry.coordinates[0] as [number, number][];
      expect(ring.length).toBeGreaterThanOrEqual(4);
      expect(ring[0]).toEqual(ring.at(-1));
      for (const [x, y] of ring) {
        expect(x).toBeGreaterThanOrEqual(0);
        expect(y).toBeLessThanOrEqual(1000);
      }
    }
    const stats = instanceStats(gt, rgb);
    expect(stats.length).toBe(n);
    expect(instanceStatsCsv(stats).trim().split('\n').length).toBe(n + 1);
    // Shoelace area of a traced ring (through pixel centres) is below the pixel count but close for round nuclei.
    const big = stats.reduce((a, b) => (b.area > a.area ? b : a));
    const ring = contours.find((c) => c.id === big.id)!.ring;
    let area2 = 0;
    for (let i = 0; i + 1 < ring.length; i++)
      area2 += ring[i]![0] * ring[i + 1]![1] - ring[i + 1]![0] * ring[i]![1];
    expect(Math.abs(area2 / 2)).toBeGreaterThan(0.7 * big.area);
    expect(Math.abs(area2 / 2)).toBeLessThan(big.area);
  });
});
