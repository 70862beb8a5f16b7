/**
 * Figures of a run over time, for the report's charts. Samples are kept as they come and put
 * in buckets at the end, so the bucket width can follow the run's length: a run of one second
 * and a run of one minute both get enough points to draw lines.
 */

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

/** The fewest points a timeline should have to read as a line. */
export const MIN_TIMELINE_POINTS = 40;
const BUCKET_WIDTHS_MS = [10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000];

/** The widest round bucket that still gives `MIN_TIMELINE_POINTS` points over `durationMs` (at least 10 ms). */
export function bucketFor(durationMs: number): number {
  return [...BUCKET_WIDTHS_MS].reverse().find((width) => durationMs / width >= MIN_TIMELINE_POINTS) ?? BUCKET_WIDTHS_MS[0]!;
}

interface Sample {
  at: number;
  rows: number;
  lockWaitMs: number;
  locks: number;
}

export class Timeline {
  readonly #origin: number;
  readonly #samples: Sample[] = [];

  constructor(origin = performance.now()) {
    this.#origin = origin;
  }

  addRows(rows: number, at = performance.now()): void {
    this.#samples.push({ at, rows, lockWaitMs: 0, locks: 0 });
  }

  addLockWait(ms: number, at = performance.now()): void {
    this.#samples.push({ at, rows: 0, lockWaitMs: ms, locks: 0 });
  }

  addLock(at = performance.now()): void {
    this.#samples.push({ at, rows: 0, lockWaitMs: 0, locks: 1 });
  }

  /** The buckets from the origin up to `end` (a performance.now() time), empty ones included; the width follows the length unless given. */
  points(end = performance.now(), bucketMs = bucketFor(end - this.#origin)): TimelinePoint[] {
    const count = Math.max(1, Math.ceil((end - this.#origin) / bucketMs));
    const buckets = Array.from({ length: count }, () => ({ rows: 0, lockWaitMs: 0, locks: 0 }));
    for (const sample of this.#samples) {
      const index = Math.min(count - 1, Math.max(0, Math.floor((sample.at - this.#origin) / bucketMs)));
      const bucket = buckets[index]!;
      bucket.rows += sample.rows;
      bucket.lockWaitMs += sample.lockWaitMs;
      bucket.locks += sample.locks;
    }
    const perSecond = 1000 / bucketMs;
    let rowsCommitted = 0;
    return buckets.map((bucket, index) => ({
      t: Number(((index * bucketMs) / 1000).toFixed(3)),
      rowsPerSecond: Math.round(bucket.rows * perSecond),
      rowsCommitted: (rowsCommitted += bucket.rows),
      lockWaitMsPerSecond: Number((bucket.lockWaitMs * perSecond).toFixed(1)),
      locks: bucket.locks,
    }));
  }
}
