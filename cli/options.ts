// Argument parsers for the CLI's numeric and list options. Commander calls them while parsing;
// an InvalidArgumentError becomes one line naming the option (exit 2, see run-action.ts), so a
// bad value never falls back to a default or a prefix of itself ('2x' is not 2).
import { InvalidArgumentError } from 'commander';

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;

/** An integer option within bounds (inclusive), optionally a multiple of a step. */
export function integer(rule: { min?: number; max?: number; multipleOf?: number }): (text: string) => number {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER, multipleOf = 1 } = rule;
  const words = [
    multipleOf > 1 ? `a multiple of ${multipleOf}` : 'an integer',
    max < Number.MAX_SAFE_INTEGER ? `from ${min} to ${max}` : `>= ${min}`,
  ].join(' ');
  return (text) => {
    const n = Number(text);
    if (!INTEGER.test(text) || n < min || n > max || n % multipleOf !== 0)
      throw new InvalidArgumentError(`Expected ${words}.`);
    return n;
  };
}

/** A decimal option: `min` is inclusive, `above` and `below` exclusive bounds. */
export function decimal(rule: { min?: number; above?: number; below?: number }): (text: string) => number {
  const words = [
    rule.min !== undefined ? `>= ${rule.min}` : '',
    rule.above !== undefined ? `> ${rule.above}` : '',
    rule.below !== undefined ? `< ${rule.below}` : '',
  ].filter(Boolean);
  return (text) => {
    const n = Number(text);
    if (
      !DECIMAL.test(text) ||
      !Number.isFinite(n) ||
      (rule.min !== undefined && n < rule.min) ||
      (rule.above !== undefined && n <= rule.above) ||
      (rule.below !== undefined && n >= rule.below)
    )
      throw new InvalidArgumentError(`Expected a number ${words.join(' and ')}.`);
    return n;
  };
}

export const positiveInt = integer({ min: 1 });
export const nonNegativeInt = integer({ min: 0 });
export const positiveNumber = decimal({ above: 0 });
export const nonNegativeNumber = decimal({ min: 0 });

/** A comma-separated list whose items must each be one of `allowed`; duplicates are dropped. */
export function choiceList<T extends string>(allowed: readonly T[]): (text: string) => T[] {
  return (text) => {
    const items = text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = items.find((s) => !(allowed as readonly string[]).includes(s));
    if (bad !== undefined || items.length === 0)
      throw new InvalidArgumentError(
        `${bad === undefined ? 'Empty list' : `'${bad}' is not allowed`}; choose from ${allowed.join(', ')}.`,
      );
    return [...new Set(items as T[])];
  };
}
