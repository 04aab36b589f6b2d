// Shared benchmark plumbing: every bench/*.bench.ts exports `run(): Promise<BenchRow[]>`; bench/run.ts prints them.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../src/config.ts';
import type { Machine } from './results.ts';

export type { BenchRow } from './results.ts';

export interface Timing {
  /** Fastest repetition (least disturbed by other load on the machine). */
  minMs: number;
  medianMs: number;
  meanMs: number;
  /** Fastest repetition in process CPU time (user + system; less sensitive to other load, but counts V8's GC helper threads). */
  cpuMinMs: number;
  samples: number[];
}

/**
 * Times `fn` `reps` times after `warmup` untimed calls (JIT warm-up). Returns the minimum, median
 * and mean; benches report the minimum, as the Python side does, since both run on a shared machine.
 */
export async function timeIt(fn: () => unknown, reps = 5, warmup = 1): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  let cpuMinMs = Number.POSITIVE_INFINITY;
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpuMinMs = Math.min(cpuMinMs, (c.user + c.system) / 1000);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    minMs: sorted[0]!,
    medianMs: sorted[sorted.length >> 1]!,
    meanMs: samples.reduce((s, x) => s + x, 0) / samples.length,
    cpuMinMs,
    samples,
  };
}

/** Peak resident set size of this process so far, in MB. */
export function peakRssMB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

let venvPython: string | undefined;

/**
 * The python of the benchmark venv: the tools venv plus PyTorch (scripts/setup-tools-venv.sh
 * --bench creates it once, cached, and prints its path), so every reference a bench needs is there.
 */
export function toolsPython(): string {
  venvPython ??= join(
    execFileSync('bash', [join(REPO_ROOT, 'scripts', 'setup-tools-venv.sh'), '--bench'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop()!,
    'bin',
    'python',
  );
  return venvPython;
}

/**
 * Runs a Python script with the benchmark venv (path relative to the repo root or absolute) and parses
 * the last line of its stdout as JSON. stderr passes through, so the script can report progress.
 */
export function runPython<T = unknown>(script: string, args: string[] = []): T {
  const out = execFileSync(
    toolsPython(),
    [script.startsWith('/') ? script : join(REPO_ROOT, script), ...args],
    {
      encoding: 'utf8',
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const last = out.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`runPython ${script}: last stdout line is not JSON: ${last.slice(0, 200)}`);
  }
}

/**
 * Model, cores, vector extensions and the oneDNN setting. Model ratios differ by about 2x between an
 * AVX512 and an AVX2-only CPU of the same name, so a result without these cannot be compared with another.
 */
export function machine(): Machine {
  let flags = new Set<string>();
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('flags'));
    flags = new Set((line ?? '').split(':')[1]?.trim().split(/\s+/) ?? []);
  } catch {
    // Not Linux: no vector extensions are listed.
  }
  return {
    cpu: cpus()[0]?.model ?? '-',
    cores: cpus().length,
    vector: ['amx_tile', 'avx512_bf16', 'avx512_vnni', 'avx512f', 'avx2', 'avx'].filter((f) => flags.has(f)),
    onednn: process.env.TF_ENABLE_ONEDNN_OPTS ?? 'unset (a training process sets 1)',
  };
}

/** The machine in one line, as the bench prints it above its table. */
export function machineLine(m: Machine = machine()): string {
  return `${m.cpu}, ${m.cores} cores, ${m.vector.join(' ') || '-'}; TF_ENABLE_ONEDNN_OPTS=${m.onednn}`;
}
