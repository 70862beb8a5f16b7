/**
 * Options shared by both ends of the distributed mode, and their checks.
 */
import { InvalidOptionError } from '../errors.js';

export const DEFAULT_QUEUE_PREFIX = 'league-backfill';

/** BullMQ's key prefix: letters, digits, `_`, `-` and `.`; no `:` (it separates the key's parts). */
const PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function checkQueuePrefix(value: unknown, option: string): string {
  const prefix = value ?? DEFAULT_QUEUE_PREFIX;
  if (typeof prefix !== 'string' || !PREFIX_PATTERN.test(prefix)) {
    throw new InvalidOptionError(option, 'a queue prefix of 1 to 64 letters, digits, "_", "-" or "." (no ":"), e.g. "league-backfill"', prefix);
  }
  return prefix;
}

export function checkInteger(option: string, value: unknown, fallback: number, min: number, max: number): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !Number.isInteger(resolved) || resolved < min || resolved > max) {
    throw new InvalidOptionError(option, `an integer from ${min} to ${max}`, resolved);
  }
  return resolved;
}

/** Rejects option names that are not `known`, by name. */
export function rejectUnknown(options: object, known: readonly string[], what: string): void {
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) throw new InvalidOptionError(name, `one of the ${what} options (${known.join(', ')})`, name, 'Remove it');
  }
}

export function checkObject(value: unknown, what: string, example: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionError('options', `an object of ${what} options such as ${example}`, value);
  }
  return value as Record<string, unknown>;
}
