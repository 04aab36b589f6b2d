import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
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

/**
 * Ports that fetch refuses to connect to (the WHATWG Fetch standard's "bad port" list): Node's
 * fetch fails on them with a bare "fetch failed", so an HTTP service URL on one is refused here.
 */
const FETCH_BLOCKED_PORTS = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104,
  109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515,
  526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049,
  3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

const fetchablePort = (v: string) => {
  try {
    return !FETCH_BLOCKED_PORTS.has(Number(new URL(v).port));
  } catch {
    return true; // the scheme check reports a malformed URL
  }
};

const hostPort = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7233');

/** The dashboard refuses shorter access tokens, from --token or NUCLEIFLOW_DASHBOARD_TOKEN. */
export const MIN_DASHBOARD_TOKEN_LENGTH = 12;

/** Values never echoed in an error message. */
const SECRETS = new Set(['NUCLEIFLOW_DASHBOARD_TOKEN']);

/** For the variables wrapped in this, empty means unset (e.g. `NUCLEIFLOW_DASHBOARD_TOKEN=` for no token). */
const emptyIsUnset = (v: unknown) => (v === '' ? undefined : v);

const flag = z.enum(['0', '1', 'true', 'false']).optional();
const isOn = (v: string | undefined) => v === '1' || v === 'true';

const schema = z.object({
  NUCLEIFLOW_HOME: z.string().min(1).optional(),
  NUCLEIFLOW_DATA: z.string().min(1).optional(),
  NUCLEIFLOW_CACHE: z.string().min(1).optional(),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  TEMPORAL_ADDRESS: hostPort.optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  MLFLOW_TRACKING_URI: url(['http:', 'https:'])
    .refine(fetchablePort, 'uses a port that fetch refuses to connect to (e.g. 5060, 6000); choose another')
    .optional(),
  NUCLEIFLOW_ALLOW_JS_BACKEND: flag,
  NUCLEIFLOW_TEMPORAL_LOG: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('WARN'),
  NUCLEIFLOW_TEMPORAL_LOG_STDERR: flag,
  // Task queue names end up in URLs of the Temporal UI and in log lines: keep them plain.
  NUCLEIFLOW_QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._/-]*$/, 'may contain only letters, digits and . _ / -')
    .default(''),
  NUCLEIFLOW_TEMPORAL_BIN: z.preprocess(
    emptyIsUnset,
    z
      .string()
      .refine((v) => existsSync(v), 'must be the path of an existing temporal CLI binary')
      .optional(),
  ),
  NUCLEIFLOW_DASHBOARD_TOKEN: z.preprocess(
    emptyIsUnset,
    z
      .string()
      .min(MIN_DASHBOARD_TOKEN_LENGTH, `must be at least ${MIN_DASHBOARD_TOKEN_LENGTH} characters`)
      .optional(),
  ),
  TEMPORAL_UI_URL: z.preprocess(emptyIsUnset, url(['http:', 'https:']).optional()),
  NUCLEIFLOW_OPENSLIDE_LIB: z
    .string()
    .refine((v) => existsSync(v), 'must be the path of an existing OpenSlide library (libopenslide.so.1)')
    .optional(),
  // Read only by the test and benchmark harness, never by the CLI.
  NUCLEIFLOW_TEST_DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  NUCLEIFLOW_DASHBOARD_REAL: flag,
  CHROMIUM_PATH: z.string().min(1).default('/usr/bin/chromium'),
});

export type TemporalLogLevel = z.infer<typeof schema>['NUCLEIFLOW_TEMPORAL_LOG'];

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
  /** Level of the Temporal SDK's own log lines (core and TypeScript), written to `temporalLogFile`. */
  readonly temporalLogLevel: TemporalLogLevel;
  /** Where a worker writes the Temporal SDK's log lines: `<home>/logs/temporal-sdk.log`. */
  readonly temporalLogFile: string;
  /** TensorFlow's native start-up notices from compute children (platform/native-log.ts). */
  readonly tensorflowLogFile: string;
  /** Also print the SDK's log lines on stderr (the terminal), besides the log file. */
  readonly temporalLogStderr: boolean;
  /** Prepended to every task queue name, so deployments (or tests) can share one cluster. */
  readonly queuePrefix: string;
  /** The `temporal` CLI for the embedded dev server, or undefined for the one in the tools venv. */
  readonly temporalBin: string | undefined;
  /** Access token the dashboard requires when --token is not given. */
  readonly dashboardToken: string | undefined;
  /** Temporal Web UI, for links on the dashboard's run pages. */
  readonly temporalUiUrl: string | undefined;
  /** The OpenSlide C library, or undefined for the one in the tools venv (see src/slide/openslide.ts). */
  readonly openSlideLib: string | undefined;
  /** Harness only: the Postgres cluster in which platform tests create their databases. */
  readonly testDatabaseUrl: string | undefined;
  /** Harness only: dashboard tests read the configured tracking database instead of seeded rows. */
  readonly dashboardReal: boolean;
  /** Harness only: the Chromium that browser tests and the dashboard bench drive. */
  readonly chromiumPath: string;
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
    const value = typeof env[name] === 'string' && !SECRETS.has(name) ? ` (got '${env[name]}')` : '';
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
    allowJsBackend: isOn(e.NUCLEIFLOW_ALLOW_JS_BACKEND),
    temporalLogLevel: e.NUCLEIFLOW_TEMPORAL_LOG,
    temporalLogFile: resolve(home, 'logs', 'temporal-sdk.log'),
    tensorflowLogFile: resolve(home, 'logs', 'tensorflow.log'),
    temporalLogStderr: isOn(e.NUCLEIFLOW_TEMPORAL_LOG_STDERR),
    queuePrefix: e.NUCLEIFLOW_QUEUE_PREFIX,
    temporalBin: e.NUCLEIFLOW_TEMPORAL_BIN,
    dashboardToken: e.NUCLEIFLOW_DASHBOARD_TOKEN,
    temporalUiUrl: e.TEMPORAL_UI_URL?.replace(/\/+$/, ''),
    openSlideLib: e.NUCLEIFLOW_OPENSLIDE_LIB,
    testDatabaseUrl: e.NUCLEIFLOW_TEST_DATABASE_URL,
    dashboardReal: isOn(e.NUCLEIFLOW_DASHBOARD_REAL),
    chromiumPath: e.CHROMIUM_PATH,
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

/**
 * Builds the tools venv if needed (scripts/setup-tools-venv.sh: cached, idempotent) and returns its
 * path, the script's last line; its progress goes to this process's stderr.
 */
export function ensureToolsVenv(): string {
  return execFileSync('bash', [resolve(REPO_ROOT, 'scripts', 'setup-tools-venv.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .at(-1)!
    .trim();
}

/**
 * Where scripts/setup-tools-venv.sh puts the Python tools venv: `<cache>/tools-venv-<hash>`, the hash
 * being the first 12 hex digits of the SHA-256 of tools/python/requirements.txt (the script's key), so
 * a changed pin points here at the venv that the setup script will build for it. Does not create it.
 */
export function toolsVenvDir(config: Config): string {
  const reqs = readFileSync(resolve(REPO_ROOT, 'tools', 'python', 'requirements.txt'));
  const hash = createHash('sha256').update(reqs).digest('hex').slice(0, 12);
  return resolve(config.cacheDir, `tools-venv-${hash}`);
}
