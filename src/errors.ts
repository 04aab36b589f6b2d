/**
 * Errors a user can act on. The CLI prints `message` alone (no stack) and exits with `exitCode`;
 * anything else is a bug and is printed with its stack.
 */
export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UserError';
    this.exitCode = options?.exitCode ?? 1;
  }
}

/** An input file that cannot be used: names the file and the problem. */
export class InputError extends UserError {
  readonly file: string;
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.name = 'InputError';
    this.file = file;
  }
}

/** Configuration that is missing or malformed: names the variable. */
export class ConfigError extends UserError {
  constructor(message: string) {
    super(message, { exitCode: 2 });
    this.name = 'ConfigError';
  }
}
