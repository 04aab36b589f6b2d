// The results file of a full `npm run bench` (bench/results/latest.json, committed), the source of the
// README's speed table (bench/readme-table.ts). Only a full run with no failed bench writes it; every run,
// --only ones included, writes bench/last-results.json (not committed) instead.
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { REPO_ROOT } from '../src/config.ts';
import { InputError } from '../src/errors.ts';

export const RESULTS_FILE = join(REPO_ROOT, 'bench', 'results', 'latest.json');
export const LAST_RESULTS_FILE = join(REPO_ROOT, 'bench', 'last-results.json');

/** One benchmark result: our time, and the reference implementation's time measured in the same run. */
const benchRow = z.object({
  name: z.string(),
  oursMs: z.number(),
  refName: z.string().optional(),
  refMs: z.number().optional(),
  peakRssMB: z.number().optional(),
  note: z.string().optional(),
});
export type BenchRow = z.infer<typeof benchRow>;

/** The machine a bench ran on. */
const machine = z.object({
  cpu: z.string(),
  cores: z.number().int(),
  /** The CPU's vector extensions that change TensorFlow's and WebAssembly's speed, widest first. */
  vector: z.array(z.string()),
  /** TensorFlow's own switch (see src/model/backend.ts), recorded because it changes the timings. */
  onednn: z.string(),
});
export type Machine = z.infer<typeof machine>;

export const benchResults = z.object({
  /** ISO time the run started. */
  date: z.string(),
  /** Wall time of the whole run, seconds. */
  wallS: z.number(),
  /** The command, as typed from the repository root. */
  command: z.string(),
  /** `git rev-parse HEAD`, with `+dirty` when the work tree had uncommitted changes. */
  commit: z.string(),
  node: z.string(),
  machine,
  /** True for a run of every bench file with none failed: the only kind RESULTS_FILE holds. */
  complete: z.boolean(),
  rows: z.array(benchRow),
  failed: z.array(z.string()),
});

export type BenchResults = z.infer<typeof benchResults>;

/** Reads and validates a results file; a missing or malformed one is one line naming the file. */
export function readResults(file: string = RESULTS_FILE): BenchResults {
  const name = relative(REPO_ROOT, file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new InputError(name, "not found; a full 'npm run bench' (no --only) writes it");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError(name, `not JSON (${(err as Error).message})`);
  }
  const parsed = benchResults.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(name, `${issue.path.join('.') || 'file'} ${issue.message}`);
  }
  if (!parsed.data.complete) throw new InputError(name, 'holds a partial run (--only or a failed bench)');
  return parsed.data;
}
