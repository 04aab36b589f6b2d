import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { choiceList, decimal, integer, nonNegativeNumber, positiveInt } from '../cli/options.ts';
import { SHIPPED_SPECS } from '../experiments/index.ts';
import { BIN } from './helpers/cli.ts';

function cli(args: readonly string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) =>
      done({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('CLI option values', () => {
  it('a bad value is one line naming the option, exit 2, before the command does anything', async () => {
    const cases: [string[], string][] = [
      [
        ['runs', '--limit', 'abc'],
        "option '--limit <n>' argument 'abc' is invalid. Expected an integer >= 1.",
      ],
      [['cancel', 'run-1', '--wait', 'abc'], "option '--wait <seconds>' argument 'abc' is invalid."],
      [['worker', '--train-slots', '2x'], "option '--train-slots <n>' argument '2x' is invalid."],
      [['train', '--seed', '1.5'], "option '--seed <n>' argument '1.5' is invalid."],
      [['segment', 'x.png', '--out', 'o', '--format', 'png,jpg'], "'jpg' is not allowed; choose from png"],
      [
        ['segment', 'x.svs', '--out', 'o', '--parallel', '0.4'],
        "option '--parallel <n>' argument '0.4' is invalid. Expected an integer >= 1.",
      ],
      [
        ['segment', 'x.svs', '--out', 'o', '--mpp', '0'],
        "option '--mpp <microns>' argument '0' is invalid. Expected a number > 0.",
      ],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(args)));
    results.forEach((r, k) => {
      expect(r.status, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringContaining(cases[k]![1])]);
    });
  });

  it('an unknown command exits 2 too; help exits 0', async () => {
    const [unknown, help, runHelp, segmentHelp] = await Promise.all([
      cli(['lables']),
      cli(['runs', '--help']),
      cli(['run', '--help']),
      cli(['segment', '--help']),
    ]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^error: unknown command 'lables'\n\(Did you mean labels\?\)/);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--limit <n> +at most this many runs \(default: 50\)/);
    // run's help lists every shipped spec; segment's argument names slides and folders as well as images.
    const runText = runHelp.stdout.replace(/\s+/g, ' ');
    for (const name of SHIPPED_SPECS) expect(runText).toMatch(new RegExp(`[ :]${name}[,;]`));
    expect(segmentHelp.stdout.replace(/\s+/g, ' ')).toMatch(/whole slides .* or folders of either/);
  });

  it('the parsers take exactly their values', () => {
    expect(positiveInt('12')).toBe(12);
    for (const bad of ['0', '2x', '1.5', '', ' ', '0x10', '1e3']) expect(() => positiveInt(bad)).toThrow();
    expect(integer({ min: 16, multipleOf: 16 })('256')).toBe(256);
    expect(() => integer({ min: 16, multipleOf: 16 })('0')).toThrow(/a multiple of 16 >= 16/);
    expect(nonNegativeNumber('0')).toBe(0);
    expect(nonNegativeNumber('.5')).toBe(0.5);
    for (const bad of ['-1', 'abc', 'Infinity', '1e999']) expect(() => nonNegativeNumber(bad)).toThrow();
    expect(() => decimal({ min: 0, below: 50 })('50')).toThrow(/>= 0 and < 50/);
    expect(choiceList(['png', 'tiff'])('tiff, png,tiff')).toEqual(['tiff', 'png']);
    expect(() => choiceList(['png', 'tiff'])(',')).toThrow(/Empty list/);
  });
});
