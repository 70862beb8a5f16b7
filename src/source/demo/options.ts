/** Options of the demo source, their defaults and their validation. */
import { InvalidOptionError } from '../../errors.js';

export interface DemoSourceOptions {
  /**
   * Seed of the generator: the same seed gives the same leagues, teams, players and
   * transactions, page for page. A safe integer.
   * @default 1
   */
  seed?: number;
  /**
   * Simulated latency of each page fetch, in milliseconds (a fixed delay that an abort
   * signal cuts short). From 0 to 2147483647.
   * @default 0
   */
  latencyMs?: number;
  /**
   * Probability, from 0 to 1, that a page fetch fails with a transient `SourceError`, for
   * exercising retries. Failures alone are drawn from `Math.random`, so they are not
   * reproducible; the data is.
   * @default 0
   */
  failureRate?: number;
  /**
   * Range of the number of transactions in one season of one league (inclusive integers,
   * `min <= max`, at most 1000000). Each season draws its count from the range.
   * @default { min: 700, max: 1100 }
   */
  transactionsPerSeason?: { min: number; max: number };
}

/** The options with every default applied: nothing optional. */
export type ResolvedDemoSourceOptions = {
  seed: number;
  latencyMs: number;
  failureRate: number;
  transactionsPerSeason: { min: number; max: number };
};

export const DEMO_DEFAULTS: Readonly<ResolvedDemoSourceOptions> = Object.freeze({
  seed: 1,
  latencyMs: 0,
  failureRate: 0,
  transactionsPerSeason: Object.freeze({ min: 700, max: 1100 }),
});

/** Most transactions a season may be asked for. */
export const MAX_TRANSACTIONS_PER_SEASON = 1_000_000;
const MAX_TIMER_MS = 2_147_483_647;

const OPTION_NAMES = ['seed', 'latencyMs', 'failureRate', 'transactionsPerSeason'] as const;
const RANGE_NAMES = ['min', 'max'] as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Levenshtein distance, for "did you mean" hints on misspelt option names. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

function rejectUnknown(object: Record<string, unknown>, known: readonly string[], prefix: string): void {
  for (const name of Object.keys(object)) {
    if (known.includes(name)) continue;
    const near = known.find((candidate) => distance(name, candidate) <= 2);
    throw new InvalidOptionError(
      `${prefix}${name}`,
      `a known option (${known.map((k) => prefix + k).join(', ')})`,
      object[name],
      near === undefined ? 'Remove it' : `Did you mean \`${prefix}${near}\`?`,
    );
  }
}

function integerIn(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

/** Applies the defaults and validates every field; rejects unknown option names by name. */
export function resolveDemoSourceOptions(options: unknown = {}): ResolvedDemoSourceOptions {
  if (options === undefined || options === null) options = {};
  if (!isPlainObject(options)) throw new InvalidOptionError('options', 'an object of demo source options', options);
  rejectUnknown(options, OPTION_NAMES, '');

  const seed = options['seed'] ?? DEMO_DEFAULTS.seed;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new InvalidOptionError('seed', 'a safe integer', seed);
  }

  const latencyMs = options['latencyMs'] ?? DEMO_DEFAULTS.latencyMs;
  if (typeof latencyMs !== 'number' || !Number.isFinite(latencyMs) || latencyMs < 0 || latencyMs > MAX_TIMER_MS) {
    throw new InvalidOptionError('latencyMs', `a number of milliseconds from 0 to ${MAX_TIMER_MS}`, latencyMs);
  }

  const failureRate = options['failureRate'] ?? DEMO_DEFAULTS.failureRate;
  if (typeof failureRate !== 'number' || !(failureRate >= 0 && failureRate <= 1)) {
    throw new InvalidOptionError('failureRate', 'a probability from 0 to 1', failureRate);
  }

  const range = options['transactionsPerSeason'] ?? DEMO_DEFAULTS.transactionsPerSeason;
  if (!isPlainObject(range)) {
    throw new InvalidOptionError('transactionsPerSeason', 'an object { min, max } of integers', range);
  }
  rejectUnknown(range, RANGE_NAMES, 'transactionsPerSeason.');
  const min = integerIn('transactionsPerSeason.min', range['min'], 0, MAX_TRANSACTIONS_PER_SEASON);
  const max = integerIn('transactionsPerSeason.max', range['max'], min, MAX_TRANSACTIONS_PER_SEASON);

  return { seed, latencyMs, failureRate, transactionsPerSeason: { min, max } };
}
