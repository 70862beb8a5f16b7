/**
 * One read-only connection that samples the database every interval and keeps the latest
 * snapshot, so any number of browsers and scrapers cost the writer one short read per
 * interval, not one per request. It also keeps the rows-per-second series the page draws
 * live, from the change in rows inserted between samples.
 */
import { existsSync, statSync } from 'node:fs';
import type { Database } from 'better-sqlite3';
import { openDatabase } from '../db/open.js';
import type { TableNames } from '../db/schema.js';
import { DEFAULT_FLAGS } from '../flags/index.js';
import type { Logger } from '../logger.js';
import { emptySnapshot, readSnapshot, SchemaCache, type DashboardSnapshot } from './snapshot.js';

export interface LivePoint {
  /** Unix time of the sample, ms. */
  t: number;
  /** Rows inserted per second since the sample before. */
  rowsPerSecond: number;
  /** `sum(job_log.rows_inserted)` at the sample. */
  rowsInserted: number;
}

/** What `/api/snapshot` returns: the latest snapshot, and the live series of this dashboard. */
export interface DashboardState extends DashboardSnapshot {
  live: LivePoint[];
  /** How often the dashboard samples the database, ms. */
  intervalMs: number;
  historyMinutes: number;
}

export interface SamplerOptions {
  readonly path: string;
  readonly tables: TableNames;
  readonly intervalMs: number;
  readonly historyMinutes: number;
  readonly liveWindowMs: number;
  readonly busyTimeoutMs: number;
  readonly logger: Logger;
}

export class DatabaseSampler {
  readonly #options: SamplerOptions;
  readonly #schema = new SchemaCache();
  #db: Database | null = null;
  #inode: number | null = null;
  #latest: DashboardSnapshot;
  #latestAt = 0;
  #live: LivePoint[] = [];
  #timer: NodeJS.Timeout | undefined;
  #lastError: string | null = null;

  constructor(options: SamplerOptions) {
    this.#options = options;
    this.#latest = emptySnapshot(options.path, null);
  }

  /** Samples now, then every interval. The timer does not keep the process alive by itself. */
  start(): void {
    this.sample();
    this.#timer ??= setInterval(() => this.sample(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** The latest snapshot, read again first when it is older than `maxAgeMs`. */
  latest(maxAgeMs = this.#options.intervalMs): DashboardSnapshot {
    if (Date.now() - this.#latestAt > maxAgeMs) this.sample();
    return this.#latest;
  }

  state(): DashboardState {
    return { ...this.latest(), live: this.#live, intervalMs: this.#options.intervalMs, historyMinutes: this.#options.historyMinutes };
  }

  /** Reads one snapshot. Never throws: a database that cannot be read is a snapshot with `database.error`. */
  sample(): DashboardSnapshot {
    const now = Date.now();
    let snapshot: DashboardSnapshot;
    try {
      const db = this.#connection();
      // A file not there yet is no error: `database.exists` is false and the page waits for it.
      snapshot = db === null
        ? emptySnapshot(this.#options.path, null, now)
        : readSnapshot(db, this.#schema, { path: this.#options.path, tables: this.#options.tables, historyMinutes: this.#options.historyMinutes, jobRows: 12, alertRows: 20, now });
      this.#lastError = null;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message !== this.#lastError) this.#options.logger.warn({ database: this.#options.path, err: message }, 'dashboard: the database could not be read; retrying');
      this.#lastError = message;
      this.#disconnect();
      // Keep the figures last read, flagged, rather than blank panels for one failed read.
      snapshot = { ...this.#latest, takenAt: new Date(now).toISOString(), database: { ...this.#latest.database, error: message } };
    }
    this.#record(snapshot, now);
    this.#latest = snapshot;
    this.#latestAt = now;
    return snapshot;
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#disconnect();
  }

  #record(snapshot: DashboardSnapshot, now: number): void {
    if (snapshot.jobs === null || snapshot.database.error !== null) return;
    const rows = snapshot.jobs.rowsInserted;
    const previous = this.#live.at(-1);
    // A count that went down is another file (replaced, or redone): start the series again.
    if (previous !== undefined && rows < previous.rowsInserted) this.#live = [];
    const last = this.#live.at(-1);
    const seconds = last === undefined ? 0 : (now - last.t) / 1000;
    this.#live.push({ t: now, rowsPerSecond: last === undefined || seconds <= 0 ? 0 : Math.round(((rows - last.rowsInserted) / seconds) * 10) / 10, rowsInserted: rows });
    while (this.#live.length > 0 && this.#live[0]!.t < now - this.#options.liveWindowMs) this.#live.shift();
  }

  /** The open connection, opened (again) when needed; null while the file does not exist. */
  #connection(): Database | null {
    const path = this.#options.path;
    if (!existsSync(path)) {
      this.#disconnect();
      return null;
    }
    // A file replaced under an open connection would be read as the old one: reopen.
    const inode = statSync(path).ino;
    if (this.#db !== null && inode !== this.#inode) this.#disconnect();
    if (this.#db === null) {
      const { db } = openDatabase({ path, flags: DEFAULT_FLAGS, readonly: true, busyTimeoutMs: this.#options.busyTimeoutMs, logger: this.#options.logger });
      this.#db = db;
      this.#inode = inode;
    }
    return this.#db;
  }

  #disconnect(): void {
    try {
      this.#db?.close();
    } catch {
      // closing a connection whose file is gone can fail; there is nothing left to release
    }
    this.#db = null;
    this.#inode = null;
  }
}
