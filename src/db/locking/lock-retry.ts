/**
 * The one retry loop for operations that meet SQLite's locks. The writer thread (batches, job
 * bookkeeping, submitted writes, sessions) and the maintenance operations (ANALYZE, VACUUM,
 * backups) each say how one attempt takes its lock and what it does; this loop decides when to
 * try again, how long to wait first, and how the waits are counted, so `job_log`, the run's
 * summary, the events and the maintenance reports all count a lock the same way:
 *
 * - a lock is counted for every attempt that failed with SQLITE_BUSY / SQLITE_LOCKED, and for an
 *   attempt whose lock came only after a wait longer than `waitThresholdMs` (SQLite's busy
 *   handler waited inside it);
 * - the time waited is the busy wait of every attempt plus the backoff delays between them: the
 *   time the operation spent waiting for the write lock, and nothing else; an operation that met
 *   no lock waited 0 (its short busy waits are the normal cost of taking a lock);
 * - retries are attempts minus one.
 */
import pRetry from 'p-retry';
import { isLockError } from '../../errors.js';
import { sleep } from '../../util/sleep.js';
import { retryDelayMs, type RetryPolicy } from './retry-policy.js';

/** The code a lock that came after a long busy wait is counted under (no error was raised). */
export const WAITED_CODE = 'SQLITE_BUSY (waited)';

/** One lock that an operation met. */
export interface LockMet {
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** `SQLITE_BUSY`, `SQLITE_LOCKED`..., or `WAITED_CODE`. */
  readonly code: string;
  /** How long this attempt waited for the lock, SQLite's busy handler included (ms). */
  readonly attemptWaitMs: number;
  /** The delay before the next attempt (ms); 0 when none follows. */
  readonly delayMs: number;
  /** The operation's whole wait so far (ms), this attempt's included, the coming delay not. */
  readonly totalWaitMs: number;
  /** Whether another attempt follows. */
  readonly retrying: boolean;
}

/** What one attempt gets: its number, and the call that marks the moment it holds its lock. */
export interface LockAttempt {
  readonly number: number;
  /**
   * Call right after the lock was taken. Returns when that was (performance.now()) and the
   * operation's figures so far, for an attempt that writes them in its own transaction.
   */
  locked(): LockTaken;
}

export interface LockTaken {
  readonly lockedAt: number;
  readonly locks: number;
  /** As `LockRetryOutcome.waitMs`: 0 while no lock was met. */
  readonly waitMs: number;
}

export interface LockRetryOptions {
  readonly policy: RetryPolicy;
  /** A lock that came after a longer wait than this (ms) is counted, as a failed attempt is. */
  readonly waitThresholdMs: number;
  /** Stops the delays and the attempts; the last lock error is then thrown. */
  readonly signal?: AbortSignal | undefined;
  /** Runs before each attempt and outside its wait (the writer leaves neighbours their gap here). */
  readonly beforeAttempt?: ((attempt: number) => Promise<void>) | undefined;
  /** Every lock met, as it is met. */
  readonly onLock?: ((lock: LockMet) => void) | undefined;
  /** Makes the error thrown once every attempt met a lock (or the signal stopped them). */
  readonly exhausted: (failure: LockRetryFailure) => Error;
}

export interface LockRetryFailure {
  readonly attempts: number;
  readonly locks: number;
  readonly waitMs: number;
  /** Since the operation started (ms). */
  readonly elapsedMs: number;
  readonly lastError: Error;
}

export interface LockRetryOutcome<T> {
  readonly value: T;
  readonly attempts: number;
  /** Locks met on the way (failed attempts, and a long wait of the attempt that succeeded). */
  readonly locks: number;
  /** Time spent waiting for the lock (ms): 0 when no lock was met. */
  readonly waitMs: number;
}

/**
 * Runs `attempt` until it succeeds, retrying it after a jittered exponential delay when it fails
 * with a lock error. Anything else is thrown at once, as it is. Once the attempts run out, throws
 * what `options.exhausted` makes of the failure.
 */
export async function withLockRetry<T>(options: LockRetryOptions, attempt: (attempt: LockAttempt) => Promise<T> | T): Promise<LockRetryOutcome<T>> {
  const { policy, signal } = options;
  const started = performance.now();
  let attempts = 0;
  let locks = 0;
  let waitMs = 0;
  let attemptStarted = started;
  let lockTaken = false;
  const lockMet = (lock: Omit<LockMet, 'totalWaitMs'>): void => {
    locks++;
    options.onLock?.({ ...lock, totalWaitMs: waitMs });
  };
  const run = async (): Promise<T> => {
    attempts++;
    await options.beforeAttempt?.(attempts);
    attemptStarted = performance.now();
    lockTaken = false;
    const number = attempts;
    return await attempt({
      number,
      locked: () => {
        const lockedAt = performance.now();
        const attemptWaitMs = lockedAt - attemptStarted;
        lockTaken = true;
        waitMs += attemptWaitMs;
        if (attemptWaitMs > options.waitThresholdMs) {
          lockMet({ attempt: number, code: WAITED_CODE, attemptWaitMs, delayMs: 0, retrying: false });
        }
        return { lockedAt, locks, waitMs: locks > 0 ? waitMs : 0 };
      },
    });
  };
  try {
    const value = await pRetry(run, {
      retries: policy.attempts - 1,
      // The delays are ours (jitter around an exponential step, DESIGN section 5); p-retry counts
      // the attempts and stops on anything that is not a lock error.
      minTimeout: 0,
      maxTimeout: 0,
      signal,
      shouldRetry: ({ error }) => isLockError(error) && !signal?.aborted,
      onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
        if (!isLockError(error)) return;
        // When the attempt failed before taking its lock, all of it was waiting; after it (a
        // BUSY commit), what it waited to get the lock was counted then or not at all.
        const waited = lockTaken ? 0 : performance.now() - attemptStarted;
        const retrying = retriesLeft > 0 && !signal?.aborted;
        const delayMs = retrying ? retryDelayMs(policy, attemptNumber) : 0;
        waitMs += waited;
        lockMet({ attempt: attemptNumber, code: String((error as { code?: unknown }).code), attemptWaitMs: waited, delayMs, retrying });
        if (delayMs > 0) {
          const sleptFrom = performance.now();
          await sleep(delayMs, signal).catch(() => undefined);
          waitMs += performance.now() - sleptFrom;
        }
      },
    });
    return { value, attempts, locks, waitMs: locks > 0 ? waitMs : 0 };
  } catch (error) {
    if (!isLockError(error)) throw error;
    throw options.exhausted({ attempts, locks, waitMs, elapsedMs: performance.now() - started, lastError: error as Error });
  }
}
