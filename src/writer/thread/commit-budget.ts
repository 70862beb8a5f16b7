/**
 * When to stop adding batches to a transaction so that it gives the write lock back within its
 * budget. The lock is held until COMMIT returns, and COMMIT writes every page the transaction
 * dirtied, so its cost is known only afterwards. A running average of past commits was not a
 * bound: one group's COMMIT regularly came in above it (holds of 110 to 120 ms on a 100 ms
 * budget, 236 ms on a loaded machine).
 *
 * The prediction here scales with the work already done instead of with the clock: COMMIT
 * writes the pages that inserting dirtied, so its cost follows the time spent inserting, and
 * that ratio holds when the whole machine slows down (both halves slow alike). The largest
 * ratio of the recent transactions is used, with a margin, so the estimate errs long.
 */
export interface CommitBudgetOptions {
  /** The most one transaction may hold the write lock (ms). */
  budgetMs: number;
  /** Recent transactions whose commit/insert ratio is remembered. @default 16 */
  window?: number;
  /** Multiplies the predicted commit time. @default 1.2 */
  margin?: number;
}

export class CommitBudget {
  readonly #budgetMs: number;
  readonly #window: number;
  readonly #margin: number;
  /**
   * commit ms / insert ms of recent transactions. Until the first is measured a commit is
   * taken to cost as much as the inserting; that guess must not outlive the measurements, or
   * a run's first transactions all stop at half the budget.
   */
  readonly #ratios: number[] = [];
  /** The longest commit seen of a transaction with almost no insert work (fixed cost: fsync, WAL header). */
  #fixedMs = 2;

  constructor(options: CommitBudgetOptions) {
    this.#budgetMs = options.budgetMs;
    this.#window = options.window ?? 16;
    this.#margin = options.margin ?? 1.2;
  }

  /** The commit time predicted for a transaction that has inserted for `insertMs` so far. */
  predictCommitMs(insertMs: number): number {
    const ratio = this.#ratios.length === 0 ? 1 : Math.max(...this.#ratios);
    return this.#margin * (this.#fixedMs + ratio * insertMs);
  }

  /**
   * True while another page may be added: the lock held so far (`heldMs`, from BEGIN), plus
   * what inserting the next page is expected to add (`nextInsertMs`), plus the predicted commit
   * of the whole, stays within the budget. `shared`: other processes use the file, and so the
   * CPU too; a page or the COMMIT may then wait out another process's time slice, which no
   * prediction sees, so the transaction aims a tenth short of the budget (with transactions
   * that filled their budget, holds beside the neighbours bench's processes reached 110 and
   * 115 ms in two runs of five).
   */
  hasRoom(heldMs: number, insertMs: number, nextInsertMs: number, shared = false): boolean {
    const aimMs = shared ? 0.9 * this.#budgetMs : this.#budgetMs;
    return heldMs + nextInsertMs + this.predictCommitMs(insertMs + nextInsertMs) <= aimMs;
  }

  /** Learns from a committed transaction. */
  record(insertMs: number, commitMs: number): void {
    if (insertMs < 1) {
      this.#fixedMs = Math.max(this.#fixedMs * 0.9, commitMs);
      return;
    }
    this.#ratios.push(Math.max(0, commitMs - this.#fixedMs) / insertMs);
    while (this.#ratios.length > this.#window) this.#ratios.shift();
  }
}
