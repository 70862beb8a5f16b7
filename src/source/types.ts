/**
 * The source contract shared by every source (demo, yahoo, file) and the fetch workers. The
 * rows and pages a source yields are the data model's (`model/`).
 */
import type { JobRef, ParsedPage } from '../model/index.js';

export interface PageRequest {
  job: JobRef;
  /** 0-based offset of the first transaction of the page (Yahoo's `start`). */
  start: number;
  /** Transactions per page (Yahoo's `count`); a page with fewer records is the last. */
  pageSize: number;
  signal?: AbortSignal;
}

/**
 * A league data source, as it runs inside a fetch worker. Sources are created in the worker
 * from a serialisable `SourceSpec`, so they hold no state the main thread must share.
 */
export interface Source {
  readonly kind: string;
  /** Fetches, parses and validates one page. Rejects with a `SourceError` when the page cannot be had. */
  fetchPage(request: PageRequest): Promise<ParsedPage>;
  close?(): Promise<void>;
}

/** Every kind of source, in the order the help lists them. */
export const SOURCE_KINDS = ['demo', 'yahoo', 'file'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

/**
 * A serialisable description of a source: what crosses into the fetch workers, where
 * `createSource()` turns it into a `Source`.
 */
export type SourceSpec = { [K in SourceKind]: { kind: K; options: Record<string, unknown> } }[SourceKind];
