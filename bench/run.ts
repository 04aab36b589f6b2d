// Runs every bench/*.bench.ts (each in its own process, so peak memory is per file) and prints one table.
// Usage: npm run bench [-- --only <substring>]   (matches bench file names, else row names)
// Every run writes bench/last-results.json (not committed). A full run with no failed bench also writes
// bench/results/latest.json, the committed source of the README's speed table (npm run bench:readme);
// an --only run never touches it, so a partial run cannot replace the full one.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../src/config.ts';
import { type BenchRow, machine, machineLine } from './harness.ts';
import { type BenchResults, LAST_RESULTS_FILE, RESULTS_FILE } from './results.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const MARK = '@@bench-rows@@';

async function child(file: string): Promise<void> {
  const mod = (await import(pathToFileURL(join(HERE, file)).href)) as { run?: () => Promise<BenchRow[]> };
  if (typeof mod.run !== 'function') throw new Error(`${file} does not export run()`);
  const rows = await mod.run();
  const rss = process.resourceUsage().maxRSS / 1024;
  for (const r of rows) r.peakRssMB ??= rss;
  process.stdout.write(`\n${MARK}${JSON.stringify(rows)}\n`);
}

function fmt(n: number | undefined, digits = 1): string {
  return n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits);
}

function table(rows: BenchRow[]): string {
  const head = ['name', 'ours ms', 'reference', 'ref ms', 'ref/ours', 'peak RSS MB', 'note'];
  const body = rows.map((r) => [
    r.name,
    fmt(r.oursMs),
    r.refName ?? '-',
    fmt(r.refMs),
    r.refMs === undefined ? '-' : `${fmt(r.refMs / r.oursMs, 2)}x`,
    fmt(r.peakRssMB, 0),
    r.note ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 || i >= 6 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function gitCommit(): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  try {
    return `${git('rev-parse', 'HEAD')}${git('status', '--porcelain') ? '+dirty' : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

function writeAtomically(file: string, results: BenchResults): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(results, null, 1)}\n`);
  renameSync(tmp, file);
}

async function main(argv: string[]): Promise<void> {
  const started = new Date();
  const ci = argv.indexOf('--child');
  if (ci >= 0) return child(argv[ci + 1]!);
  const oi = argv.indexOf('--only');
  const only = oi >= 0 ? argv[oi + 1] : undefined;
  if (oi >= 0 && !only) throw new Error('--only needs a substring');
  const files = readdirSync(HERE)
    .filter((f) => f.endsWith('.bench.ts'))
    .sort();
  const byFile = only ? files.filter((f) => f.includes(only)) : files;
  const selected = byFile.length > 0 ? byFile : files;
  const rows: BenchRow[] = [];
  const failed: string[] = [];
  for (const file of selected) {
    process.stderr.write(`[bench] ${file}\n`);
    try {
      const out = execFileSync(process.execPath, ['--import', 'tsx', join(HERE, 'run.ts'), '--child', file], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 64 * 1024 * 1024,
      });
      const line = out.split('\n').find((l) => l.startsWith(MARK));
      if (!line) throw new Error('no result rows printed');
      rows.push(...(JSON.parse(line.slice(MARK.length)) as BenchRow[]));
    } catch (err) {
      failed.push(`${file}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const shown = only && byFile.length === 0 ? rows.filter((r) => r.name.includes(only)) : rows;
  const m = machine();
  process.stdout.write(`machine: ${machineLine(m)}\n${table(shown)}\n`);
  const results: BenchResults = {
    date: started.toISOString(),
    wallS: (Date.now() - started.getTime()) / 1000,
    // What the package.json script runs, with this run's arguments.
    command: ['node --import tsx bench/run.ts', ...argv].join(' '),
    commit: gitCommit(),
    node: process.version,
    machine: m,
    complete: only === undefined && failed.length === 0,
    rows: shown,
    failed,
  };
  writeAtomically(LAST_RESULTS_FILE, results);
  if (results.complete) {
    writeAtomically(RESULTS_FILE, results);
    process.stderr.write(
      `[bench] wrote ${relative(REPO_ROOT, RESULTS_FILE)}; 'npm run bench:readme' puts it in README.md\n`,
    );
  }
  if (failed.length > 0) {
    process.stderr.write(`[bench] ${failed.length} bench file(s) failed:\n  ${failed.join('\n  ')}\n`);
    process.exitCode = 1;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
