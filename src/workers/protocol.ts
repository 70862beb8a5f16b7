/** The fetch task and its result: what crosses between the main thread and a fetch worker. */
import type { SerializedError } from '../errors.js';
import type { JobRef, RejectedRecord } from '../model/index.js';
import type { SourceSpec } from '../source/types.js';

export interface FetchWorkerData {
  /** The shared rate limiter's schedule (see SharedRateLimiter). */
  rateBuffer: SharedArrayBuffer;
  requestsPerSecond: number;
}

export interface FetchTask {
  source: SourceSpec;
  job: JobRef;
  start: number;
  pageSize: number;
  /** Most rows per batch (at most 100). */
  batchSize: number;
  /**
   * Consecutive pages to fetch in this task (it stops early after a short page). More than one
   * amortises the cost of a round trip between threads, which dominates for fast sources.
   */
  maxPages: number;
}

export interface EncodedBatch {
  /**
   * JSON of `RowTuple[]`: as UTF-8 bytes between threads of one process (off the V8 heaps, and
   * moved, not copied, from the main thread to the writer), as text where it travels as JSON
   * (Redis).
   */
  rows: string | Uint8Array;
  rowCount: number;
}

export interface FetchedPage {
  batches: EncodedBatch[];
  rejected: RejectedRecord[];
  /** Transaction records on the page; fewer than `pageSize` means it was the last page. */
  recordCount: number;
}

export interface FetchTaskResult {
  /** The pages fetched, in order; only the last may be short. */
  pages: FetchedPage[];
  fetchMs: number;
}

/**
 * What the worker returns. Failures come back as data: an error thrown across the thread
 * boundary would lose its class and `code`, and with them whether it is worth retrying.
 */
export type FetchTaskOutcome = { ok: true; result: FetchTaskResult } | { ok: false; error: SerializedError };
