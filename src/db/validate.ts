/**
 * The pre-deployment checklist: what must hold on this machine and in this folder before the
 * stability settings are turned on. Each check says what it found and, when it fails, why
 * that matters and what to do.
 */
import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { effectiveFlags, loadFlags, type Flags } from '../flags/index.js';
import { DEFAULT_RETRY_POLICY, worstCaseDelayMs } from './locking/retry-policy.js';
import type { RetryPolicy } from './locking/retry-policy.js';
import { checkDatabasePath } from './open.js';
import { fileSystemOf } from './filesystem.js';
import { findProcessesWithDatabase } from './processes.js';
import { bundledSqliteVersion, describeWalResetStatus, isAffectedByWalResetBug, parseSqliteVersionStrict } from './sqlite-version.js';

export interface ValidationCheck {
  name: string;
  ok: boolean;
  /** A failed required check makes the whole validation fail; others are warnings. */
  required: boolean;
  detail: string;
}

export interface ValidationReport {
  ok: boolean;
  database: string;
  flagsFile: string;
  sqliteVersion: string;
  nodeVersion: string;
  checks: ValidationCheck[];
}

export interface ValidateOptions {
  databasePath: string;
  flagsPath: string;
  retry?: RetryPolicy;
  busyTimeoutMs?: number;
  /** The longest a locked operation may take before it fails, all retries included. @default 60000 */
  maxRetryDelayMs?: number;
  /**
   * Whether the database's folder will be created when missing, as the engine's `createFolder`
   * (the CLI creates it only for the default path): when false, a missing folder fails the check,
   * as the backfill would. @default true
   */
  createFolder?: boolean;
  /** The SQLite version to judge (tests inject one). @default the bundled SQLite */
  sqliteVersion?: string;
}

const MIN_SQLITE = [3, 8, 2] as const;
const MIN_NODE_MAJOR = 20;

export async function validateEnvironment(options: ValidateOptions): Promise<ValidationReport> {
  const checks: ValidationCheck[] = [];
  const add = (name: string, ok: boolean, required: boolean, detail: string): void => void checks.push({ name, ok, required, detail });

  const sqliteVersion = parseSqliteVersionStrict(options.sqliteVersion ?? bundledSqliteVersion(), 'sqliteVersion').text;
  const sqliteOk = compareVersions(sqliteVersion.split('.').map(Number), MIN_SQLITE) >= 0;
  add('sqlite version', sqliteOk, true, `SQLite ${sqliteVersion} (bundled with better-sqlite3); at least ${MIN_SQLITE.join('.')} is needed for WAL and BEGIN IMMEDIATE`);

  const nodeMajor = Number(process.versions.node.split('.')[0]);
  add('node version', nodeMajor >= MIN_NODE_MAJOR, true, `Node ${process.versions.node}; at least ${MIN_NODE_MAJOR} is needed`);

  let flags: Flags | null = null;
  try {
    const state = await loadFlags(options.flagsPath);
    flags = effectiveFlags(state.flags);
    const workload = state.workload === 'mixed' ? '' : `; workload ${state.workload}${flags.pragma_optimizations ? '' : ' (not applied while pragma_optimizations is off)'}`;
    add('flags file', true, true, `${state.exists ? `${options.flagsPath} is valid` : `${options.flagsPath} does not exist: the recommended profile applies`}${workload}`);
  } catch (error) {
    add('flags file', false, true, (error as Error).message);
  }
  const walWanted = flags?.wal_mode ?? true;

  // The WAL-reset bug loses committed writes only in WAL mode: required when WAL is wanted.
  const affected = isAffectedByWalResetBug(sqliteVersion);
  add('wal-reset bug', !affected, walWanted, affected
    ? `${describeWalResetStatus(sqliteVersion)}${walWanted ? '; the engine refuses to start with wal_mode on' : '; wal_mode is off, so it cannot strike'}`
    : describeWalResetStatus(sqliteVersion));

  const databasePath = resolve(options.databasePath);
  const folder = nearestExistingFolder(dirname(databasePath));
  const missingFolder = folder !== dirname(databasePath);

  try {
    if (existsSync(databasePath)) checkDatabasePath(options.databasePath);
    else if (missingFolder && options.createFolder === false) checkDatabasePath(options.databasePath, { createFolder: false });
    add('database file', true, true, existsSync(databasePath) ? `${options.databasePath} is a SQLite database` : `${options.databasePath} will be created`);
  } catch (error) {
    add('database file', false, true, (error as Error).message);
  }

  const fs = fileSystemOf(folder);
  if (fs.networkName) {
    add('file system', !walWanted, walWanted, `${folder} is on ${fs.networkName}: WAL needs shared memory and file locks that network and user-space file systems do not provide reliably; keep the database on a local disk, or turn wal_mode off`);
  } else {
    add('file system', true, true, `${folder} is on a local file system${fs.type !== null ? ` (type 0x${(fs.type >>> 0).toString(16)})` : ''}`);
  }

  const writable = probeWrite(folder);
  add('write permission', writable === null, true, writable === null
    ? `created and removed a probe file in ${folder}${missingFolder && options.createFolder !== false ? ` (the folder ${dirname(options.databasePath)} will be created in it)` : ''}`
    : `cannot write in ${folder}: ${writable}. The database, its -wal and -shm files and the flags file are written there; fix the folder's permissions or choose another --db`);

  const databaseBytes = existsSync(databasePath) ? statSync(databasePath).size + walSize(databasePath) : 0;
  if (fs.freeBytes === null) {
    add('free disk space', false, false, 'could not read the free space of the file system');
  } else {
    const needed = Math.max(2 * databaseBytes, 16 * 1024 * 1024);
    add('free disk space', fs.freeBytes >= needed, true,
      `${formatBytes(fs.freeBytes)} free; at least twice the database (${formatBytes(databaseBytes)}) is needed for VACUUM and backups${fs.freeBytes >= needed ? '' : ': free some space first'}`);
  }

  if (writable === null) {
    const wal = probeSqlite(folder);
    add('wal support', wal.wal === 'wal', walWanted, wal.wal === 'wal' ? 'SQLite took journal_mode=WAL in this folder' : `SQLite refused WAL in this folder (journal_mode=${wal.wal})`);
    add('mmap', wal.mmap > 0, flags?.aggressive_caching ?? false, wal.mmap > 0 ? `memory-mapped I/O works (mmap_size read back ${formatBytes(wal.mmap)})` : 'SQLite did not take mmap_size here; aggressive_caching would fall back to ordinary reads');
  }

  if (existsSync(databasePath)) {
    const others = findProcessesWithDatabase(databasePath, { excludeSelf: true });
    const risky = others.filter((other) => other.sqlite?.version != null && isAffectedByWalResetBug(other.sqlite.version));
    add('other processes', risky.length === 0, false, others.length === 0
      ? 'no other process has the database open'
      : risky.length === 0
        ? `${others.length} other process${others.length === 1 ? ' has' : 'es have'} the database open (pid ${others.map((o) => o.pid).join(', ')}); none with a SQLite known to have the WAL-reset bug`
        : risky.map((o) => `pid ${o.pid} (${o.command.replace(/\s+/g, ' ') || 'command unknown'}) has the database open, and its ${describeWalResetStatus(o.sqlite?.version ?? '')}`).join('; '));
  }

  const policy = flags?.retry_logic === false ? { ...DEFAULT_RETRY_POLICY, attempts: 1 } : options.retry ?? DEFAULT_RETRY_POLICY;
  const busyTimeoutMs = flags?.pragma_optimizations === false ? 0 : options.busyTimeoutMs ?? 5000;
  const worst = worstCaseDelayMs(policy, busyTimeoutMs);
  const limit = options.maxRetryDelayMs ?? 60_000;
  add('retry policy', worst.totalMs <= limit, true,
    `${policy.attempts} attempts: worst case ${(worst.totalMs / 1000).toFixed(2)} s before a locked batch fails ` +
    `(${(worst.backoffMs / 1000).toFixed(2)} s backoff + ${(worst.lockWaitMs / 1000).toFixed(1)} s busy_timeout); limit ${(limit / 1000).toFixed(0)} s`);

  return {
    ok: checks.every((check) => check.ok || !check.required),
    database: options.databasePath,
    flagsFile: options.flagsPath,
    sqliteVersion,
    nodeVersion: process.versions.node,
    checks,
  };
}

function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

function nearestExistingFolder(folder: string): string {
  let current = folder;
  while (!existsSync(current)) {
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  return current;
}

function probeWrite(folder: string): string | null {
  const probe = join(folder, `.league-backfill-probe-${process.pid}-${Date.now()}`);
  try {
    writeFileSync(probe, 'probe');
    rmSync(probe);
    return null;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
}

/** Opens a scratch database in the folder to see what SQLite really does there. */
function probeSqlite(folder: string): { wal: string; mmap: number } {
  const path = join(folder, `.league-backfill-probe-${process.pid}-${Date.now()}.db`);
  try {
    const db = new BetterSqlite3(path);
    try {
      const wal = String(db.pragma('journal_mode = WAL', { simple: true }));
      db.exec('CREATE TABLE probe (x); INSERT INTO probe VALUES (1)');
      db.pragma('mmap_size = 268435456');
      const mmap = Number(db.pragma('mmap_size', { simple: true }) ?? 0);
      db.prepare('SELECT count(*) FROM probe').get();
      return { wal, mmap };
    } finally {
      db.close();
    }
  } catch (error) {
    return { wal: `error: ${(error as Error).message}`, mmap: 0 };
  } finally {
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${path}${suffix}`, { force: true });
  }
}

function walSize(databasePath: string): number {
  try {
    return statSync(`${databasePath}-wal`).size;
  } catch {
    return 0;
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
