import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { EDGE_SLIDE, type TestSlide, testSlide } from '../testing/test-slide.ts';
import { runCli } from './helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'nf-slide-info-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let slide: TestSlide;
beforeAll(async () => {
  // The edge slide of test/slide-read.test.ts: the same options, so the same cached files.
  slide = await testSlide(EDGE_SLIDE);
}, 180_000);

describe('nucleiflow slide-info', () => {
  it('prints vendor, mpp, objective and levels, as text and as JSON', () => {
    const text = runCli(['slide-info', slide.svs40]);
    expect(text.stderr).toBe('');
    expect(text.status).toBe(0);
    expect(text.stdout).toContain(`slide      ${slide.svs40}\n`);
    expect(text.stdout).toContain('vendor     aperio\n');
    expect(text.stdout).toContain('mpp        0.2527 x 0.2527 microns per pixel (level 0)\n');
    expect(text.stdout).toContain('objective  40x\n');
    expect(text.stdout).toMatch(
      /levels {5}3\n {2}0 +1024 x 512 +downsample 1\n {2}1 +256 x 128 +downsample 4\n {2}2 +64 x 32 +downsample 16\n$/,
    );

    const json = runCli(['slide-info', '--json', slide.svs20]);
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      path: slide.svs20,
      vendor: 'aperio',
      levels: [
        { width: 512, height: 256, downsample: 1 },
        { width: 128, height: 64, downsample: 4 },
        { width: 32, height: 16, downsample: 16 },
      ],
      mpp: { x: 0.5054, y: 0.5054 },
      objectivePower: 20,
    });

    const plain = runCli([
      'slide-info',
      '--json',
      join(loadConfig().dataDir, 'images', 'TCGA-21-5784-01Z-00-DX1.tif'),
    ]);
    expect(plain.status).toBe(0);
    expect(JSON.parse(plain.stdout)).toMatchObject({ vendor: 'image/tiff', mpp: null, objectivePower: null });
  });

  it('fails with one line naming the file: unsupported, damaged smallest level, truncated; and names the setup script', () => {
    const svs = readFileSync(slide.svs40);
    const files = {
      unsupported: join(dir, 'notes.svs'),
      damaged: join(dir, 'damaged.svs'),
      truncated: join(dir, 'truncated.svs'),
    };
    writeFileSync(files.unsupported, 'not a slide\n');
    // The smallest level's tile data is at the end of the file; slide-info decodes that level.
    const damaged = Buffer.from(svs);
    damaged.fill(0x5a, svs.length - 1000, svs.length - 400);
    writeFileSync(files.damaged, damaged);
    writeFileSync(files.truncated, svs.subarray(0, Math.floor(svs.length / 2)));
    const expected = {
      unsupported: /unsupported file: not a slide format OpenSlide reads/,
      damaged: /OpenSlide cannot read level 2 at \(0, 0\), 64x32: Corrupt JPEG data/,
      truncated: /corrupt or truncated slide: an Aperio slide that OpenSlide does not recognise/,
    };
    for (const [name, path] of Object.entries(files) as [keyof typeof files, string][]) {
      const r = runCli(['slide-info', path]);
      expect(r.status, name).toBe(1);
      expect(r.stdout, name).toBe('');
      expect(r.stderr.trim().split('\n'), name).toHaveLength(1);
      expect(r.stderr.startsWith(`nucleiflow: ${path}: `), name).toBe(true);
      expect(r.stderr, name).toMatch(expected[name]);
    }

    const noLib = runCli(['slide-info', slide.svs40], {
      env: { ...process.env, NUCLEIFLOW_CACHE: join(dir, 'empty-cache'), NUCLEIFLOW_OPENSLIDE_LIB: '' },
    });
    // An empty NUCLEIFLOW_OPENSLIDE_LIB is a config error (exit 2) naming the variable...
    expect(noLib.status).toBe(2);
    expect(noLib.stderr).toMatch(
      /^nucleiflow: NUCLEIFLOW_OPENSLIDE_LIB must be the path of an existing OpenSlide library/,
    );
    const env: NodeJS.ProcessEnv = { ...process.env, NUCLEIFLOW_CACHE: join(dir, 'empty-cache') };
    delete env.NUCLEIFLOW_OPENSLIDE_LIB;
    // ...and with neither it nor the tools venv, the setup script is named.
    const missing = runCli(['slide-info', slide.svs40], { env });
    expect(missing.status).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/the OpenSlide library is not installed .*run `bash scripts\/setup\.sh`/);
  });
});
