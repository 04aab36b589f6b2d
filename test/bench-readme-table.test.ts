import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BEGIN, END, formatMs, replaceBetweenMarkers, speedTable } from '../bench/readme-table.ts';
import { type BenchResults, readResults } from '../bench/results.ts';
import { InputError, UserError } from '../src/errors.ts';

const results: BenchResults = {
  date: '2026-12-02T19:30:05.123Z',
  wallS: 181.4,
  command: 'node --import tsx bench/run.ts',
  commit: '0123456789abcdef0123456789abcdef01234567',
  node: 'v20.19.0',
  machine: {
    cpu: 'AMD EPYC 7B13',
    cores: 2,
    vector: ['avx2', 'avx'],
    onednn: 'unset (a training process sets 1)',
  },
  complete: true,
  rows: [
    {
      name: 'model: U-Net train step 512x512, batch 2',
      oursMs: 1761.4,
      refName: 'PyTorch CPU',
      refMs: 2017.2,
      peakRssMB: 2867,
      note: 'best of 3',
    },
    { name: 'metrics: AJI | PQ', oursMs: 8.421, peakRssMB: 283.4 },
    { name: 'platform: quick run', oursMs: 67_012, note: 'embedded' },
  ],
  failed: [],
};

describe('speedTable', () => {
  const block = speedTable(results);
  const lines = block.split('\n');

  it('says where the numbers come from: command, time, commit, machine, node', () => {
    const head = lines.slice(0, 4).join(' ');
    expect(head).toContain('`node --import tsx bench/run.ts` (3 min 1 s) started 2026-12-02 19:30:05 UTC');
    expect(head).toContain('`0123456789ab`');
    expect(head).not.toContain('uncommitted');
    expect(head).toContain('Node v20.19.0, on AMD EPYC 7B13, 2 cores, vector extensions avx2 avx');
    expect(head).toContain('bench/results/latest.json');
    expect(speedTable({ ...results, commit: `${results.commit}+dirty` })).toContain(
      '(with uncommitted changes)',
    );
  });

  it('writes one row per bench row, with ratio reference / ours and escaped pipes', () => {
    const rows = lines.filter((l) => l.startsWith('| ') && !l.startsWith('| bench row'));
    expect(rows).toEqual([
      '| model: U-Net train step 512x512, batch 2 | 1,761 ms | PyTorch CPU 2,017 ms | 1.15 | 2.8 GB | best of 3 |',
      '| metrics: AJI \\| PQ | 8.42 ms | - | - | 283 MB |  |',
      '| platform: quick run | 67.0 s | - | - | - | embedded |',
    ]);
  });

  it('formats times by size', () => {
    expect([formatMs(8.421), formatMs(71.34), formatMs(1761.4), formatMs(67_012)]).toEqual([
      '8.42 ms',
      '71.3 ms',
      '1,761 ms',
      '67.0 s',
    ]);
  });
});

describe('replaceBetweenMarkers', () => {
  const readme = `# Title\n\nbefore\n${BEGIN}\nold table\n| a |\n${END}\n\nafter ${'text'}\n`;

  it('rewrites only what lies between the markers', () => {
    const next = replaceBetweenMarkers(readme, 'NEW');
    expect(next).toBe(`# Title\n\nbefore\n${BEGIN}\nNEW\n${END}\n\nafter text\n`);
    // Running it again on its own output changes nothing.
    expect(replaceBetweenMarkers(next, 'NEW')).toBe(next);
  });

  it.each([
    ['no begin marker', readme.replace(BEGIN, ''), /README\.md: no '<!-- speed-table:begin/],
    ['no end marker', readme.replace(END, ''), /README\.md: no '<!-- speed-table:end -->' marker/],
    ['markers swapped', `${END}\n${BEGIN}\n`, /comes before/],
    ['a second begin marker', `${readme}${BEGIN}\n`, /more than once/],
  ])('fails with one line naming the file when there is %s', (_, text, message) => {
    expect(() => replaceBetweenMarkers(text, 'NEW')).toThrow(UserError);
    expect(() => replaceBetweenMarkers(text, 'NEW')).toThrow(message);
  });
});

describe('readResults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nf-bench-results-'));
  const write = (name: string, body: unknown) => {
    const f = join(dir, name);
    writeFileSync(f, typeof body === 'string' ? body : JSON.stringify(body));
    return f;
  };

  it('reads a complete results file', () => {
    expect(readResults(write('ok.json', results))).toEqual(results);
  });

  it.each([
    ['a partial run', { ...results, complete: false }, /holds a partial run/],
    ['a row without oursMs', { ...results, rows: [{ name: 'x' }] }, /rows\.0\.oursMs/],
    ['text that is not JSON', '{', /not JSON/],
  ])('refuses %s, naming the file', (_, body, message) => {
    const f = write('bad.json', body);
    expect(() => readResults(f)).toThrow(InputError);
    expect(() => readResults(f)).toThrow(message);
    expect(() => readResults(f)).toThrow(/bad\.json/);
  });

  it('names the missing file and the command that writes it', () => {
    expect(() => readResults(join(dir, 'none.json'))).toThrow(
      /none\.json: not found; a full 'npm run bench'/,
    );
  });
});
