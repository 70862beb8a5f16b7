import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { WAITED_CODE, withLockRetry, type LockMet } from '../src/db/locking/lock-retry.js';
import { LockWaitLog, runWithLock } from '../src/db/locking/operation-lock.js';
import type { RetryPolicy } from '../src/db/locking/retry-policy.js';
import { DatabaseLockedError } from '../src/errors.js';
import { createEngine, demoSource, PROFILES } from '../dist/src/index.js';
import { holdWriteLock } from './helpers/processes.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();
const SRC = fileURLToPath(new URL('../src/', import.meta.url));
const EVEN: RetryPolicy = { attempts: 10, initialDelayMs: 100, factor: 1, maxDelayMs: 100, jitter: 0 };

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []);
}

function database(busyTimeoutMs: number): { path: string; db: Database.Database } {
  const path = join(tempDir(), 'league.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)');
  return { path, db };
}

describe('the one lock-retry loop', () => {
  it('is the only retry loop in the source: one module uses p-retry and computes backoff delays', () => {
    const users = sourceFiles(SRC)
      .filter((file) => /from 'p-retry'|retryDelayMs\(/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(SRC, file))
      .filter((file) => file !== 'db/locking/retry-policy.ts'); // where retryDelayMs is defined
    expect(users).toEqual(['db/locking/lock-retry.ts']);
  });

  it('retries an attempt that meets another process\'s lock, and counts each lock and the time waited', async () => {
    const { path, db } = database(50);
    const held = await holdWriteLock(path, 500);
    const locks: LockMet[] = [];
    const started = performance.now();
    const outcome = await withLockRetry({
      policy: EVEN, waitThresholdMs: 1000, onLock: (lock) => locks.push(lock),
      exhausted: () => new Error('should not run out'),
    }, (attempt) => {
      db.exec('BEGIN IMMEDIATE');
      const taken = attempt.locked();
      db.prepare('INSERT INTO notes (text) VALUES (?)').run(`attempt ${attempt.number}`);
      db.exec('COMMIT');
      return taken;
    });
    const elapsed = performance.now() - started;
    await held.released;
    expect(outcome.attempts).toBeGreaterThanOrEqual(3);
    expect(outcome.locks).toBe(outcome.attempts - 1);
    expect(locks.map((lock) => lock.attempt)).toEqual(Array.from({ length: outcome.locks }, (_, index) => index + 1));
    expect(locks.every((lock) => lock.code === 'SQLITE_BUSY' && lock.retrying && lock.delayMs === 100)).toBe(true);
    // Waiting is everything from the start until the lock was taken: busy waits and delays.
    expect(outcome.waitMs).toBeGreaterThan(400);
    expect(outcome.waitMs).toBeLessThanOrEqual(elapsed);
    // What the attempt was told when it got the lock is the operation's figures so far.
    expect(outcome.value.locks).toBe(outcome.locks);
    expect(outcome.value.waitMs).toBeCloseTo(outcome.waitMs, 0);
    expect(db.prepare('SELECT text FROM notes').all()).toEqual([{ text: `attempt ${outcome.attempts}` }]);
    db.close();
  });

  it('counts a lock that SQLite\'s busy handler waited out, with no error raised', async () => {
    const { path, db } = database(2000);
    const held = await holdWriteLock(path, 300);
    const locks: LockMet[] = [];
    const outcome = await withLockRetry({ policy: EVEN, waitThresholdMs: 50, onLock: (lock) => locks.push(lock), exhausted: () => new Error('no') }, (attempt) => {
      db.exec('BEGIN IMMEDIATE');
      attempt.locked();
      db.exec('COMMIT');
    });
    await held.released;
    expect(outcome.attempts).toBe(1);
    expect(locks).toHaveLength(1);
    expect(locks[0]).toMatchObject({ attempt: 1, code: WAITED_CODE, retrying: false, delayMs: 0 });
    expect(locks[0]!.attemptWaitMs).toBeGreaterThan(200);
    expect(outcome.waitMs).toBe(locks[0]!.attemptWaitMs);
  });

  it('throws anything but a lock error at once, as it is, after one attempt', async () => {
    let attempts = 0;
    const failure = new TypeError('not a lock');
    const error = await withLockRetry({ policy: EVEN, waitThresholdMs: 50, exhausted: () => new Error('no') }, () => {
      attempts++;
      throw failure;
    }).catch((e: unknown) => e);
    expect(error).toBe(failure);
    expect(attempts).toBe(1);
  });

  it('once the attempts run out, throws what `exhausted` makes of the failure, with every attempt counted', async () => {
    const { path, db } = database(20);
    const held = await holdWriteLock(path, 1500);
    const policy: RetryPolicy = { attempts: 3, initialDelayMs: 50, factor: 1, maxDelayMs: 50, jitter: 0 };
    const error = await withLockRetry({
      policy, waitThresholdMs: 1000,
      exhausted: (failure) => Object.assign(new Error(`gave up after ${failure.attempts}`), { failure }),
    }, () => db.exec('BEGIN IMMEDIATE')).then(
      () => { throw new Error('the lock was expected to outlast every attempt'); },
      (e: unknown) => e as Error & { failure: { attempts: number; locks: number; waitMs: number; lastError: Error } },
    );
    held.process.kill();
    await held.released.catch(() => undefined);
    expect(error.message).toBe('gave up after 3');
    expect(error.failure).toMatchObject({ attempts: 3, locks: 3 });
    expect((error.failure.lastError as Error & { code?: string }).code).toBe('SQLITE_BUSY');
    // Two delays of 50 ms and three busy waits of 20 ms.
    expect(error.failure.waitMs).toBeGreaterThan(140);
    db.close();
  });

  it('the writer and a maintenance step count the same hold by another process alike', async () => {
    const db = join(tempDir(), 'league.db');
    await using engine = await createEngine({
      database: db, source: demoSource({ seed: 1 }), flags: PROFILES.recommended, busyTimeoutMs: 100, retry: EVEN,
    });
    await engine.submit({ sql: 'CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)' });
    let writerLocks = 0;
    engine.on('lock', () => { writerLocks++; });
    let held = await holdWriteLock(db, 700);
    await engine.submit({ sql: 'INSERT INTO notes (text) VALUES (?)', params: [['from the writer']] });
    await held.released;
    const writerWaitMs = engine.totals.totalRetryTime * 1000;

    const maintenance = new Database(db);
    maintenance.pragma('busy_timeout = 100');
    const log = new LockWaitLog();
    held = await holdWriteLock(db, 700);
    await runWithLock(maintenance, { operation: 'note', mode: 'transaction', retry: EVEN, waitThresholdMs: 50, log }, () => {
      maintenance.prepare('INSERT INTO notes (text) VALUES (?)').run('from maintenance');
    });
    await held.released;
    maintenance.close();
    const summary = log.summary();
    // Each attempt is a 100 ms busy wait and a 100 ms delay: about four locks for a 700 ms hold,
    // and the whole hold counted as waiting, by both.
    expect(writerLocks).toBeGreaterThanOrEqual(3);
    expect(Math.abs(summary.count - writerLocks)).toBeLessThanOrEqual(1);
    for (const waited of [writerWaitMs, summary.totalMs]) {
      expect(waited).toBeGreaterThan(550);
      expect(waited).toBeLessThan(1200);
    }
  });

  it('a maintenance step that stays locked out fails with DatabaseLockedError naming the operation', async () => {
    const { path, db } = database(20);
    const held = await holdWriteLock(path, 1500);
    const log = new LockWaitLog();
    const error = await runWithLock(db, { operation: 'analyze', mode: 'transaction', retry: { ...EVEN, attempts: 2, initialDelayMs: 20, maxDelayMs: 20 }, waitThresholdMs: 50, log }, () => db.exec('ANALYZE'))
      .catch((e: unknown) => e);
    held.process.kill();
    await held.released.catch(() => undefined);
    expect(error).toBeInstanceOf(DatabaseLockedError);
    expect((error as Error).message).toMatch(/^analyze: the database stayed locked by another process through 2 attempts/);
    expect(log.summary().count).toBe(2);
    db.close();
  });
});
