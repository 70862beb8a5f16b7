import { ClosedError, InvalidOptionError } from '../errors.js';

export interface Sized {
  readonly rowCount: number;
}

/** What `pushUnit` adds: items that `take` hands over together, never split. */
type Unit<T> = readonly T[];

export interface BatchQueueOptions {
  /** Most rows waiting at once; a producer that would pass it waits (backpressure). @default 20000 */
  readonly maxRows?: number;
}

/**
 * A bounded FIFO of row batches between the fetch side and the writer. Producers `push` and
 * wait while the queue is full, so memory stays flat however much is left to fetch; the
 * consumer `take`s everything waiting (up to a row budget) for one group commit.
 */
export class BatchQueue<T extends Sized> {
  readonly maxRows: number;
  readonly #items: T[] = [];
  /** Parallel to #items: whether the item ends its unit (a take may stop only after one that does). */
  readonly #unitEnds: boolean[] = [];
  #rows = 0;
  #closed = false;
  #spaceWaiters: Array<() => void> = [];
  #itemWaiter: (() => void) | undefined;

  constructor(options: BatchQueueOptions = {}) {
    const maxRows = options.maxRows ?? 20_000;
    if (!Number.isInteger(maxRows) || maxRows < 1) throw new InvalidOptionError('maxRows', 'a positive integer', maxRows);
    this.maxRows = maxRows;
  }

  get size(): number {
    return this.#items.length;
  }

  get rows(): number {
    return this.#rows;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Adds a batch, waiting first while the queue is full. An item is always accepted into an empty queue. */
  async push(item: T, signal?: AbortSignal): Promise<void> {
    await this.pushUnit([item], signal);
  }

  /**
   * Adds items that belong together (the batches of one page), waiting first while they do not
   * fit: they enter the queue at once and `take` never hands over part of them.
   */
  async pushUnit(items: Unit<T>, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const rowCount = items.reduce((sum, item) => sum + item.rowCount, 0);
    while (!this.#closed && this.#items.length > 0 && this.#rows + rowCount > this.maxRows) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(signal?.reason as Error);
        signal?.addEventListener('abort', onAbort, { once: true });
        this.#spaceWaiters.push(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    }
    if (this.#closed) throw new ClosedError('The batch queue');
    for (const [index, item] of items.entries()) {
      this.#items.push(item);
      this.#unitEnds.push(index === items.length - 1);
    }
    this.#rows += rowCount;
    const waiter = this.#itemWaiter;
    this.#itemWaiter = undefined;
    waiter?.();
  }

  /**
   * Takes every waiting batch, in order, up to `maxRows` rows (at least one unit, and never
   * part of one). Waits while the queue is empty; resolves `null` once it is closed and empty.
   */
  async take(maxRows = Number.POSITIVE_INFINITY): Promise<T[] | null> {
    while (this.#items.length === 0) {
      if (this.#closed) return null;
      await new Promise<void>((resolve) => {
        this.#itemWaiter = resolve;
      });
    }
    return this.takeWaiting(maxRows, true);
  }

  /**
   * Takes what is waiting now, in order, up to `maxRows` rows and never part of a unit, without
   * waiting: possibly nothing. `atLeastOne` takes a first unit even if it is larger than `maxRows`.
   */
  takeWaiting(maxRows: number, atLeastOne = false): T[] {
    const taken: T[] = [];
    let rows = 0;
    let unitOpen = false;
    while (this.#items.length > 0 && (unitOpen || (atLeastOne && taken.length === 0) || rows + this.#unitRows() <= maxRows)) {
      const item = this.#items.shift()!;
      unitOpen = !this.#unitEnds.shift()!;
      rows += item.rowCount;
      taken.push(item);
    }
    if (taken.length === 0) return taken;
    this.#rows -= rows;
    const waiters = this.#spaceWaiters;
    this.#spaceWaiters = [];
    for (const wake of waiters) wake();
    return taken;
  }

  /** The rows of the unit at the head of the queue. */
  #unitRows(): number {
    let rows = 0;
    for (let index = 0; index < this.#items.length; index++) {
      rows += this.#items[index]!.rowCount;
      if (this.#unitEnds[index]) break;
    }
    return rows;
  }

  /** No more pushes; `take` still returns what is waiting, then `null`. */
  close(): void {
    this.#closed = true;
    const waiter = this.#itemWaiter;
    this.#itemWaiter = undefined;
    waiter?.();
    const waiters = this.#spaceWaiters;
    this.#spaceWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Removes and returns what is waiting (used when stopping at once). */
  clear(): T[] {
    const items = this.#items.splice(0);
    this.#unitEnds.splice(0);
    this.#rows = 0;
    return items;
  }
}
