/**
 * The configurations the load test compares (DESIGN section 9): from the legacy behaviour to
 * every flag on, each step adding one stability measure, so the table shows what each buys.
 */
import { FLAG_NAMES, PROFILES, type FlagName, type Flags } from '../flags/index.js';
import { DEFAULT_RETRY_POLICY, NO_RETRY_POLICY, resolveRetryPolicy } from '../db/locking/retry-policy.js';
import type { RetryPolicy } from '../writer/protocol.js';

export interface LoadTestConfiguration {
  readonly name: string;
  /** What it changes, for the report. */
  readonly description: string;
  readonly flags: Flags;
}

function only(...names: FlagName[]): Flags {
  return Object.freeze(Object.fromEntries(FLAG_NAMES.map((name) => [name, names.includes(name)])) as Record<FlagName, boolean>);
}

export const LOADTEST_CONFIGURATIONS: readonly LoadTestConfiguration[] = Object.freeze([
  { name: 'Baseline', description: 'every flag off: the legacy behaviour', flags: PROFILES.baseline },
  { name: 'PRAGMA Only', description: 'pragma_optimizations: busy_timeout 5000, synchronous NORMAL, 16 MB cache', flags: only('pragma_optimizations') },
  { name: 'WAL Mode', description: 'pragma_optimizations + wal_mode', flags: only('pragma_optimizations', 'wal_mode') },
  {
    name: 'Transactions',
    description: 'pragma_optimizations + wal_mode + explicit_transactions (BEGIN IMMEDIATE), no retry',
    flags: only('pragma_optimizations', 'wal_mode', 'explicit_transactions'),
  },
  { name: 'Full Stack', description: 'every flag on', flags: PROFILES.full },
  { name: 'Recommended', description: 'every flag on but aggressive_caching (the default profile)', flags: PROFILES.recommended },
]);

/** The busy timeout the engine is given in the load test (the engine's default). */
export const LOADTEST_BUSY_TIMEOUT_MS = 5000;

/**
 * What a locked batch of this configuration may cost at worst: the retry policy the writer
 * applies (none with retry_logic off) and the lock wait of each attempt (none without
 * pragma_optimizations: no busy timeout).
 */
export function lockBudgetOf(configuration: LoadTestConfiguration, retry: Partial<RetryPolicy> = {}): { policy: RetryPolicy; lockWaitPerAttemptMs: number } {
  const policy = configuration.flags.retry_logic ? resolveRetryPolicy({ ...DEFAULT_RETRY_POLICY, ...retry }) : NO_RETRY_POLICY;
  const lockWaitPerAttemptMs = configuration.flags.pragma_optimizations ? LOADTEST_BUSY_TIMEOUT_MS : 0;
  return { policy, lockWaitPerAttemptMs };
}

/** The flags that are on, by name. */
export function flagsOn(flags: Flags): FlagName[] {
  return FLAG_NAMES.filter((name) => flags[name]);
}
