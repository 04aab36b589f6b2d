import { CommanderError } from 'commander';
import { UserError } from '../src/errors.ts';

/**
 * Prints an error the way a user should see it and returns the exit code. Commander has already
 * printed its own (bad option, unknown command, help): a usage error exits 2, help 0.
 */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  if (err instanceof UserError) {
    process.stderr.write(`nucleiflow: ${err.message}\n`);
    return err.exitCode;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(`nucleiflow: internal error: ${e.message}\n${e.stack ?? ''}\n`);
  return 70;
}

/**
 * Wraps a command action so that a UserError becomes one line on stderr and a non-zero exit,
 * never a bare stack trace.
 */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void> | void,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      process.exitCode = reportError(err);
    }
  };
}
