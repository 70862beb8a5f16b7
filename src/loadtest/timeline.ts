/** Figures of a run over time, in fixed buckets, for the report's charts. */

export interface TimelinePoint {
  /** Start of the bucket, seconds since the backfill started. */
  t: number;
  /** Rows committed in the bucket, per second. */
  rowsPerSecond: number;
  /** Rows committed since the start, up to the end of the bucket. */
  rowsCommitted: number;
  /** Time the writer spent waiting for the write lock in the bucket (sum over transactions), ms per second. */
  lockWaitMsPerSecond: number;
  /** Locks (failed attempts and long waits) reported in the bucket. */
  locks: number;
}

interface Bucket {
  rows: number;
  lockWaitMs: number;
  locks: number;
}

export class Timeline {
  readonly #bucketMs: number;
  readonly #origin: number;
  readonly #buckets: Bucket[] = [];

  constructor(bucketMs: number, origin = performance.now()) {
    this.#bucketMs = bucketMs;
    this.#origin = origin;
  }

  #bucket(at: number): Bucket {
    const index = Math.max(0, Math.floor((at - this.#origin) / this.#bucketMs));
    while (this.#buckets.length <= index) this.#buckets.push({ rows: 0, lockWaitMs: 0, locks: 0 });
    return this.#buckets[index]!;
  }

  addRows(rows: number, at = performance.now()): void {
    this.#bucket(at).rows += rows;
  }

  addLockWait(ms: number, at = performance.now()): void {
    this.#bucket(at).lockWaitMs += ms;
  }

  addLock(at = performance.now()): void {
    this.#bucket(at).locks++;
  }

  /** The buckets up to `end` (a performance.now() time), empty ones included. */
  points(end = performance.now()): TimelinePoint[] {
    this.#bucket(end);
    const perSecond = 1000 / this.#bucketMs;
    let rowsCommitted = 0;
    return this.#buckets.map((bucket, index) => ({
      t: Number(((index * this.#bucketMs) / 1000).toFixed(2)),
      rowsPerSecond: Math.round(bucket.rows * perSecond),
      rowsCommitted: (rowsCommitted += bucket.rows),
      lockWaitMsPerSecond: Number((bucket.lockWaitMs * perSecond).toFixed(1)),
      locks: bucket.locks,
    }));
  }
}
