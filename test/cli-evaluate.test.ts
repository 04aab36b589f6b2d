import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { readLabels, writeLabelsPng } from '../src/imaging/io.ts';
import { relabelSequential } from '../src/imaging/relabel.ts';
import type { LabelImage } from '../src/imaging/types.ts';
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
    const [json, xml, size, missing] = await Promise.all([
      cli('--pred', fx(mixed.pred), '--gt', fx(mixed.gt), '--json'),
      cli(
        '--pred',
        join(data, 'labels', `${slide}.png`),
        '--gt',
        join(data, 'annotations', `${slide}.xml`),
        '--json',
      ),
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

    for (const bad of [size, missing]) {
      expect(bad.status).not.toBe(0);
      expect(bad.stdout).toBe('');
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(size.stderr).toMatch(
      /08-mixed-pred\.png: prediction is 256x256 but its ground truth .*27-full-mixed-gt\.png is 1000x1000/,
    );
    expect(missing.stderr).toMatch(/nope\.png: file not found/);
  });

  it('scores label maps with gaps in their ids, without a flag, as after renumbering them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nf-eval-gaps-'));
    const gt = await readLabels(join(data, 'labels', `${slide}.png`));
    // A prediction made from the GT: every 4th object deleted, the rest given scrambled, spaced ids.
    const n = gt.data.reduce((m, v) => Math.max(m, v), 0);
    const newId = new Int32Array(n + 1);
    for (let id = 1; id <= n; id++) if (id % 4 !== 0) newId[id] = 1 + ((id * 7919) % n) * 97;
    const pred: LabelImage = { ...gt, data: gt.data.map((v) => newId[v]!) };
    // The GT gets gaps too: ids spaced by 3.
    const gtGapped: LabelImage = { ...gt, data: gt.data.map((v) => 3 * v) };
    const files = {
      pred: join(dir, 'pred-gapped.png'),
      predSeq: join(dir, 'pred-renumbered.png'),
      gt: join(dir, 'gt-gapped.png'),
      gtSeq: join(dir, 'gt-renumbered.png'),
    };
    const predSeq = relabelSequential(pred).labels;
    await Promise.all([
      writeLabelsPng(files.pred, pred),
      writeLabelsPng(files.predSeq, predSeq),
      writeLabelsPng(files.gt, gtGapped),
      writeLabelsPng(files.gtSeq, relabelSequential(gtGapped).labels),
    ]);
    const nPred = new Set(predSeq.data).size - 1;
    expect(pred.data.reduce((m, v) => Math.max(m, v), 0)).toBeGreaterThan(nPred + 1000); // the ids really have gaps

    const [gapped, renumbered, scrambledPair] = await Promise.all([
      cli('--pred', files.pred, '--gt', files.gt, '--json'),
      cli('--pred', files.predSeq, '--gt', files.gtSeq, '--json'),
      cli('--pred', fx(scrambled.pred), '--gt', fx(scrambled.gt), '--json'),
    ]);
    for (const r of [gapped, renumbered, scrambledPair]) expect([r.status, r.stderr]).toEqual([0, '']);
    const a = JSON.parse(gapped.stdout) as Record<string, number>;
    expect(a).toEqual(JSON.parse(renumbered.stdout));
    expect(a).toMatchObject({ nGt: n, nPred, tp: nPred, fn: n - nPred, fp: 0 });
    // The NumPy reference scored the same scrambled-ids pair on its ids as they are.
    const s = JSON.parse(scrambledPair.stdout) as Record<string, number>;
    for (const k of EVAL_KEYS) expect(Math.abs(s[k]! - scrambled.expected[k])).toBeLessThanOrEqual(1e-6);
  });
});
