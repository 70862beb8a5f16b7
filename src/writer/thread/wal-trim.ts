/**
 * Trimming the WAL file, in a transaction of its own.
 *
 * SQLite shrinks the WAL file to `journal_size_limit` in one place only: inside the first
 * COMMIT after the WAL started over, while that COMMIT holds the write lock. Cutting a file
 * costs time in proportion to what is cut (measured on ext4: 64 to 70 ms for 144 MB), so the
 * batch transaction that happened to come first after a checkpoint paid it on top of its own
 * work: 126 to 185 ms holds against a 100 ms budget right after a notebook let go of a 160 MB
 * WAL, and about 20 ms more in every 64 MB cycle of a backfill alone, which also taught the
 * commit budget to expect slow commits and cut every group short.
 *
 * So the writer's connection runs with no limit (no batch's COMMIT cuts anything), and once a
 * checkpoint has copied the whole WAL while the file is larger than the limit, the writer
 * commits a transaction that writes only its minute's figures, with the limit set for that
 * COMMIT: the lock is held for the cut alone. A large file is cut in steps, each sized from the
 * cuts measured so far to take at most half the transaction budget.
 *
 * Pure: the writer runs the transaction and tells this what happened.
 */
export interface WalTrimOptions {
  /** The size the WAL file is trimmed to (bytes): the configured journal_size_limit. */
  limitBytes: number;
  /** The transaction budget (ms): one cut takes at most half of it. */
  budgetMs: number;
  /** A file at most this much over the limit is left as it is (bytes). @default 4 MiB */
  slackBytes?: number;
  /** The first cut, before any was measured (bytes). @default 64 MiB */
  firstStepBytes?: number;
  /**
   * After a try that could not cut, the next waits this long (ms). Counted in time, not in
   * checkpoints: while a reader pins the WAL no checkpoint completes, so a count of them would
   * keep the trim waiting past the moment the reader lets go, measured often to the end of a
   * run. @default 1000
   */
  retryAfterMs?: number;
  /** The clock (ms). @default performance.now */
  now?: () => number;
}

const MIB = 1024 * 1024;
/** Cuts smaller than this are mostly the transaction's fixed cost: they say nothing of the rate. */
const MEASURABLE_CUT = 8 * MIB;

export class WalTrim {
  readonly #limitBytes: number;
  readonly #budgetMs: number;
  readonly #slackBytes: number;
  readonly #firstStepBytes: number;
  /** A checkpoint copied the whole WAL and nothing has committed since: the next COMMIT starts the WAL over. */
  #startsOver = false;
  /** ms per byte cut, erring high. */
  #msPerByte: number | null = null;
  readonly #retryAfterMs: number;
  readonly #now: () => number;
  /** No try before this (ms), after one that could not cut. */
  #retryAt = Number.NEGATIVE_INFINITY;

  constructor(options: WalTrimOptions) {
    this.#limitBytes = options.limitBytes;
    this.#budgetMs = options.budgetMs;
    this.#slackBytes = options.slackBytes ?? 4 * MIB;
    this.#firstStepBytes = options.firstStepBytes ?? 64 * MIB;
    this.#retryAfterMs = options.retryAfterMs ?? 1000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** After every checkpoint: `complete` when it copied every frame of the WAL. */
  checkpointed(complete: boolean): void {
    if (complete && this.#now() >= this.#retryAt) this.#startsOver = true;
  }

  /** After every COMMIT of the writer's connection: if the WAL was to start over, it has. */
  committed(): void {
    this.#startsOver = false;
  }

  /** Whether a cut may be due: the next COMMIT starts the WAL over. Checked before the file's size is read. */
  get pending(): boolean {
    return this.#startsOver;
  }

  /** The most one cut removes now (bytes). */
  get stepBytes(): number {
    if (this.#msPerByte === null) return this.#firstStepBytes;
    return Math.min(1024 * MIB, Math.max(MEASURABLE_CUT, Math.floor((this.#budgetMs / 2) / this.#msPerByte)));
  }

  /** The journal_size_limit for a trim transaction now (bytes), or null when none is due. */
  due(walFileBytes: number): number | null {
    if (!this.#startsOver || walFileBytes <= this.#limitBytes + this.#slackBytes) return null;
    return Math.max(this.#limitBytes, walFileBytes - this.stepBytes);
  }

  /**
   * A try that could not cut (nothing cut, or the RESTART before it found readers in the way).
   * Each costs the lock for a while: the next waits `retryAfterMs`.
   */
  missed(): void {
    this.#retryAt = this.#now() + this.#retryAfterMs;
    this.#startsOver = false;
  }

  /** A trim transaction held the lock `holdMs` and took the file from `fromBytes` to `toBytes`. */
  record(fromBytes: number, toBytes: number, holdMs: number): void {
    const cut = fromBytes - toBytes;
    // Nothing cut: another connection's commit started the WAL over first, or a reader still
    // read from it when our commit would have.
    if (cut <= 0) this.missed();
    if (cut < MEASURABLE_CUT) return;
    const rate = holdMs / cut;
    // A slower cut counts at once; a faster one only half: the steps shrink quickly and grow slowly.
    this.#msPerByte = this.#msPerByte === null ? rate : Math.max(rate, (this.#msPerByte + rate) / 2);
  }
}
