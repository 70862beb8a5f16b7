/**
 * A pool of read-only connections, for reads (health, jobs, the query API) when the
 * `connection_pooling` flag is on. better-sqlite3 is synchronous, so a connection serves one
 * caller at a time; the pool bounds how many are open, makes callers wait in order when all
 * are busy, and checks each connection as it comes back. Connections are `query_only`: a
 * pooled read can never take the write lock.
 */
import type { Database } from 'better-sqlite3';
import { BackfillError, ClosedError, InvalidOptionError } from '../errors.js';
import { effectiveFlags, isWorkloadName, WORKLOAD_NAMES, type Flags, type WorkloadName } from '../flags/index.js';
import { silentLogger, type Logger } from '../logger.js';
import { openDatabase } from './open.js';

export interface ReadPoolOptions {
  /** The database file; it must exist (read connections never create it). */
  readonly path: string;
  /** The flags that decide each connection's pragmas (busy timeout, cache). */
  readonly flags: Flags;
  /** Connections opened at once and kept open while idle. @default 1 */
  readonly min?: number;
  /** Most connections open at once; callers beyond it wait. @default 4 */
  readonly max?: number;
  /** Longest an `acquire()` waits for a connection before it fails. @default 5000 */
  readonly acquireTimeoutMs?: number;
  /** `busy_timeout` of each connection (ms) when `pragma_optimizations` is on. @default 5000 */
  readonly busyTimeoutMs?: number;
  /** Where connection churn (replaced, timed out) is logged. @default a silent logger */
  readonly logger?: Logger;
  /** The flags file's workload profile, applied to each connection like the engine's. @default 'mixed' */
  readonly workload?: WorkloadName;
}

export interface ResolvedReadPoolOptions {
  readonly path: string;
  readonly flags: Flags;
  readonly min: number;
  readonly max: number;
  readonly acquireTimeoutMs: number;
  readonly busyTimeoutMs: number;
  readonly logger: Logger;
  readonly workload: WorkloadName;
}

const OPTION_NAMES = new Set(['path', 'flags', 'min', 'max', 'acquireTimeoutMs', 'busyTimeoutMs', 'logger', 'workload']);

function integerOption(options: ReadPoolOptions, name: 'min' | 'max' | 'acquireTimeoutMs' | 'busyTimeoutMs', fallback: number, min: number, max: number): number {
  const value = options[name] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

function resolveWorkload(workload: unknown): WorkloadName {
  if (workload === undefined) return 'mixed';
  if (!isWorkloadName(workload)) throw new InvalidOptionError('workload', `one of ${WORKLOAD_NAMES.join(', ')}`, workload);
  return workload;
}

/** Applies the defaults and checks every option; unknown and misspelt option names are rejected by name. */
export function resolveReadPoolOptions(options: ReadPoolOptions): ResolvedReadPoolOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object', options);
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.has(key)) {
      throw new InvalidOptionError('options', `an object with keys among ${[...OPTION_NAMES].join(', ')}`, key, `\`${key}\` is not an option of ReadPool`);
    }
  }
  if (typeof options.path !== 'string' || options.path.trim() === '') throw new InvalidOptionError('path', 'the path of a database file', options.path);
  if (options.path === ':memory:') throw new InvalidOptionError('path', 'a database file (each connection to :memory: would be a different, empty database)', options.path);
  if (typeof options.flags !== 'object' || options.flags === null) throw new InvalidOptionError('flags', 'the feature flags (an object of booleans)', options.flags);
  const max = integerOption(options, 'max', 4, 1, 64);
  const min = integerOption(options, 'min', Math.min(1, max), 0, 64);
  if (min > max) throw new InvalidOptionError('min', `at most \`max\` (${max})`, min);
  return {
    path: options.path,
    flags: options.flags,
    min,
    max,
    acquireTimeoutMs: integerOption(options, 'acquireTimeoutMs', 5000, 1, 3_600_000),
    busyTimeoutMs: integerOption(options, 'busyTimeoutMs', 5000, 0, 600_000),
    logger: (options.logger ?? silentLogger()).child({ component: 'read-pool' }),
    workload: resolveWorkload(options.workload),
  };
}

/** A connection lent by the pool. Release it exactly once (`using` does it at the end of the block). */
export interface ReadLease extends Disposable {
  /** A read-only (`query_only`) connection. Do not close it and do not keep it after `release()`. */
  readonly db: Database;
  /** Gives the connection back (it is health-checked first). Calling it again does nothing. */
  release(): void;
}

export interface ReadPoolStats {
  /** Connections open now (idle + in use). */
  size: number;
  idle: number;
  inUse: number;
  /** Callers waiting for a connection. */
  waiting: number;
  /** Connections opened since the pool was made. */
  created: number;
  /** Connections closed: failed health checks, and those closed by `close()`. */
  destroyed: number;
  /** Leases handed out. */
  acquired: number;
  /** `acquire()` calls that gave up after `acquireTimeoutMs`. */
  timeouts: number;
}

interface Waiter {
  resolve(lease: ReadLease): void;
  reject(error: unknown): void;
}

/**
 * A pool of read-only connections with a lower and upper bound, FIFO waiting, an acquire
 * timeout, a health check on release and stats.
 *
 * ```ts
 * await using pool = new ReadPool({ path: 'data/league_analytics.db', flags, max: 4 });
 * const jobs = await pool.query<{ job_id: string }>('SELECT job_id FROM job_log WHERE status = ?', ['failed']);
 * { using lease = await pool.acquire(); lease.db.prepare('SELECT 1').get(); }
 * ```
 */
export class ReadPool implements AsyncDisposable {
  readonly options: ResolvedReadPoolOptions;
  readonly #idle: Database[] = [];
  readonly #inUse = new Set<Database>();
  readonly #waiters: Waiter[] = [];
  #created = 0;
  #destroyed = 0;
  #acquired = 0;
  #timeouts = 0;
  #closing: Promise<void> | undefined;
  #allReleased: (() => void) | undefined;

  /** Opens `min` connections at once, so a wrong path fails here rather than at the first read. */
  constructor(options: ReadPoolOptions) {
    this.options = resolveReadPoolOptions(options);
    try {
      for (let i = 0; i < this.options.min; i++) this.#idle.push(this.#open());
    } catch (error) {
      for (const db of this.#idle.splice(0)) this.#destroy(db);
      throw error;
    }
  }

  /**
   * A connection: an idle one, a new one while fewer than `max` are open, or else the first
   * one released after every earlier waiter was served. Rejects with a `ERR_POOL_TIMEOUT`
   * error naming the pool's state after `acquireTimeoutMs`, with `signal.reason` when aborted,
   * and with a `ClosedError` once the pool is closing.
   */
  async acquire(signal?: AbortSignal): Promise<ReadLease> {
    if (this.#closing) throw new ClosedError('The read pool');
    signal?.throwIfAborted();
    const idle = this.#idle.pop();
    if (idle) return this.#lend(idle);
    if (this.#size < this.options.max) return this.#lend(this.#open());
    return new Promise<ReadLease>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
      };
      const waiter: Waiter = {
        resolve: (lease) => {
          cleanup();
          resolve(lease);
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      };
      const onAbort = (): void => waiter.reject(signal?.reason);
      const timer = setTimeout(() => {
        this.#timeouts++;
        const error = new BackfillError(
          'ERR_POOL_TIMEOUT',
          `Timed out after ${this.options.acquireTimeoutMs} ms waiting for a read connection to ${this.options.path}: ` +
          `the pool has ${this.#inUse.size} in use, ${this.#waiters.length} waiting (max ${this.options.max}). ` +
          'Release leases sooner (use `using` or `query()`), or raise `max` or `acquireTimeoutMs`.',
        );
        this.options.logger.warn({ stats: this.stats() }, 'read connection wait timed out');
        waiter.reject(error);
      }, this.options.acquireTimeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Runs one query on a pooled connection and returns its rows; the connection goes back even when the query fails. */
  async query<T = unknown>(sql: string, params: readonly unknown[] | Readonly<Record<string, unknown>> = [], signal?: AbortSignal): Promise<T[]> {
    const lease = await this.acquire(signal);
    try {
      const statement = lease.db.prepare(sql);
      return (Array.isArray(params) ? statement.all(...(params as unknown[])) : statement.all(params)) as T[];
    } finally {
      lease.release();
    }
  }

  stats(): ReadPoolStats {
    return {
      size: this.#size,
      idle: this.#idle.length,
      inUse: this.#inUse.size,
      waiting: this.#waiters.length,
      created: this.#created,
      destroyed: this.#destroyed,
      acquired: this.#acquired,
      timeouts: this.#timeouts,
    };
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Refuses new acquires, fails the waiting ones with a `ClosedError`, closes idle connections,
   * and waits (up to `acquireTimeoutMs`) for leased ones to come back before closing them too.
   * Safe to call more than once: every call returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  get #size(): number {
    return this.#idle.length + this.#inUse.size;
  }

  async #shutdown(): Promise<void> {
    for (const waiter of [...this.#waiters]) waiter.reject(new ClosedError('The read pool'));
    for (const db of this.#idle.splice(0)) this.#destroy(db);
    if (this.#inUse.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#allReleased = resolve;
        timer = setTimeout(resolve, this.options.acquireTimeoutMs);
      });
      clearTimeout(timer);
      this.#allReleased = undefined;
      if (this.#inUse.size > 0) this.options.logger.warn({ inUse: this.#inUse.size }, 'closing read connections that were not released');
      for (const db of [...this.#inUse]) {
        this.#inUse.delete(db);
        this.#destroy(db);
      }
    }
  }

  #open(): Database {
    const { db } = openDatabase({
      path: this.options.path,
      flags: effectiveFlags(this.options.flags),
      workload: this.options.workload,
      readonly: true,
      busyTimeoutMs: this.options.busyTimeoutMs,
      logger: this.options.logger,
    });
    this.#created++;
    return db;
  }

  #destroy(db: Database): void {
    this.#destroyed++;
    try {
      if (db.open) db.close();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'a read connection failed to close');
    }
  }

  #lend(db: Database): ReadLease {
    this.#inUse.add(db);
    this.#acquired++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.#giveBack(db);
    };
    return { db, release, [Symbol.dispose]: release };
  }

  /** Whether a returned connection can serve the next caller: open, not left in a transaction, and answering. */
  #healthy(db: Database): boolean {
    try {
      if (!db.open || db.inTransaction) return false;
      return db.prepare('SELECT 1 AS ok').get() !== undefined;
    } catch {
      return false;
    }
  }

  #giveBack(db: Database): void {
    this.#inUse.delete(db);
    if (this.#closing) {
      this.#destroy(db);
      if (this.#inUse.size === 0) this.#allReleased?.();
      return;
    }
    let usable: Database | null = db;
    if (!this.#healthy(db)) {
      this.options.logger.warn({ inTransaction: db.open && db.inTransaction, open: db.open }, 'a read connection failed its health check on release; replacing it');
      this.#destroy(db);
      usable = null;
      // Replace it when someone needs it: a waiter now, or to keep `min` open.
      if (this.#waiters.length > 0 || this.#size < this.options.min) {
        try {
          usable = this.#open();
        } catch (error) {
          this.options.logger.error({ err: error }, 'could not open a replacement read connection');
          this.#waiters[0]?.reject(error);
          return;
        }
      }
    }
    if (usable === null) return;
    const next = this.#waiters[0];
    if (next) next.resolve(this.#lend(usable));
    else this.#idle.push(usable);
  }
}

export interface WithReaderOptions {
  /** Read through this pool when given (the `connection_pooling` flag); otherwise a one-shot connection is opened and closed. */
  readonly pool?: ReadPool | undefined;
  /** The database, for the one-shot connection. */
  readonly path: string;
  readonly flags: Flags;
  /** `busy_timeout` of the one-shot connection when `pragma_optimizations` is on. @default 5000 */
  readonly busyTimeoutMs?: number;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
  /** The flags file's workload profile, for the one-shot connection. @default 'mixed' */
  readonly workload?: WorkloadName;
}

/**
 * Runs `fn` with a read-only connection: a pooled one when `pool` is given, else one opened
 * for this call alone and closed after it. The connection is returned or closed even when
 * `fn` throws.
 */
export async function withReader<T>(options: WithReaderOptions, fn: (db: Database) => T | Promise<T>): Promise<T> {
  if (options.pool) {
    const lease = await options.pool.acquire(options.signal);
    try {
      return await fn(lease.db);
    } finally {
      lease.release();
    }
  }
  options.signal?.throwIfAborted();
  const { db } = openDatabase({
    path: options.path,
    flags: options.flags,
    workload: resolveWorkload(options.workload),
    readonly: true,
    ...(options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {}),
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
  });
  try {
    return await fn(db);
  } finally {
    db.close();
  }
}
