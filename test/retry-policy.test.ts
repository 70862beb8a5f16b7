import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLockError } from '../src/errors.js';
import { LOADTEST_CONFIGURATIONS, lockBudgetOf } from '../src/loadtest/configurations.js';
import { connectionBusyTimeout, LOCK_WAITERS } from '../src/db/locking/lock-waiters.js';
import type { LockWaitStrategy, RetryPolicy } from '../src/writer/protocol.js';
import { baseDelayMs, DEFAULT_RETRY_POLICY, NO_RETRY_POLICY, retryDelayMs, worstCaseDelayMs } from '../src/db/locking/retry-policy.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();

/** The limit `validate` holds the worst case to by default: a locked batch fails within a minute. */
const WORST_CASE_LIMIT_MS = 60_000;
/** The engine's default busy timeout: the lock wait of one attempt. */
const BUSY_TIMEOUT_MS = 5000;

const POLICIES: Array<{ name: string; policy: RetryPolicy; lockWaitPerAttemptMs: number }> = [
  { name: 'DEFAULT_RETRY_POLICY', policy: DEFAULT_RETRY_POLICY, lockWaitPerAttemptMs: BUSY_TIMEOUT_MS },
  { name: 'NO_RETRY_POLICY', policy: NO_RETRY_POLICY, lockWaitPerAttemptMs: BUSY_TIMEOUT_MS },
  ...LOADTEST_CONFIGURATIONS.map((configuration) => ({ name: `load test: ${configuration.name}`, ...lockBudgetOf(configuration) })),
];

/** The backoff delays one operation sleeps through, with `random` drawing each jitter. */
function sampledBackoff(policy: RetryPolicy, random: () => number): number {
  let total = 0;
  for (let retry = 1; retry < policy.attempts; retry++) total += retryDelayMs(policy, retry, random);
  return total;
}

describe('the retry policy', () => {
  it.each(POLICIES)('$name: its worst-case total delay stays within the limit', ({ policy, lockWaitPerAttemptMs }) => {
    const worst = worstCaseDelayMs(policy, lockWaitPerAttemptMs);
    expect(worst.totalMs).toBeLessThanOrEqual(WORST_CASE_LIMIT_MS);
    expect(worst.totalMs).toBeCloseTo(worst.backoffMs + worst.lockWaitMs, 6);
    expect(worst.lockWaitMs).toBe(policy.attempts * lockWaitPerAttemptMs);
  });

  it.each(POLICIES)('$name: real delays drawn at the jitter bounds are the worst case and the best case', ({ policy }) => {
    const worst = worstCaseDelayMs(policy, 0);
    // random() = 1 is the top of the jitter range: every delay at base x (1 + jitter).
    expect(sampledBackoff(policy, () => 1)).toBeCloseTo(worst.backoffMs, 6);
    let least = 0;
    for (let retry = 1; retry < policy.attempts; retry++) least += baseDelayMs(policy, retry) * (1 - policy.jitter);
    expect(sampledBackoff(policy, () => 0)).toBeCloseTo(least, 6);
  });

  it.each(POLICIES)('$name: any draw of jitter stays between the bounds', ({ policy, lockWaitPerAttemptMs }) => {
    const worst = worstCaseDelayMs(policy, lockWaitPerAttemptMs);
    const least = sampledBackoff(policy, () => 0);
    fc.assert(fc.property(fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 100, maxLength: 100 }), (draws) => {
      let next = 0;
      const backoff = sampledBackoff(policy, () => draws[next++ % draws.length]!);
      return backoff >= least - 1e-9 && backoff <= worst.backoffMs + 1e-9 && backoff + worst.lockWaitMs <= WORST_CASE_LIMIT_MS;
    }));
  });

  it('gives every load-test configuration the policy its flags ask for', () => {
    for (const configuration of LOADTEST_CONFIGURATIONS) {
      const { policy, lockWaitPerAttemptMs } = lockBudgetOf(configuration);
      expect(policy.attempts).toBe(configuration.flags.retry_logic ? DEFAULT_RETRY_POLICY.attempts : 1);
      expect(lockWaitPerAttemptMs).toBe(configuration.flags.pragma_optimizations ? BUSY_TIMEOUT_MS : 0);
    }
  });
});

/** Two connections to one file: `holder` takes the write lock, `waiter` is opened the way the writer opens it for `strategy`. */
function contendedPair(strategy: LockWaitStrategy, busyTimeoutMs: number): { holder: Database.Database; waiter: Database.Database; close(): void } {
  const path = join(tempDir(), 'lock.db');
  const holder = new Database(path);
  holder.pragma('journal_mode = WAL');
  holder.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY)');
  const waiter = new Database(path, { timeout: connectionBusyTimeout(strategy, busyTimeoutMs) });
  holder.exec('BEGIN IMMEDIATE');
  return { holder, waiter, close: () => { if (holder.inTransaction) holder.exec('ROLLBACK'); holder.close(); waiter.close(); } };
}

const STRATEGIES = Object.keys(LOCK_WAITERS) as LockWaitStrategy[];

describe('the lock wait of one attempt', () => {
  // worstCaseDelayMs counts busyTimeoutMs of lock wait per attempt: every strategy must give up by then.
  it.each(STRATEGIES)('%s gives up at its deadline with the lock error, leaving the busy timeout as it was', async (strategy) => {
    const deadlineMs = 150;
    const pair = contendedPair(strategy, deadlineMs);
    try {
      const before = pair.waiter.pragma('busy_timeout', { simple: true });
      const started = performance.now();
      const error = await LOCK_WAITERS[strategy]({ db: pair.waiter, statement: 'BEGIN IMMEDIATE', deadlineMs }).then(() => null, (caught: unknown) => caught);
      const waitedMs = performance.now() - started;
      expect(isLockError(error)).toBe(true);
      expect(waitedMs).toBeGreaterThanOrEqual(deadlineMs * 0.9);
      // A slice, a sleep and a turn of the event loop past the deadline at most, on a busy machine.
      expect(waitedMs).toBeLessThan(deadlineMs + 100);
      expect(pair.waiter.inTransaction).toBe(false);
      expect(pair.waiter.pragma('busy_timeout', { simple: true })).toBe(before);
    } finally {
      pair.close();
    }
  });

  // busy-timeout waits inside SQLite without yielding, so a release from this same thread cannot happen meanwhile.
  it.each(STRATEGIES.filter((strategy) => strategy !== 'busy-timeout'))('%s takes the lock soon after it is released', async (strategy) => {
    const pair = contendedPair(strategy, 5000);
    try {
      const releaseAt = performance.now() + 60;
      setTimeout(() => pair.holder.exec('COMMIT'), 60);
      await LOCK_WAITERS[strategy]({ db: pair.waiter, statement: 'BEGIN IMMEDIATE', deadlineMs: 5000 });
      const lateMs = performance.now() - releaseAt;
      expect(pair.waiter.inTransaction).toBe(true);
      pair.waiter.exec('COMMIT');
      expect(lateMs).toBeLessThan(100);
    } finally {
      pair.close();
    }
  });
});
