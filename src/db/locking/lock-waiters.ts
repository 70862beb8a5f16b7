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
 * - `busy-slices`: SQLite's busy handler, but in slices of BUSY_SLICE_MS repeated up to the
 *   deadline, so its schedule never reaches its long sleeps: the writer keeps polling about
 *   every millisecond however long it has waited.
 * - `micro-poll`: busy handler off; the writer polls in sub-millisecond sleeps (Atomics.wait,
 *   0.1 ms growing to 1 ms), so it takes the lock within a fraction of a millisecond of its
 *   release.
 *
 * The last two change the busy timeout only around their BEGIN: every other statement keeps
 * the connection's busy_timeout, as pragma_optimizations promises. docs/lock-wait.md has the
 * measurements that compare the four.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from 'better-sqlite3';
import { isLockError } from '../../errors.js';

export const LOCK_WAIT_STRATEGIES = ['busy-timeout', 'fair-poll', 'busy-slices', 'micro-poll'] as const;
export type LockWaitStrategy = (typeof LOCK_WAIT_STRATEGIES)[number];

export interface LockWaitContext {
  db: Database;
  /** `BEGIN`, `BEGIN IMMEDIATE` or `BEGIN EXCLUSIVE`. */
  statement: string;
  /** The longest one attempt may wait (ms). */
  deadlineMs: number;
  /**
   * Called once, at the first try that finds the lock taken, while the other process still
   * holds it: the moment to see who that is (once the wait is over, the holder is gone).
   */
  onBusy?: (() => void) | undefined;
}

export type LockWaiter = (context: LockWaitContext) => Promise<void>;

/** The busy_timeout each strategy needs on the connection (ms), given the configured one. */
export function connectionBusyTimeout(strategy: LockWaitStrategy, busyTimeoutMs: number): number {
  return strategy === 'fair-poll' ? 0 : busyTimeoutMs;
}

async function busyTimeout({ db, statement, onBusy }: LockWaitContext): Promise<void> {
  // SQLite waits inside exec(): the holder can only be looked for when the wait failed.
  try {
    db.exec(statement);
  } catch (error) {
    if (isLockError(error)) onBusy?.();
    throw error;
  }
}

async function fairPoll({ db, statement, deadlineMs, onBusy }: LockWaitContext): Promise<void> {
  const deadline = performance.now() + deadlineMs;
  let step = 1;
  for (let tries = 1; ; tries++) {
    try {
      db.exec(statement);
      return;
    } catch (error) {
      if (isLockError(error) && tries === 1) onBusy?.();
      if (!isLockError(error) || performance.now() >= deadline) throw error;
    }
    await sleep(step);
    step = Math.min(step + 1, 5);
  }
}

/** How long one slice of SQLite's busy handler lasts in `busy-slices` (ms): its schedule sleeps 1 ms, then 1 ms. */
export const BUSY_SLICE_MS = 2;
/** `micro-poll`: the first sleep, its growth and its cap (ms). */
const MICRO_POLL_FIRST_MS = 0.1;
const MICRO_POLL_GROWTH = 1.5;
const MICRO_POLL_CAP_MS = 1;
/** The blocking strategies give the thread's event loop a turn this often while they wait (ms). */
const YIELD_EVERY_MS = 20;

/** Runs `wait` with the connection's busy_timeout set to `timeoutMs`, and restores it after. */
async function withBusyTimeout(db: Database, timeoutMs: number, wait: () => Promise<void>): Promise<void> {
  const previous = Number(db.pragma('busy_timeout', { simple: true }));
  db.pragma(`busy_timeout = ${timeoutMs}`);
  try {
    await wait();
  } finally {
    db.pragma(`busy_timeout = ${previous}`);
  }
}

/**
 * Tries `statement` until it succeeds or the deadline passes, calling `pause` between tries.
 * Blocking pauses are fine in the writer thread, which has nothing else to do while it waits
 * for the lock, but the loop still yields now and then so the thread stays responsive.
 */
async function pollUntil(db: Database, statement: string, deadlineMs: number, pause: (tries: number) => void, onBusy?: () => void): Promise<void> {
  const started = performance.now();
  let lastYield = started;
  for (let tries = 1; ; tries++) {
    try {
      db.exec(statement);
      return;
    } catch (error) {
      if (isLockError(error) && tries === 1) onBusy?.();
      if (!isLockError(error) || performance.now() - started >= deadlineMs) throw error;
    }
    pause(tries);
    if (performance.now() - lastYield >= YIELD_EVERY_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = performance.now();
    }
  }
}

async function busySlices({ db, statement, deadlineMs, onBusy }: LockWaitContext): Promise<void> {
  // A deadline of 0 (no busy wait wanted) is one try with no handler.
  await withBusyTimeout(db, Math.min(BUSY_SLICE_MS, deadlineMs), () => pollUntil(db, statement, deadlineMs, () => {}, onBusy));
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

async function microPoll({ db, statement, deadlineMs, onBusy }: LockWaitContext): Promise<void> {
  await withBusyTimeout(db, 0, () => pollUntil(db, statement, deadlineMs, (tries) => {
    Atomics.wait(sleeper, 0, 0, Math.min(MICRO_POLL_CAP_MS, MICRO_POLL_FIRST_MS * MICRO_POLL_GROWTH ** (tries - 1)));
  }, onBusy));
}

export const LOCK_WAITERS: Readonly<Record<LockWaitStrategy, LockWaiter>> = {
  'busy-timeout': busyTimeout,
  'fair-poll': fairPoll,
  'busy-slices': busySlices,
  'micro-poll': microPoll,
};
