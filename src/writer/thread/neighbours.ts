/**
 * The neighbour policy: when other processes use the database, the writer leaves the write
 * lock free between its transactions long enough for them to take it.
 *
 * Why a gap, and why this long: nearly every other program on the file (Python's sqlite3,
 * better-sqlite3 with `timeout`, ORMs, dashboards) waits for a lock in SQLite's default busy
 * handler, which sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50 ms and then 100 ms between
 * tries. A writer that commits back to back leaves sub-millisecond gaps that such a waiter
 * finds only by chance: it starves into its timeout ("database is locked"). A waiter that began
 * waiting during one of our transactions (at most a budget, about 100 ms, ago) is still in the
 * dense part of that schedule, where tries are at most 25 ms apart: a gap a little longer than
 * that after every transaction lets it in, and costs the engine about gap / (budget + gap) of
 * its lock time. docs/lock-wait.md has the measurements behind the default.
 *
 * Several waiters share a gap: the first to try takes the lock, and one whose try finds it taken
 * tries again up to 25 ms later, after the gap would have ended, and then sleeps longer and
 * longer (100 ms between tries after about 230 ms), missing gap after gap. So a gap goes on for
 * `extendAfterCommitMs` after each commit of another connection seen in it (up to `maxGapMs`):
 * it costs the engine only when neighbours are really writing, as much as they write.
 * Extending after the first commit only (a writer that got in and commits again 10 ms later of
 * its own accord is not waiting) left the engine more of the lock, 0.749 against 0.727 in
 * bench/gap-model.ts and 0.55 to 0.61 against 0.49 to 0.53 of its speed alone in three full
 * neighbours benches each, but on a busy machine waiters wake late and are not where the model
 * puts them: the Node legacy writer's p99 went to 432 ms and its max to 2,444 ms in one run of
 * three (183 to 231 ms and at most 832 ms with every commit).
 *
 * A waiter in the busy handler holds no lock while it sleeps, so it cannot be seen. What can
 * be seen is whether anyone else has the file open (in WAL mode every connection holds a
 * shared lock on the -shm file; /proc/locks lists them) and whether anyone else committed
 * (`PRAGMA data_version`). When neither, the engine is alone and runs with no gap at all.
 *
 * Pure over injected effects, so it is tested without threads or files.
 */
export interface NeighbourPolicyOptions {
  /** The gap left after each transaction while other processes use the file (ms); 0 turns the policy off. */
  gapMs: number;
  /** How often /proc/locks is read to see whether other processes have the file open (ms). @default 500 */
  presenceCheckMs?: number;
  /** A commit by another connection keeps the policy on for this long even if no lock shows (ms). @default 5000 */
  activeForMs?: number;
  /**
   * The most the writer holds the lock, over one or several transactions, between two gaps
   * (ms): the transaction budget. A waiter cannot tell two back-to-back transactions from one
   * long one, so what matters is how long the lock stays taken, not how many transactions
   * took it; short ones (a job's start, a small group) share one gap. @default 100
   */
  windowMs?: number;
  /** A gap goes on at least this long after a commit of another connection seen in it (ms): a busy handler's try spacing after its first 100 ms. @default gapMs */
  extendAfterCommitMs?: number;
  /**
   * The longest a gap lasts, its extensions included, from the release of the lock (ms). The
   * writer decodes and stages its next group in the gap, so the gap may be over before it
   * starts waiting; a neighbour's commit seen then still keeps it open, up to this.
   *
   * Measured in full neighbours benches (Node legacy writer's commit p99 / max, engine beside /
   * alone), when it was counted from the moment the writer started waiting, 0 to 17 ms after
   * the release (the decoding): with transactions that held the lock 61 to 72 ms at the median
   * (four jobs fetched at once): 1 x gap (no extension) 335 / 1,138 ms, 0.60; 1.5 x 232 / 633
   * ms, 0.65; 2 x 133 / 834 ms, 0.51. Once transactions fill the budget (sixteen jobs at once,
   * or a group's tail kept for the next) a waiter is later in the busy handler's schedule at
   * the release and its second try comes later: 1.5 x 336 / 739 ms; 1.75 x 229 to 330 ms p99
   * in five runs; 2 x 180 to 235 ms in four. 2 x from the wait were 57 to 72 ms from the
   * release (logged over 60 gaps): 2.4 x from the release keeps what the neighbours measured.
   * @default 2.4 x gapMs
   */
  maxGapMs?: number;
}

export interface NeighbourProbe {
  /** Whether another process holds any lock on the database or its -shm file (an open connection in WAL mode does). */
  othersHaveFileOpen(): boolean;
  /** SQLite's data_version of the writer's connection: it changes when another connection commits. */
  dataVersion(): number;
  now(): number;
}

export class NeighbourPolicy {
  readonly #gapMs: number;
  readonly #presenceCheckMs: number;
  readonly #activeForMs: number;
  readonly #probe: NeighbourProbe;
  #present = false;
  #checkedAt = Number.NEGATIVE_INFINITY;
  #lastDataVersion: number | undefined;
  #neighbourCommitAt = Number.NEGATIVE_INFINITY;
  #lastCommitEnd = Number.NEGATIVE_INFINITY;
  /** When the lock was last free for a whole gap: since then it has been taken nearly all the time. */
  #lastGapEnd = Number.NEGATIVE_INFINITY;
  readonly #windowMs: number;
  readonly #extendAfterCommitMs: number;
  readonly #maxGapMs: number;
  /** Commits by other connections seen since the figures were last taken. */
  #neighbourCommits = 0;

  constructor(options: NeighbourPolicyOptions, probe: NeighbourProbe) {
    this.#gapMs = options.gapMs;
    this.#presenceCheckMs = options.presenceCheckMs ?? 500;
    this.#activeForMs = options.activeForMs ?? 5000;
    this.#windowMs = options.windowMs ?? 100;
    this.#extendAfterCommitMs = options.extendAfterCommitMs ?? options.gapMs;
    this.#maxGapMs = options.maxGapMs ?? 2.4 * options.gapMs;
    this.#probe = probe;
  }

  get enabled(): boolean {
    return this.#gapMs > 0;
  }

  /** Whether other processes use the file, as last seen. */
  get present(): boolean {
    return this.#present;
  }

  /**
   * How long to keep the lock free before a BEGIN whose transaction may hold the lock for
   * `expectedHoldMs` (ms); 0 when alone, and 0 while the lock, that transaction included,
   * stays taken for less than a window since the last gap.
   */
  gapBeforeBegin(expectedHoldMs: number): number {
    if (!this.enabled) return 0;
    const now = this.#probe.now();
    this.#observe(now);
    if (!this.#present) return 0;
    const free = now - this.#lastCommitEnd;
    // Free for a gap's length already (the writer staged its rows, or had nothing to write):
    // that was a gap, unless a neighbour committed in it, which may have shut a waiter out.
    if (free >= this.#gapMs) {
      this.#lastGapEnd = Math.max(now, this.#extendedEnd(now));
      return this.#lastGapEnd - now;
    }
    // The lock may stay taken up to a window since the last gap, counting the hold to come. A
    // short operation (a job's start) right after a budget-long group may go the budget's own
    // 10 % over it rather than cost a whole gap of its own.
    const window = expectedHoldMs <= this.#windowMs / 10 ? 1.1 * this.#windowMs : this.#windowMs;
    if (now - this.#lastGapEnd + expectedHoldMs <= window) return 0;
    this.#lastGapEnd = now + (this.#gapMs - free);
    return this.#gapMs - free;
  }

  /**
   * When a gap that was to end at `plannedEnd` ends now (performance.now() ms): later when
   * another connection committed since the lock was released, so that those queued behind that
   * commit get their try, but never more than `maxGapMs` after the release. Called every few ms
   * of the gap.
   */
  gapEnd(plannedEnd: number): number {
    this.#observeDataVersion(this.#probe.now());
    const end = this.#extendedEnd(plannedEnd);
    this.#lastGapEnd = Math.max(this.#lastGapEnd, end);
    return end;
  }

  /** `plannedEnd`, or later after a neighbour's commit seen since the release (as last observed). */
  #extendedEnd(plannedEnd: number): number {
    if (this.#neighbourCommitAt <= this.#lastCommitEnd) return plannedEnd;
    return Math.min(this.#lastCommitEnd + this.#maxGapMs, Math.max(plannedEnd, this.#neighbourCommitAt + this.#extendAfterCommitMs));
  }

  /** Whether the next BEGIN will wait for a gap: the moment for work that needs no lock (a passive checkpoint). */
  get gapDue(): boolean {
    return this.enabled && this.#present;
  }

  /** Whether another connection has committed since our lock was last released (data_version, read now). */
  committedSinceRelease(): boolean {
    this.#observeDataVersion(this.#probe.now());
    return this.#neighbourCommitAt > this.#lastCommitEnd;
  }

  /** Called when one of our transactions (or anything else that held the write lock) ended. */
  lockReleased(): void {
    this.#lastCommitEnd = this.#probe.now();
    // Our own commit does not change our data_version; read it now so a neighbour's commit
    // during the coming gap is told apart from one that came before.
    this.#observeDataVersion(this.#lastCommitEnd);
  }

  /** Commits by other connections seen since the last call. */
  takeNeighbourCommits(): number {
    const count = this.#neighbourCommits;
    this.#neighbourCommits = 0;
    return count;
  }

  #observe(now: number): void {
    this.#observeDataVersion(now);
    if (now - this.#checkedAt >= this.#presenceCheckMs) {
      this.#checkedAt = now;
      this.#present = this.#probe.othersHaveFileOpen() || now - this.#neighbourCommitAt < this.#activeForMs;
    } else if (now - this.#neighbourCommitAt < this.#activeForMs) {
      this.#present = true;
    }
  }

  #observeDataVersion(now: number): void {
    const version = this.#probe.dataVersion();
    if (this.#lastDataVersion !== undefined && version !== this.#lastDataVersion) {
      this.#neighbourCommitAt = now;
      this.#neighbourCommits++;
    }
    this.#lastDataVersion = version;
  }
}
