import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ReadPool, withReader, type ReadLease, type ReadPoolOptions } from '../src/db/read-pool.js';
import { BackfillError, ClosedError, DatabaseOpenError, InvalidOptionError } from '../src/errors.js';
import { PROFILES } from '../src/flags/index.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('league-backfill-pool-');
const pools: ReadPool[] = [];

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});

function createDatabase(): string {
  const path = join(tempDir(), 'league.db');
  const db = new BetterSqlite3(path);
  db.pragma('journal_mode = WAL');
  db.exec("CREATE TABLE job_log (job_id TEXT PRIMARY KEY, status TEXT); INSERT INTO job_log VALUES ('a', 'completed'), ('b', 'failed')");
  db.close();
  return path;
}

function makePool(options: Partial<ReadPoolOptions> = {}): ReadPool {
  const pool = new ReadPool({ path: createDatabase(), flags: PROFILES.recommended, ...options });
  pools.push(pool);
  return pool;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('ReadPool', () => {
  it('opens min connections at once and grows up to max, then makes callers wait', async () => {
    const pool = makePool({ min: 2, max: 3 });
    expect(pool.stats()).toEqual({ size: 2, idle: 2, inUse: 0, waiting: 0, created: 2, destroyed: 0, acquired: 0, timeouts: 0 });
    const leases = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    expect(pool.stats()).toMatchObject({ size: 3, idle: 0, inUse: 3, created: 3, acquired: 3 });
    const fourth = pool.acquire();
    expect(pool.stats().waiting).toBe(1);
    leases[0]?.release();
    const lease = await fourth;
    expect(lease.db).toBe(leases[0]?.db);
    expect(pool.stats()).toMatchObject({ size: 3, inUse: 3, waiting: 0, created: 3, acquired: 4 });
    for (const l of [lease, leases[1], leases[2]]) l?.release();
    expect(pool.stats()).toMatchObject({ idle: 3, inUse: 0 });
  });

  it('serves waiting callers first come, first served', async () => {
    const pool = makePool({ max: 1 });
    const first = await pool.acquire();
    const order: string[] = [];
    const waiting = ['b', 'c', 'd'].map((name) => pool.acquire().then((lease) => {
      order.push(name);
      return lease;
    }));
    first.release();
    for (const next of waiting) (await next).release();
    expect(order).toEqual(['b', 'c', 'd']);
  });

  it('gives up after acquireTimeoutMs with an error that names the timeout and the pool state', async () => {
    const pool = makePool({ max: 2, acquireTimeoutMs: 100 });
    const busy = [await pool.acquire(), await pool.acquire()];
    const started = performance.now();
    const [first, second] = await Promise.all([rejection(pool.acquire()), rejection(pool.acquire())]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
    expect(first).toBeInstanceOf(BackfillError);
    expect(first).toMatchObject({ code: 'ERR_POOL_TIMEOUT' });
    expect((first as Error).message).toMatch(/^Timed out after 100 ms waiting for a read connection to .*league\.db: the pool has 2 in use, 2 waiting \(max 2\)\./);
    expect((second as Error).message).toContain('2 in use, 1 waiting');
    expect(pool.stats()).toMatchObject({ inUse: 2, waiting: 0, timeouts: 2 });
    for (const lease of busy) lease.release();
  });

  it('stops waiting when the signal aborts, with its reason', async () => {
    const pool = makePool({ max: 1 });
    const lease = await pool.acquire();
    const controller = new AbortController();
    const waiting = rejection(pool.acquire(controller.signal));
    controller.abort(new Error('caller gave up'));
    expect(await waiting).toMatchObject({ message: 'caller gave up' });
    expect(pool.stats().waiting).toBe(0);
    lease.release();
    await expect(pool.acquire(AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
  });

  it('checks each connection as it comes back and replaces one that is closed or left in a transaction', async () => {
    const pool = makePool({ min: 1, max: 1 });
    const broken = await pool.acquire();
    broken.db.close();
    broken.release();
    expect(pool.stats()).toMatchObject({ size: 1, idle: 1, created: 2, destroyed: 1 });

    const inTransaction = await pool.acquire();
    expect(inTransaction.db).not.toBe(broken.db);
    inTransaction.db.exec('BEGIN');
    inTransaction.db.prepare('SELECT count(*) FROM job_log').get();
    inTransaction.release();
    expect(pool.stats()).toMatchObject({ size: 1, created: 3, destroyed: 2 });
    expect(inTransaction.db.open).toBe(false);

    // A waiter gets the replacement of a broken connection.
    const held = await pool.acquire();
    const waiter = pool.acquire();
    held.db.close();
    held.release();
    const replacement = await waiter;
    expect(replacement.db.prepare('SELECT count(*) AS n FROM job_log').get()).toEqual({ n: 2 });
    replacement.release();
    replacement.release(); // a second release does nothing
    expect(pool.stats()).toMatchObject({ size: 1, inUse: 0, idle: 1 });
  });

  it('lends read-only connections: a write through the pool is refused', async () => {
    const pool = makePool();
    const lease = await pool.acquire();
    try {
      expect(() => lease.db.exec("INSERT INTO job_log VALUES ('c', 'queued')")).toThrow(/readonly|query_only|read-only/i);
    } finally {
      lease.release();
    }
  });

  it('query() returns rows and gives the connection back, also when the query fails', async () => {
    const pool = makePool({ max: 1 });
    expect(await pool.query<{ job_id: string }>('SELECT job_id FROM job_log WHERE status = ?', ['failed'])).toEqual([{ job_id: 'b' }]);
    expect(await pool.query('SELECT job_id FROM job_log WHERE status = @status', { status: 'completed' })).toEqual([{ job_id: 'a' }]);
    await expect(pool.query('SELECT nope FROM job_log')).rejects.toThrow(/no such column/);
    expect(pool.stats()).toMatchObject({ inUse: 0, idle: 1, acquired: 3 });
  });

  it('releases a lease at the end of a `using` block', async () => {
    const pool = makePool({ max: 1 });
    let leased: ReadLease | undefined;
    {
      using lease = await pool.acquire();
      leased = lease;
      expect(pool.stats().inUse).toBe(1);
    }
    expect(leased).toBeDefined();
    expect(pool.stats()).toMatchObject({ inUse: 0, idle: 1 });
  });

  it('closes once: waiters fail with ClosedError, leased connections close when returned, and acquire throws after', async () => {
    const pool = makePool({ max: 1, acquireTimeoutMs: 5000 });
    const lease = await pool.acquire();
    const waiter = rejection(pool.acquire());
    const closing = pool.close();
    expect(pool.close()).toBe(closing);
    const error = await waiter;
    expect(error).toBeInstanceOf(ClosedError);
    expect(error).toMatchObject({ code: 'ERR_CLOSED', message: 'The read pool is closed; create a new one to continue' });
    lease.release();
    await closing;
    expect(lease.db.open).toBe(false);
    expect(pool.stats()).toMatchObject({ size: 0, idle: 0, inUse: 0, waiting: 0 });
    await expect(pool.acquire()).rejects.toBeInstanceOf(ClosedError);
    await pool[Symbol.asyncDispose]();
  });

  it('rejects bad options by name, and a database that does not exist', () => {
    const path = createDatabase();
    expect(() => new ReadPool({ path, flags: PROFILES.recommended, maxSize: 3 } as ReadPoolOptions)).toThrow(InvalidOptionError);
    expect(() => new ReadPool({ path, flags: PROFILES.recommended, maxSize: 3 } as ReadPoolOptions)).toThrow(/`maxSize` is not an option of ReadPool/);
    expect(() => new ReadPool({ path, flags: PROFILES.recommended, min: 3, max: 2 })).toThrow('Expected `min` to be at most `max` (2), got 3 (number)');
    expect(() => new ReadPool({ path, flags: PROFILES.recommended, max: 0 })).toThrow('Expected `max` to be an integer from 1 to 64, got 0 (number)');
    expect(() => new ReadPool({ path: join(tempDir(), 'missing.db'), flags: PROFILES.recommended })).toThrow(DatabaseOpenError);
  });
});

describe('withReader', () => {
  it('reads through the pool when one is given', async () => {
    const pool = makePool();
    const n = await withReader({ pool, path: pool.options.path, flags: PROFILES.recommended }, (db) => db.prepare('SELECT count(*) FROM job_log').pluck().get());
    expect(n).toBe(2);
    expect(pool.stats()).toMatchObject({ acquired: 1, inUse: 0 });
  });

  it('opens a one-shot read-only connection otherwise, and closes it even when the function throws', async () => {
    const path = createDatabase();
    let seen: BetterSqlite3.Database | undefined;
    await expect(withReader({ path, flags: PROFILES.baseline }, (db) => {
      seen = db;
      expect(db.readonly).toBe(true);
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect(seen?.open).toBe(false);
  });
});
