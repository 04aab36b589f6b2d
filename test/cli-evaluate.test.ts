import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { EVAL_KEYS } from '../src/metrics/index.ts';
import { CROSSCHECK_DIR, readCrosscheckManifest } from '../testing/crosscheck-fixtures.ts';
import { BIN } from './helpers/cli.ts';

function cli(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, 'evaluate', ...args],
      { encoding: 'utf8', timeout: 60_000 },
      (err, stdout, stderr) => resolve({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const pairs = readCrosscheckManifest().pairs;
const fx = (p: string) => join(CROSSCHECK_DIR, p);
const mixed = pairs.find((p) => p.name.includes('mixed'))!;
const scrambled = pairs.find((p) => p.name.includes('scrambled-ids'))!;
const full = pairs.find((p) => p.name.includes('full'))!;
const slide = 'TCGA-21-5784-01Z-00-DX1';
const data = loadConfig().dataDir;

describe('nucleiflow evaluate', () => {
  it('prints exactly the metric keys, reads XML ground truth, and fails with one clear line on bad input', async () => {
    const [json, xml, nonContig, relabelled, size, missing] = await Promise.all([
      cli('--pred', fx(mixed.pred), '--gt', fx(mixed.gt), '--json'),
      cli(
        '--pred',
        join(data, 'labels', `${slide}.png`),
        '--gt',
        join(data, 'annotations', `${slide}.xml`),
        '--json',
      ),
      cli('--pred', fx(scrambled.pred), '--gt', fx(scrambled.gt)),
      cli('--pred', fx(scrambled.pred), '--gt', fx(scrambled.gt), '--json', '--relabel'),
      cli('--pred', fx(mixed.pred), '--gt', fx(full.gt)),
      cli('--pred', fx('pairs/nope.png'), '--gt', fx(mixed.gt)),
    ]);
    expect(json.status).toBe(0);
    const r = JSON.parse(json.stdout) as Record<string, number>;
    expect(Object.keys(r)).toEqual([...EVAL_KEYS]);
    for (const k of EVAL_KEYS) expect(Math.abs(r[k]! - mixed.expected[k])).toBeLessThanOrEqual(1e-6);

    // The organisers' labels are our rasterisation of the XML, pixel for pixel.
    expect(xml.status).toBe(0);
    expect(JSON.parse(xml.stdout)).toMatchObject({ aji: 1, pq: 1, nGt: 398, nPred: 398 });

    for (const bad of [nonContig, size, missing]) {
      expect(bad.status).not.toBe(0);
      expect(bad.stdout).toBe('');
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(nonContig.stderr).toMatch(/not contiguous.*--relabel/);
    expect(size.stderr).toMatch(/size mismatch: --pred .* is 256x256 but --gt .* is 1000x1000/);
    expect(missing.stderr).toMatch(/nope\.png: file not found/);

    expect(relabelled.status).toBe(0);
    expect(JSON.parse(relabelled.stdout).aji).toBeCloseTo(scrambled.expected.aji, 12);
  });
});
