// Runs `bin/nucleiflow.mjs` synchronously, as a user would, for the CLI tests.
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../src/config.ts';

export const BIN = join(REPO_ROOT, 'bin', 'nucleiflow.mjs');

/** `nucleiflow <args...>`; stdout and stderr as text. `env` replaces the environment when given. */
export function runCli(
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: opts.env ?? process.env,
    ...(opts.timeoutMs === undefined ? {} : { timeout: opts.timeoutMs }),
  });
}
