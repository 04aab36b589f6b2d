// Rewrites the README's speed table from the committed results of the last full bench run.
// Usage: npm run bench:readme   (reads bench/results/latest.json, rewrites README.md between the markers)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../src/config.ts';
import { UserError } from '../src/errors.ts';
import { type BenchResults, readResults } from './results.ts';

export const BEGIN =
  '<!-- speed-table:begin: npm run bench:readme rewrites everything from here to the end marker -->';
export const END = '<!-- speed-table:end -->';

const cell = (s: string) => s.replace(/\|/g, '\\|');

/** 8.42 ms, 71.3 ms, 1,761 ms, 67.0 s. */
export function formatMs(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return `${Math.round(ms).toLocaleString('en-US')} ms`;
  return `${ms.toFixed(ms >= 10 ? 1 : 2)} ms`;
}

function formatMB(mb: number): string {
  return mb >= 1024 ? `${(mb / 1024).toFixed(1)} GB` : `${Math.round(mb)} MB`;
}

/** The block between the markers: where the numbers come from, then one table row per bench row. */
export function speedTable(r: BenchResults): string {
  const m = r.machine;
  const wallS = Math.round(r.wallS);
  const took = `${Math.floor(wallS / 60)} min ${wallS % 60} s`;
  const lines = [
    `Numbers from one \`${r.command}\` (${took}) started ${r.date.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')} at commit`,
    `\`${r.commit.slice(0, 12)}\`${r.commit.endsWith('+dirty') ? ' (with uncommitted changes)' : ''}, Node ${r.node}, on ${m.cpu}, ${m.cores} cores, vector extensions ${m.vector.join(' ') || 'none listed'}, TF_ENABLE_ONEDNN_OPTS ${m.onednn}.`,
    'Source: [bench/results/latest.json](bench/results/latest.json). Each time is what its bench file reports (see',
    'bench/*.bench.ts for repetitions); peak RSS is that of the bench process.',
    '',
    '| bench row | NucleiFlow | reference, same run | ratio (reference / ours) | peak RSS | note |',
    '|---|---|---|---|---|---|',
  ];
  for (const row of r.rows) {
    const ref = row.refMs === undefined ? '-' : `${row.refName ?? 'reference'} ${formatMs(row.refMs)}`;
    const ratio = row.refMs === undefined ? '-' : (row.refMs / row.oursMs).toFixed(2);
    const rss = row.peakRssMB === undefined ? '-' : formatMB(row.peakRssMB);
    lines.push(
      `| ${cell(row.name)} | ${formatMs(row.oursMs)} | ${cell(ref)} | ${ratio} | ${rss} | ${cell(row.note ?? '')} |`,
    );
  }
  return lines.join('\n');
}

/** `text` with what lies between BEGIN and END replaced by `block`; the markers themselves stay. */
export function replaceBetweenMarkers(text: string, block: string, file = 'README.md'): string {
  const b = text.indexOf(BEGIN);
  const e = text.indexOf(END);
  if (b < 0) throw new UserError(`${file}: no '${BEGIN}' marker line; put it where the speed table begins`);
  if (e < 0) throw new UserError(`${file}: no '${END}' marker line; put it where the speed table ends`);
  if (text.indexOf(BEGIN, b + 1) >= 0 || text.indexOf(END, e + 1) >= 0)
    throw new UserError(`${file}: the speed-table markers appear more than once`);
  if (e < b) throw new UserError(`${file}: '${END}' comes before '${BEGIN}'`);
  return `${text.slice(0, b + BEGIN.length)}\n${block}\n${text.slice(e)}`;
}

function main(): void {
  const readme = join(REPO_ROOT, 'README.md');
  const results = readResults();
  const next = replaceBetweenMarkers(readFileSync(readme, 'utf8'), speedTable(results));
  writeFileSync(readme, next);
  process.stdout.write(
    `README.md: speed table rewritten from ${results.rows.length} rows of ${results.date}\n`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    main();
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    process.stderr.write(`bench:readme: ${err.message}\n`);
    process.exitCode = err.exitCode;
  }
}
