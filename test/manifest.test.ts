import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { kumarSplit, parseManifest, readManifest } from '../src/data/manifest.ts';
import { splitSlides } from '../src/data/splits.ts';
import { InputError } from '../src/errors.ts';

const dataDir = loadConfig().dataDir;
const short = (id: string) => id.replace(/^TCGA-/, '').replace(/-0\d[AZ]-.*$/, '');

describe('manifest.csv', () => {
  it('parses 30 typed rows with absolute paths', async () => {
    const slides = await readManifest(dataDir);
    expect(slides.length).toBe(30);
    const s = slides.find((x) => x.id === 'TCGA-21-5784-01Z-00-DX1')!;
    expect(s).toMatchObject({
      organ: 'Liver',
      tcgaProject: 'LUSC',
      splitKumar: 'test_same_organ',
      splitKumarHovernetReadme: 'train',
      imagePath: join(dataDir, 'images/TCGA-21-5784-01Z-00-DX1.tif'),
      imageTiffCompression: 'LZW+predictor2',
      annotationPath: join(dataDir, 'annotations/TCGA-21-5784-01Z-00-DX1.xml'),
      labelPath: join(dataDir, 'labels/TCGA-21-5784-01Z-00-DX1.png'),
    });
    expect(typeof s.nRegionsXml).toBe('number');
    expect(s.micronsPerPixel).toBeGreaterThan(0.24);
    expect(slides.filter((x) => x.annotationPath !== undefined).length).toBe(13);
    expect(slides.reduce((a, x) => a + (x.nLabelInstances ?? 0), 0)).toBe(16958);
  });

  it('gives the Kumar split: 16 train (4 per organ), the 8 same-organ and 6 new-organ test slides', async () => {
    const { train, testSeen, testUnseen } = await kumarSplit(dataDir);
    expect([train.length, testSeen.length, testUnseen.length]).toEqual([16, 8, 6]);
    const organs = (ss: { organ: string }[]) => {
      const count: Record<string, number> = {};
      for (const x of ss) count[x.organ] = (count[x.organ] ?? 0) + 1;
      return count;
    };
    expect(organs(train)).toEqual({ Breast: 4, Kidney: 4, Liver: 4, Prostate: 4 });
    expect(testSeen.map((x) => short(x.id)).sort()).toEqual(
      ['E2-A1B5', 'E2-A14V', 'B0-5698', 'B0-5710', '21-5784', '21-5786', 'CH-5767', 'G9-6362'].sort(),
    );
    expect(testUnseen.map((x) => short(x.id)).sort()).toEqual(
      ['DK-A2I6', 'G2-A2EK', 'AY-A8YK', 'NH-A8F7', 'KB-A93J', 'RD-A8N9'].sort(),
    );
    expect(organs(testUnseen)).toEqual({ Bladder: 2, Colon: 2, Stomach: 2 });
  });

  it('holds out one training image per organ for kumar-val (pinned), and trains on all 30 for all', async () => {
    const slides = await readManifest(dataDir);
    const k = splitSlides(slides, 'kumar');
    const v = splitSlides(slides, 'kumar-val');
    // Fixed before any comparison ran on it: the last training image of each organ in manifest order.
    expect(v.seen.map((x) => `${x.organ} ${short(x.id)}`)).toEqual([
      'Liver 50-5931',
      'Breast AR-A1AS',
      'Prostate G9-6363',
      'Kidney HE-7130',
    ]);
    expect(v.unseen).toEqual([]);
    expect(v.train).toHaveLength(12);
    // Disjoint, together the Kumar training set in its order; no test image anywhere.
    expect(v.train.some((x) => v.seen.includes(x))).toBe(false);
    expect(k.train.filter((x) => !v.seen.includes(x))).toEqual(v.train);
    const organs = new Set(v.train.map((x) => x.organ));
    expect(v.seen.every((x) => organs.has(x.organ))).toBe(true);
    const a = splitSlides(slides, 'all');
    expect(a.train).toEqual(slides);
    expect([a.train.length, a.seen.length, a.unseen.length]).toEqual([30, 0, 0]);
  });

  it('fails clearly when the manifest is missing', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'nf-man-'));
    await expect(kumarSplit(empty)).rejects.toThrow(InputError);
    await expect(kumarSplit(empty)).rejects.toThrow(/manifest\.csv: manifest not found/);
  });

  it('names the line and column of malformed content', async () => {
    const good = readFileSync(join(dataDir, 'manifest.csv'), 'utf8');
    const [header, row] = good.split('\n') as [string, string];
    const f = 'm.csv';
    expect(() => parseManifest('', f, '/d')).toThrow(/m\.csv: empty manifest/);
    expect(() => parseManifest(`${header}\n`, f, '/d')).toThrow(/no slides/);
    expect(() => parseManifest(header.replace('split_kumar,', ''), f, '/d')).toThrow(
      /header lacks column\(s\): split_kumar$/,
    );
    expect(() => parseManifest(`${header}\n${row},extra`, f, '/d')).toThrow(
      /line 2: 14 fields, header has 13/,
    );
    expect(() => parseManifest(`${header}\n${row.replace(',train,', ',validation,')}`, f, '/d')).toThrow(
      /line 2, column split_kumar: must be one of train, test_same_organ, test_diff_organ \(got 'validation'\)/,
    );
    expect(() => parseManifest(`${header}\n${row}\n${row}`, f, '/d')).toThrow(
      /line 3, column slide: duplicate/,
    );
    expect(() => parseManifest(`${header}\n${row.replace(/,480$/, ',many')}`, f, '/d')).toThrow(
      /line 2, column n_label_instances: must be a non-negative integer/,
    );
    const dir = mkdtempSync(join(tmpdir(), 'nf-man-'));
    writeFileSync(join(dir, 'manifest.csv'), `${header}\n"unterminated,${row}`);
    await expect(readManifest(dir)).rejects.toThrow(/line 2: malformed CSV/);
  });
});
