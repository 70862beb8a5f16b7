import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const HELPERS = fileURLToPath(new URL('.', import.meta.url));

export interface HeldLock {
  process: ChildProcess;
  /** Resolves when the holder has released the lock and exited. */
  released: Promise<void>;
}

/**
 * Starts a separate process that takes the write lock of `db` (BEGIN IMMEDIATE) and holds it
 * for `holdMs`, `repeat` times with `gapMs` between; resolves once the lock is held.
 */
export async function holdWriteLock(db: string, holdMs: number, repeat = 1, gapMs = 0): Promise<HeldLock> {
  const child = spawn(process.execPath, [`${HELPERS}lock-holder.mjs`, db, String(holdMs), String(repeat), String(gapMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  const released = new Promise<void>((resolve, reject) => {
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`lock holder exited ${code}: ${stderr}`))));
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (chunk.includes('locked')) resolve();
    });
    released.catch(reject);
  });
  return { process: child, released };
}

export interface ReaderReport {
  queries: number;
  errors: number;
  messages: string[];
}

/** Starts a reader process running analytics queries for `durationMs`; resolves with its report. */
export function startReader(db: string, durationMs: number): Promise<ReaderReport> {
  const child = spawn(process.execPath, [`${HELPERS}reader.mjs`, db, String(durationMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  return new Promise((resolve, reject) => {
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`reader exited ${code}: ${stderr}`));
      else resolve(JSON.parse(stdout) as ReaderReport);
    });
  });
}

export interface TableState {
  rows: number;
  distinctKeys: number;
  /** Sorted `transaction_key|player_id` list. */
  keys: string[];
  integrity: string;
  statuses: Record<string, number>;
}

/** Reads what a backfill left, through a fresh read-only connection. */
export function readTable(path: string): TableState {
  const db = new Database(path, { readonly: true });
  try {
    const keys = (db.prepare("SELECT transaction_key || '|' || player_id AS k FROM transactions ORDER BY 1").pluck().all() as string[]);
    const distinctKeys = (db.prepare('SELECT count(*) FROM (SELECT DISTINCT transaction_key, player_id FROM transactions)').pluck().get() as number);
    const integrity = String(db.pragma('integrity_check', { simple: true }));
    const statuses = Object.fromEntries((db.prepare('SELECT status, count(*) AS n FROM job_log GROUP BY status').all() as Array<{ status: string; n: number }>).map((r) => [r.status, r.n]));
    return { rows: keys.length, distinctKeys, keys, integrity, statuses };
  } finally {
    db.close();
  }
}

/** Polls until `predicate` holds (reading the database from outside), or fails after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Rows committed so far, read from another connection; 0 while the file or table is not there yet. */
export function committedRows(path: string): number {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return db.prepare('SELECT count(*) FROM transactions').pluck().get() as number;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}
