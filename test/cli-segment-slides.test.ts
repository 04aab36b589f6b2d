// `nucleiflow segment <folder>` on the embedded defaults (PGlite, the embedded Temporal, an in-process worker): one
// child workflow per slide, a failed slide one line without stopping the others, a repeat skipping what is done;
// a plain image in the folder segmented in one piece.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { EDGE_SLIDE, testSlide } from '../testing/test-slide.ts';
import { runCli } from './helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'nf-segment-slides-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = (): NodeJS.ProcessEnv => {
  const { DATABASE_URL: _d, TEMPORAL_ADDRESS: _t, MLFLOW_TRACKING_URI: _m, ...rest } = process.env;
  return { ...rest, NUCLEIFLOW_HOME: join(dir, 'home'), TF_CPP_MIN_LOG_LEVEL: '3' };
};

const slides = join(dir, 'slides');
const out = join(dir, 'out');
beforeAll(async () => {
  const s = await testSlide(EDGE_SLIDE);
  mkdirSync(slides);
  copyFileSync(s.svs40, join(slides, 'a.svs'));
  copyFileSync(s.svs20, join(slides, 'b.svs'));
  copyFileSync(s.genericTiff, join(slides, 'c.tif'));
  // A plain MoNuSeg TIFF among the slides: segmented in one piece, not sent to the slide workflow.
  copyFileSync(join(loadConfig().dataDir, 'images', 'TCGA-21-5784-01Z-00-DX1.tif'), join(slides, 'd.tif'));
}, 300_000);

describe('nucleiflow segment <folder of slides>', { timeout: 600_000 }, () => {
  it('a single slide that cannot be planned is one line on stderr naming the file, exit 1', () => {
    const r = runCli(['segment', join(slides, 'c.tif'), '--out', join(dir, 'single')], {
      env: { ...env(), NUCLEIFLOW_HOME: join(dir, 'home-single') },
      timeoutMs: 300_000,
    });
    expect(r.status).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => l && !l.includes('embedded Temporal'));
    expect(errors).toEqual([
      `nucleiflow: ${join(slides, 'c.tif')}: no pixel size: the file records no microns per pixel; pass --mpp <microns per pixel>`,
    ]);
  });

  it('segments each slide; one with no pixel size fails in one line, the rest complete; --mpp then completes it', () => {
    const first = runCli(['segment', slides, '--out', out], { env: env(), timeoutMs: 500_000 });
    expect(first.status, first.stderr).toBe(1);
    const lines = first.stdout.trim().split('\n').slice(1); // after the model line
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/d\.tif: \d+ nuclei in [\d.]+ s -> /);
    expect(existsSync(join(out, 'd.labels.png'))).toBe(true);
    expect(lines[1]).toMatch(/a\.svs: \d+ nuclei in [\d.]+ mm\^2 of tissue/);
    expect(lines[2]).toMatch(/b\.svs: \d+ nuclei in [\d.]+ mm\^2 of tissue/);
    expect(lines[3]).toMatch(/c\.tif: failed: .*c\.tif: no pixel size: .*pass --mpp/);
    const a = JSON.parse(readFileSync(join(out, 'a.summary.json'), 'utf8'));
    const b = JSON.parse(readFileSync(join(out, 'b.summary.json'), 'utf8'));
    expect(a.scale).toBeCloseTo(1, 6);
    expect(b.scale).toBeCloseTo(2, 6);
    expect(a.nuclei).toBeGreaterThan(50);

    const second = runCli(['segment', slides, '--out', out, '--mpp', '0.2527'], {
      env: env(),
      timeoutMs: 500_000,
    });
    expect(second.status, second.stderr).toBe(0);
    const again = second.stdout.trim().split('\n').slice(1);
    expect(again[0]).toMatch(/d\.tif: \d+ nuclei in [\d.]+ s -> /);
    expect(again[1]).toMatch(/a\.svs: already segmented with this model/);
    expect(again[2]).toMatch(/b\.svs: already segmented with this model/);
    expect(again[3]).toMatch(/c\.tif: \d+ nuclei/);
    // The generic TIFF holds the 40x slide's pixels: given its pixel size, the same nuclei.
    expect(JSON.parse(readFileSync(join(out, 'c.summary.json'), 'utf8')).nuclei).toBe(a.nuclei);

    const listed = runCli(['slides', '--json'], { env: env() });
    const rows = JSON.parse(listed.stdout) as Array<{ slide: string; status: string }>;
    expect(rows.map((r) => [r.slide.split('/').pop(), r.status]).sort()).toEqual([
      ['a.svs', 'skipped'],
      ['b.svs', 'skipped'],
      ['c.tif', 'completed'],
    ]);
  });
});
