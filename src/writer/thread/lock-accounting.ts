/**
 * The writer's lock figures, as the one retry loop defines them (db/locking/lock-retry.ts):
 * - a **lock** is one attempt that failed on a lock, or that got the lock only after waiting
 *   longer than the threshold;
 * - an operation's **retries** are its attempts minus one;
 * - its **wait** is the time it spent waiting for the lock, busy waits and backoff included
 *   (not the gaps the writer leaves its neighbours), counted when it met a lock.
 * Each operation's figures are charged to exactly one job (the first job of a group commit, or
 * the job a start or end belongs to), written in the same transaction as that job's rows, so
 * the per-job sums in job_log equal the run's totals. Nothing is kept for a job once written.
 */
export interface OperationLocks {
  count: number;
  waitMs: number;
  retries: number;
  /** Lock counts by operation name and by holder (`holder:PID (command)`). */
  operations: Record<string, number>;
}

export interface HolderWait {
  pid: number;
  command: string;
}

export interface MinuteFigures {
  locks: number;
  retries: number;
  lockWaitMs: number;
  yields: number;
  yieldMs: number;
  neighbourCommits: number;
  holders: Map<number, { command: string; waits: number; waitMs: number }>;
}

export function emptyOperation(): OperationLocks {
  return { count: 0, waitMs: 0, retries: 0, operations: {} };
}

export function emptyMinute(): MinuteFigures {
  return { locks: 0, retries: 0, lockWaitMs: 0, yields: 0, yieldMs: 0, neighbourCommits: 0, holders: new Map() };
}

/** Adds one lock (a failed or long-waited attempt) of `operation`, held by `holders`. */
export function countLock(into: OperationLocks, operation: string, holders: readonly HolderWait[]): void {
  into.count++;
  into.operations[operation] = (into.operations[operation] ?? 0) + 1;
  for (const holder of holders) {
    const key = `holder:${holder.pid} (${holder.command.slice(0, 80)})`;
    into.operations[key] = (into.operations[key] ?? 0) + 1;
  }
}

/** Merges `from` into `into` (figures of a failed operation kept for the job's next write). */
export function mergeOperation(into: OperationLocks, from: OperationLocks): void {
  into.count += from.count;
  into.waitMs += from.waitMs;
  into.retries = Math.max(into.retries, from.retries);
  for (const [name, count] of Object.entries(from.operations)) into.operations[name] = (into.operations[name] ?? 0) + count;
}

/** lock_operations as stored: the counts already in job_log plus these. */
export function mergeOperationsJson(stored: string | null, add: Record<string, number>): string {
  let base: Record<string, number> = {};
  if (stored) {
    try {
      const parsed = JSON.parse(stored) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) base = parsed as Record<string, number>;
    } catch {
      // an unreadable value from an older tool is replaced
    }
  }
  for (const [name, count] of Object.entries(add)) base[name] = (Number(base[name]) || 0) + count;
  return JSON.stringify(base);
}

/** Subtracts what a committed transaction wrote from the figures still to write. */
export function subtractMinute(into: MinuteFigures, written: MinuteFigures): void {
  into.locks -= written.locks;
  into.retries -= written.retries;
  into.lockWaitMs -= written.lockWaitMs;
  into.yields -= written.yields;
  into.yieldMs -= written.yieldMs;
  into.neighbourCommits -= written.neighbourCommits;
  for (const [pid, holder] of written.holders) {
    const current = into.holders.get(pid);
    if (!current) continue;
    current.waits -= holder.waits;
    current.waitMs -= holder.waitMs;
    if (current.waits <= 0) into.holders.delete(pid);
  }
}

export function copyMinute(figures: MinuteFigures): MinuteFigures {
  const holders = new Map<number, { command: string; waits: number; waitMs: number }>();
  for (const [pid, holder] of figures.holders) holders.set(pid, { ...holder });
  return { ...figures, holders };
}
