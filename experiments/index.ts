/**
 * Loads an experiment spec (a shipped name such as `quick`, or a .ts/.json file), applies
 * `--set key=value` overrides, validates it and expands its ablation matrix into runs. Every error
 * is a SpecError that names the offending field by its dotted path, and is raised before anything
 * is started.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { UserError } from '../src/errors.ts';
import { type RunSpec, type Spec, specSchema } from './schema.ts';

export type { RunSpec, Spec, SpecInput, TrainingSpec } from './schema.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

/** The specs that ship with NucleiFlow (files experiments/<name>.ts). */
export const SHIPPED_SPECS = [
  'paper',
  'ablation-erosion',
  'quick',
  'cpu-60min-c256',
  'ablation-erosion-c256',
  'variants-val-c256',
  'general',
] as const;

/** Short names accepted as matrix keys and in --set. */
export const ALIASES: Readonly<Record<string, string>> = {
  gtErosion: 'groundTruth.erosion',
  erosionRadius: 'groundTruth.erosionRadius',
  stainNormalisation: 'preprocessing.stainNormalisation',
  iterativeSizeReestimation: 'postprocess.iterativeSizeReestimation',
  hed: 'augmentation.hed',
};

/** Most runs one spec may expand into. */
export const MAX_RUNS = 64;

export class SpecError extends UserError {
  readonly path: string;
  constructor(source: string, path: string, problem: string) {
    super(`${source}: ${path ? `${path}: ` : ''}${problem}`, { exitCode: 2 });
    this.name = 'SpecError';
    this.path = path;
  }
}

export interface PlannedRun {
  /** Position in the expansion, 0-based. */
  readonly index: number;
  /** The matrix values of this run, keyed by dotted path; {} without a matrix. */
  readonly arm: Readonly<Record<string, unknown>>;
  readonly spec: RunSpec;
  /** sha256 of the canonical JSON of everything that decides the result. */
  readonly configHash: string;
}

export interface LoadedSpec {
  /** Where it came from (shipped name or file path), for messages. */
  readonly source: string;
  readonly spec: Spec;
  readonly runs: readonly PlannedRun[];
}

const dotted = (path: readonly PropertyKey[]): string =>
  path.reduce<string>(
    (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
    '',
  );

function firstIssue(source: string, err: z.ZodError, prefix = ''): SpecError {
  const issue = err.issues[0]!;
  let path = dotted(issue.path);
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    path = dotted([...issue.path, issue.keys[0]!]);
    message = 'unknown key';
  } else if (issue.code === 'invalid_type' && /received undefined/.test(message)) {
    message = 'required';
  }
  return new SpecError(source, prefix ? (path ? `${prefix} -> ${path}` : prefix) : path, message);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON with sorted keys, so equal specs hash equally whatever their key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isPlainObject(v)) {
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Hash of the fields that decide a result: scheduling (`orchestration`) and naming are left out. */
export function configHash(spec: RunSpec): string {
  const { name: _n, description: _d, orchestration: _o, ...science } = spec;
  return createHash('sha256').update(canonicalJson(science)).digest('hex');
}

/**
 * configHash without the seed: runs of one recipe share it, whatever seed and split they ran on, so
 * the store can tell when a recipe's test scores were first seen.
 */
export function recipeHash(spec: RunSpec): string {
  const { name: _n, description: _d, orchestration: _o, seed: _s, dataset, ...science } = spec;
  const { split: _split, maxTestImages: _m, ...data } = dataset;
  return createHash('sha256')
    .update(canonicalJson({ ...science, dataset: data }))
    .digest('hex');
}

function resolveAlias(key: string): string {
  return ALIASES[key] ?? key;
}

/**
 * Sets `path` (dotted) in a plain-object tree, creating nothing: the parent must exist. `null`
 * removes the field (no spec field takes null), e.g. to swap a net's budget kind with --set.
 */
function setPath(
  source: string,
  root: Record<string, unknown>,
  path: string,
  value: unknown,
  what: string,
): void {
  const parts = path.split('.');
  let node: Record<string, unknown> = root;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = node[parts[i]!];
    if (!isPlainObject(next)) {
      throw new SpecError(source, what, `'${parts.slice(0, i + 1).join('.')}' is not a section of the spec`);
    }
    node = next;
  }
  if (value === null) delete node[parts.at(-1)!];
  else node[parts.at(-1)!] = value;
}

function getPath(root: unknown, path: string): { found: boolean; value: unknown } {
  let node: unknown = root;
  for (const p of path.split('.')) {
    if (!isPlainObject(node) || !(p in node)) return { found: false, value: undefined };
    node = node[p];
  }
  return { found: true, value: node };
}

/**
 * A field the spec may leave out (e.g. training.seg.dropout): its section exists and the strict schema
 * accepts the key there. A typo still fails, as an unknown key.
 */
function isOptionalField(base: Record<string, unknown>, path: string): boolean {
  const dot = path.lastIndexOf('.');
  const section = dot < 0 ? base : getPath(base, path.slice(0, dot)).value;
  if (!isPlainObject(section)) return false;
  const probe = structuredClone(base);
  const parent = dot < 0 ? probe : (getPath(probe, path.slice(0, dot)).value as Record<string, unknown>);
  parent[path.slice(dot + 1)] = undefined;
  const parsed = specSchema.safeParse(probe);
  return parsed.success || !parsed.error.issues.some((i) => i.code === 'unrecognized_keys');
}

/** Parses one `key=value` override; the value is JSON when it parses as JSON, else a string (null: remove the field). */
export function parseSet(expr: string): { key: string; value: unknown } {
  const eq = expr.indexOf('=');
  if (eq <= 0) throw new SpecError('--set', expr, 'expected key=value, e.g. --set training.seg.epochs=3');
  const key = resolveAlias(expr.slice(0, eq).trim());
  const raw = expr.slice(eq + 1).trim();
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // not JSON: a bare string such as first or train-gpu
  }
  return { key, value };
}

/** Reads the raw spec object: a shipped name, or a path to a .ts/.mts/.js/.json file. */
export async function readSpecSource(nameOrPath: string): Promise<{ source: string; raw: unknown }> {
  const shipped = (SHIPPED_SPECS as readonly string[]).includes(nameOrPath);
  const file = shipped ? resolve(HERE, `${nameOrPath}.ts`) : resolve(nameOrPath);
  if (!existsSync(file)) {
    throw new SpecError(
      nameOrPath,
      '',
      `no such spec (shipped specs: ${SHIPPED_SPECS.join(', ')}; or give a .ts or .json file)`,
    );
  }
  const ext = extname(file);
  if (ext === '.json') {
    try {
      return { source: nameOrPath, raw: JSON.parse(readFileSync(file, 'utf8')) };
    } catch (err) {
      throw new SpecError(nameOrPath, '', `not valid JSON (${(err as Error).message})`);
    }
  }
  if (!['.ts', '.mts', '.js', '.mjs'].includes(ext)) {
    throw new SpecError(nameOrPath, '', 'a spec is a .ts, .js or .json file');
  }
  const mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  if (mod.default === undefined) throw new SpecError(nameOrPath, '', 'the module has no default export');
  return { source: nameOrPath, raw: mod.default };
}

/** Validates a raw spec with overrides and expands its matrix. Pure: no I/O. */
export function resolveSpec(
  source: string,
  raw: unknown,
  sets: readonly string[] = [],
): { spec: Spec; runs: PlannedRun[] } {
  if (!isPlainObject(raw)) throw new SpecError(source, '', 'a spec must be an object');
  const tree = structuredClone(raw);
  for (const expr of sets) {
    const { key, value } = parseSet(expr);
    setPath(source, tree, key, value, key);
  }
  const parsed = specSchema.safeParse(tree);
  if (!parsed.success) throw firstIssue(source, parsed.error);
  const spec = parsed.data;
  return { spec, runs: expandMatrix(source, spec) };
}

/** The matrix key whose values each set several fields together (an arm of related changes). */
export const VARIANT_KEY = 'variant';

/**
 * The cartesian product of the matrix; each arm is validated as a full spec. A key names one field
 * (a dotted path or an alias) and lists its values; the key `variant` lists objects of such paths to
 * values, each applied as one arm (e.g. a three-class target together with erosion off).
 */
export function expandMatrix(source: string, spec: Spec): PlannedRun[] {
  const { matrix, ...base } = spec;
  const checkPath = (k: string, where: string): string => {
    const path = resolveAlias(k);
    if (path === 'matrix' || path.startsWith('matrix.') || path === 'name' || path === 'description') {
      throw new SpecError(source, where, `'${path}' cannot vary in a matrix`);
    }
    const current = getPath(base, path);
    if (!current.found && !isOptionalField(base, path)) {
      throw new SpecError(source, where, `'${path}' is not a field of the spec`);
    }
    if (isPlainObject(current.value)) {
      throw new SpecError(source, where, `'${path}' is a section; name one of its fields`);
    }
    return path;
  };
  const entries = Object.entries(matrix ?? {}).map(([k, values]) => {
    const where = `matrix.${k}`;
    if (values.length === 0) throw new SpecError(source, where, 'needs at least one value');
    const seen = new Set(values.map((v) => canonicalJson(v)));
    if (seen.size !== values.length) throw new SpecError(source, where, 'lists the same value twice');
    // Each value becomes the [path, value] pairs it sets.
    const sets: Array<Array<[string, unknown]>> =
      k === VARIANT_KEY
        ? values.map((v, i) => {
            if (!isPlainObject(v) || Object.keys(v).length === 0)
              throw new SpecError(source, `${where}[${i}]`, 'must be an object of field paths to values');
            return Object.entries(v).map(([field, x]) => [checkPath(field, `${where}[${i}].${field}`), x]);
          })
        : values.map((v) => [[checkPath(k, where), v]]);
    return { key: k, sets };
  });
  const total = entries.reduce((n, e) => n * e.sets.length, 1);
  if (total > MAX_RUNS) {
    throw new SpecError(source, 'matrix', `expands into ${total} runs; at most ${MAX_RUNS} are allowed`);
  }
  const runs: PlannedRun[] = [];
  const combos: Array<Array<{ key: string; pairs: Array<[string, unknown]>; i: number }>> = [[]];
  for (const e of entries) {
    const next: typeof combos = [];
    for (const c of combos) {
      e.sets.forEach((pairs, i) => {
        next.push([...c, { key: e.key, pairs, i }]);
      });
    }
    combos.splice(0, combos.length, ...next);
  }
  for (const combo of combos) {
    const tree = structuredClone(base) as Record<string, unknown>;
    const arm: Record<string, unknown> = {};
    for (const { key, pairs, i } of combo) {
      for (const [path, value] of pairs) {
        if (path in arm)
          throw new SpecError(source, `matrix.${key}[${i}]`, `'${path}' is also set by another matrix key`);
        setPath(source, tree, path, value, `matrix.${key}[${i}]`);
        arm[path] = value;
      }
    }
    const parsed = specSchema.safeParse(tree);
    if (!parsed.success) {
      const bad = combo.map((c) => `matrix.${c.key}[${c.i}]`).join(', ');
      throw firstIssue(source, parsed.error, bad);
    }
    const { matrix: _m, ...runSpec } = parsed.data;
    runs.push({ index: runs.length, arm, spec: runSpec, configHash: configHash(runSpec) });
  }
  const hashes = new Set(runs.map((r) => r.configHash));
  if (hashes.size !== runs.length) {
    throw new SpecError(
      source,
      'matrix',
      'two runs would be identical (the matrix varies nothing that matters)',
    );
  }
  return runs;
}

/** readSpecSource + resolveSpec. */
export async function loadSpec(nameOrPath: string, sets: readonly string[] = []): Promise<LoadedSpec> {
  const { source, raw } = await readSpecSource(nameOrPath);
  const { spec, runs } = resolveSpec(source, raw, sets);
  return { source, spec, runs };
}
