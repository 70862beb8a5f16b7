/**
 * How often an operation that meets a lock is tried again, and how long it waits between tries
 * (DESIGN section 5). The writer thread and the maintenance operations share this one policy.
 */
import { InvalidOptionError } from '../../errors.js';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  initialDelayMs: number;
  factor: number;
  maxDelayMs: number;
  /** Each delay is multiplied by a random factor in [1 - jitter, 1 + jitter]. */
  jitter: number;
}

/** DESIGN section 5: 5 attempts, 100 ms first delay, factor 2, 5 s cap, jitter 0.5 to 1.5. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  attempts: 5,
  initialDelayMs: 100,
  factor: 2,
  maxDelayMs: 5000,
  jitter: 0.5,
});

/** With `retry_logic` off the first lock error fails the batch. */
export const NO_RETRY_POLICY: RetryPolicy = Object.freeze({ ...DEFAULT_RETRY_POLICY, attempts: 1 });

export function resolveRetryPolicy(policy: Partial<RetryPolicy> = {}): RetryPolicy {
  for (const key of Object.keys(policy)) {
    if (!(key in DEFAULT_RETRY_POLICY)) throw new InvalidOptionError(`retry.${key}`, `one of the retry options (${Object.keys(DEFAULT_RETRY_POLICY).join(', ')})`, key);
  }
  const resolved = { ...DEFAULT_RETRY_POLICY, ...policy };
  const check = (name: keyof RetryPolicy, ok: boolean, expected: string): void => {
    if (!ok) throw new InvalidOptionError(`retry.${name}`, expected, resolved[name]);
  };
  check('attempts', Number.isInteger(resolved.attempts) && resolved.attempts >= 1 && resolved.attempts <= 100, 'an integer from 1 to 100');
  check('initialDelayMs', Number.isFinite(resolved.initialDelayMs) && resolved.initialDelayMs >= 0, 'a number of ms >= 0');
  check('factor', Number.isFinite(resolved.factor) && resolved.factor >= 1, 'a number >= 1');
  check('maxDelayMs', Number.isFinite(resolved.maxDelayMs) && resolved.maxDelayMs >= resolved.initialDelayMs, 'a number of ms >= initialDelayMs');
  check('jitter', Number.isFinite(resolved.jitter) && resolved.jitter >= 0 && resolved.jitter < 1, 'a number from 0 to below 1');
  return resolved;
}

/** The delay before retry number `retry` (1-based), before jitter. */
export function baseDelayMs(policy: RetryPolicy, retry: number): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** (retry - 1));
}

/** The delay before retry number `retry`, with jitter: base x [1 - jitter, 1 + jitter]. */
export function retryDelayMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  return baseDelayMs(policy, retry) * (1 - policy.jitter + 2 * policy.jitter * random());
}

/**
 * The longest one operation can take before its last attempt fails: every backoff delay at
 * its jittered maximum, plus each attempt waiting out the full lock wait. This is what a
 * caller of a locked database waits at worst before it gets `ERR_DATABASE_LOCKED`.
 */
export function worstCaseDelayMs(policy: RetryPolicy, lockWaitPerAttemptMs: number): { backoffMs: number; lockWaitMs: number; totalMs: number } {
  let backoffMs = 0;
  for (let retry = 1; retry < policy.attempts; retry++) backoffMs += baseDelayMs(policy, retry) * (1 + policy.jitter);
  const lockWaitMs = policy.attempts * lockWaitPerAttemptMs;
  return { backoffMs, lockWaitMs, totalMs: backoffMs + lockWaitMs };
}
