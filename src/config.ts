import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigError } from './errors.ts';

/** The repository root (this file lives in src/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine(
      (v) => {
        try {
          return protocols.includes(new URL(v).protocol);
        } catch {
          return false;
        }
      },
      `must be a URL with scheme ${protocols.map((p) => p.replace(':', '://')).join(' or ')}`,
    );

const hostPort = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7233');

const schema = z.object({
  NUCLEIFLOW_HOME: z.string().min(1).optional(),
  NUCLEIFLOW_DATA: z.string().min(1).optional(),
  NUCLEIFLOW_CACHE: z.string().min(1).optional(),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  TEMPORAL_ADDRESS: hostPort.optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  MLFLOW_TRACKING_URI: url(['http:', 'https:']).optional(),
  NUCLEIFLOW_ALLOW_JS_BACKEND: z.enum(['0', '1', 'true', 'false']).optional(),
});

export interface Config {
  /** Where NucleiFlow keeps its state: embedded database, checkpoints, outputs, service logs. */
  readonly home: string;
  /** The MoNuSeg folder (images/, labels/, annotations/, manifest.csv). */
  readonly dataDir: string;
  /** Cache outside the work tree: TensorFlow build, tools venv, stain-normalised images. */
  readonly cacheDir: string;
  /** Postgres URL, or undefined for the embedded PGlite database under home. */
  readonly databaseUrl: string | undefined;
  /** host:port of a Temporal frontend, or undefined to use (and if needed start) a local dev server. */
  readonly temporalAddress: string | undefined;
  readonly temporalNamespace: string;
  /** MLflow tracking server, or undefined to skip MLflow. */
  readonly mlflowTrackingUri: string | undefined;
  /** Allow training on the pure-JS tfjs backend (about 1000x slower). */
  readonly allowJsBackend: boolean;
}

/** Default MoNuSeg location: the shared data folder beside the repository. */
function defaultDataDir(): string {
  return resolve(REPO_ROOT, '..', 'shared', 'data', 'monuseg');
}

/**
 * Reads and validates configuration from the environment. A bad value throws a ConfigError whose
 * one-line message names the variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    const value = typeof env[name] === 'string' ? ` (got '${env[name]}')` : '';
    throw new ConfigError(`${name} ${issue.message}${value}`);
  }
  const e = parsed.data;
  const home = resolve(e.NUCLEIFLOW_HOME ?? resolve(REPO_ROOT, '.nucleiflow'));
  return {
    home,
    dataDir: resolve(e.NUCLEIFLOW_DATA ?? defaultDataDir()),
    cacheDir: resolve(e.NUCLEIFLOW_CACHE ?? resolve(homedir(), '.cache', 'nucleiflow')),
    databaseUrl: e.DATABASE_URL,
    temporalAddress: e.TEMPORAL_ADDRESS,
    temporalNamespace: e.TEMPORAL_NAMESPACE,
    mlflowTrackingUri: e.MLFLOW_TRACKING_URI?.replace(/\/+$/, ''),
    allowJsBackend: e.NUCLEIFLOW_ALLOW_JS_BACKEND === '1' || e.NUCLEIFLOW_ALLOW_JS_BACKEND === 'true',
  };
}

/** Throws a ConfigError when the MoNuSeg folder is not where the config says. */
export function requireDataDir(config: Config): string {
  if (!existsSync(resolve(config.dataDir, 'manifest.csv'))) {
    throw new ConfigError(
      `NUCLEIFLOW_DATA: no MoNuSeg data at ${config.dataDir} (expected manifest.csv, images/, labels/). Set NUCLEIFLOW_DATA to the monuseg folder.`,
    );
  }
  return config.dataDir;
}
