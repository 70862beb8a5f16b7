/**
 * How the writer waits for the write lock while another process holds it. Each strategy is a
 * function that runs `BEGIN ...` and returns once it succeeded, or throws the last lock error
 * once its deadline passes (the retry policy then decides whether to try again).
 *
 * - `busy-timeout`: SQLite's own busy handler (busy_timeout ms). It sleeps on a growing
 *   schedule (1, 2, 5, 10, ... up to 100 ms between tries), so a writer that has waited long
 *   polls rarely and loses the lock to newcomers, and it blocks this thread while it waits.
 * - `fair-poll`: busy handler off; the writer polls itself in short, even steps (1 to 5 ms)
 *   up to the deadline, yielding the thread between tries.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from 'better-sqlite3';
import { isLockError } from '../errors.js';
import type { LockWaitStrategy } from './protocol.js';

export interface LockWaitContext {
  db: Database;
  /** `BEGIN`, `BEGIN IMMEDIATE` or `BEGIN EXCLUSIVE`. */
  statement: string;
  /** The longest one attempt may wait (ms). */
  deadlineMs: number;
}

export type LockWaiter = (context: LockWaitContext) => Promise<void>;

/** The busy_timeout each strategy needs on the connection (ms), given the configured one. */
export function connectionBusyTimeout(strategy: LockWaitStrategy, busyTimeoutMs: number): number {
  return strategy === 'busy-timeout' ? busyTimeoutMs : 0;
}

async function busyTimeout({ db, statement }: LockWaitContext): Promise<void> {
  db.exec(statement);
}

async function fairPoll({ db, statement, deadlineMs }: LockWaitContext): Promise<void> {
  const deadline = performance.now() + deadlineMs;
  let step = 1;
  for (;;) {
    try {
      db.exec(statement);
      return;
    } catch (error) {
      if (!isLockError(error) || performance.now() >= deadline) throw error;
    }
    await sleep(step);
    step = Math.min(step + 1, 5);
  }
}

export const LOCK_WAITERS: Readonly<Record<LockWaitStrategy, LockWaiter>> = {
  'busy-timeout': busyTimeout,
  'fair-poll': fairPoll,
};
