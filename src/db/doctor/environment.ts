/**
 * What `doctor` looks at, gathered once: the database and its files, the WAL index, who holds
 * or waits for locks (sampled a few times, so a lock held for a moment is told from one held
 * for long), the processes that have the file open and their SQLite, the writer's records, the
 * flags and workload and the settings a connection really gets with them, the file system,
 * free space and the SQLite version. Reads only: read-only connections, /proc, the files.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { applyWorkloadPragmas, DEFAULT_FLAGS, effectiveFlags, loadFlags, planWorkload, type Flags, type WorkloadName, type WorkloadPlan } from '../../flags/index.js';
import { silentLogger, type Logger } from '../../logger.js';
import { fileSystemOf, type FileSystemInfo } from '../filesystem.js';
import { findLockHolders, parseProcLocks, splitDevice, type LockHolder } from '../locking/lock-holders.js';
import { openDatabase } from '../open.js';
import { findLeaseHolders, findProcessesWithDatabase, readCommandLine, type LeaseHolder, type OpenProcess } from '../processes.js';
import { resolveTableNames, tableExists, type TableNames } from '../schema.js';
import { bundledSqliteVersion, isAffectedByWalResetBug, parseSqliteVersionStrict } from '../sqlite-version.js';
import { readWalIndex, type WalIndexHeader } from './wal-index.js';
import {
  readMetricMinutes, readRecentAlerts, readRecordedLockHolders, readWalPin, readWriterRecord,
  type MetricMinute, type RecordedLockHolder, type StoredAlert, type WalPin, type WriterRecord,
} from '../writer-records.js';

/** A lock seen in the samples: the holder, and in how many of the samples it was held. */
export interface SampledLock extends LockHolder {
  /** Samples in which this pid held this lock. */
  seen: number;
  samples: number;
}

/** A process blocked in the kernel waiting for a lock on the file (a `->` line of /proc/locks). */
export interface LockWaiter {
  pid: number;
  command: string;
  file: 'db' | 'shm';
  type: string;
  start: number;
  end: number | null;
}

/** What a connection opened with these flags and this workload really gets (read back from SQLite). */
export interface EngineSettings {
  /** The engine's busy timeout: 5000 ms with pragma_optimizations, 0 (fail at once) without. */
  busyTimeoutMs: number;
  /** Read back on a read-only connection opened with the flags and the workload. */
  readBack: { synchronous: number; cacheSize: number; mmapSize: number; tempStore: number; busyTimeoutMs: number } | null;
  /** What the workload adds, and why something of it is not applied. */
  workload: WorkloadPlan;
  warnings: string[];
}

/** The writer's figures over the last minutes. */
export interface RecentMetrics {
  /** Minutes looked at (the window), and how many of them the writer recorded. */
  windowMinutes: number;
  minutesRecorded: number;
  transactions: number;
  batches: number;
  failedBatches: number;
  locks: number;
  locksPerMinute: number;
  lockWaitMs: number;
  maxHoldMs: number;
  /** Schema-2 figures; null on older databases. */
  checkpoints: number | null;
  checkpointsBlocked: number | null;
  neighbourCommits: number | null;
  /** max_wal_bytes per minute, oldest first (for the trend), null entries where not recorded. */
  walBytesByMinute: Array<number | null>;
}

export interface DoctorEnvironment {
  database: string;
  exists: boolean;
  databaseBytes: number;
  walBytes: number;
  shmBytes: number;
  /** The journal mode in force (from the file); null when it could not be read. */
  journalMode: string | null;
  /** Why the database could not be read, when it could not. */
  readError: string | null;
  walIndex: WalIndexHeader | null;
  fileSystem: FileSystemInfo;
  folder: string;
  folderWritable: boolean;
  /** The -wal and -shm files: whether this user may write them (needed to read a WAL database). */
  walFilesWritable: boolean;
  flagsFile: string;
  flags: Flags;
  flagsError: string | null;
  workload: WorkloadName;
  engine: EngineSettings;
  sqliteVersion: string;
  sqliteAffected: boolean;
  lockHolders: SampledLock[];
  lockWaiters: LockWaiter[];
  processes: OpenProcess[];
  leaseHolders: LeaseHolder[];
  writer: WriterRecord | null;
  walPin: WalPin | null;
  recentAlerts: StoredAlert[];
  recentMetrics: RecentMetrics | null;
  recordedLockHolders: RecordedLockHolder[];
}

export interface GatherOptions {
  readonly path: string;
  readonly flagsPath: string;
  /** How long to sample /proc/locks, and how many samples. */
  readonly sampleMs: number;
  readonly samples: number;
  /** Minutes of writer figures to look at. */
  readonly windowMinutes: number;
  readonly sqliteVersion?: string | undefined;
  readonly tables?: Partial<TableNames> | undefined;
  readonly logger?: Logger | undefined;
  readonly signal?: AbortSignal | undefined;
}

function size(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Lock holders sampled `samples` times over `sampleMs`: how often each pid held each lock. */
async function sampleLocks(path: string, samples: number, sampleMs: number, signal?: AbortSignal): Promise<SampledLock[]> {
  const seen = new Map<string, SampledLock>();
  for (let i = 0; i < samples; i++) {
    const taken = new Set<string>();
    for (const holder of findLockHolders(path)) {
      if (holder.self) continue;
      const key = `${holder.pid}\0${holder.file}\0${holder.lock}`;
      if (taken.has(key)) continue;
      taken.add(key);
      const entry = seen.get(key);
      if (entry === undefined) seen.set(key, { ...holder, seen: 1, samples });
      else entry.seen++;
    }
    if (i < samples - 1) await sleep(sampleMs / Math.max(1, samples - 1), undefined, signal ? { signal } : {});
  }
  return [...seen.values()];
}

/** Processes blocked in the kernel on a lock of the database or its -shm (SQLite itself polls, so these are other tools: fcntl-blocking scripts, `flock`). */
function lockWaiters(path: string): LockWaiter[] {
  if (process.platform !== 'linux') return [];
  try {
    const targets: Array<['db' | 'shm', bigint, number, number]> = [];
    for (const [file, name] of [['db', path], ['shm', `${path}-shm`]] as const) {
      if (!existsSync(name)) continue;
      const stats = statSync(name, { bigint: true });
      const { major, minor } = splitDevice(stats.dev);
      targets.push([file, stats.ino, major, minor]);
    }
    const waiting: LockWaiter[] = [];
    for (const line of parseProcLocks(readFileSync('/proc/locks', 'utf8'))) {
      if (!line.waiting) continue;
      const target = targets.find(([, ino, major, minor]) => ino === line.inode && major === line.major && minor === line.minor);
      if (target === undefined || line.pid === process.pid) continue;
      waiting.push({ pid: line.pid, command: readCommandLine(line.pid), file: target[0], type: line.type, start: line.start, end: line.end });
    }
    return waiting;
  } catch {
    return [];
  }
}

function recentMetrics(minutes: MetricMinute[], windowMinutes: number, nowMs: number): RecentMetrics {
  const current = Math.floor(nowMs / 60_000);
  const sum = (pick: (m: MetricMinute) => number): number => minutes.reduce((total, m) => total + pick(m), 0);
  const maybe = (pick: (m: MetricMinute) => number | null): number | null => (minutes.some((m) => pick(m) !== null) ? sum((m) => pick(m) ?? 0) : null);
  const byMinute = new Map(minutes.map((m) => [m.minute, m.maxWalBytes]));
  const walBytesByMinute: Array<number | null> = [];
  for (let minute = current - windowMinutes + 1; minute <= current; minute++) walBytesByMinute.push(byMinute.get(minute) ?? null);
  const locks = sum((m) => m.locks);
  return {
    windowMinutes,
    minutesRecorded: minutes.length,
    transactions: sum((m) => m.transactions),
    batches: sum((m) => m.batches),
    failedBatches: sum((m) => m.failedBatches),
    locks,
    locksPerMinute: Math.round((locks / windowMinutes) * 100) / 100,
    lockWaitMs: Math.round(sum((m) => m.lockWaitMs)),
    maxHoldMs: Math.round(Math.max(0, ...minutes.map((m) => m.maxHoldMs)) * 10) / 10,
    checkpoints: maybe((m) => m.checkpoints),
    checkpointsBlocked: maybe((m) => m.checkpointsBlocked),
    neighbourCommits: maybe((m) => m.neighbourCommits),
    walBytesByMinute,
  };
}

/** Gathers everything the findings judge. Never throws for the state of the database; bad options throw. */
export async function gatherEnvironment(options: GatherOptions): Promise<DoctorEnvironment> {
  const logger = options.logger ?? silentLogger();
  const tables = resolveTableNames(options.tables);
  const sqliteVersion = parseSqliteVersionStrict(options.sqliteVersion ?? bundledSqliteVersion(), 'sqliteVersion').text;
  const path = resolve(options.path);
  const folder = dirname(path);
  const exists = existsSync(path);

  let flags: Flags;
  let workload: WorkloadName = 'mixed';
  let flagsError: string | null = null;
  try {
    const state = await loadFlags(options.flagsPath);
    flags = state.flags;
    workload = state.workload;
  } catch (error) {
    flagsError = (error as Error).message;
    flags = DEFAULT_FLAGS;
  }
  const effective = effectiveFlags(flags);

  const environment: DoctorEnvironment = {
    database: options.path,
    exists,
    databaseBytes: size(path),
    walBytes: size(`${path}-wal`),
    shmBytes: size(`${path}-shm`),
    journalMode: null,
    readError: null,
    walIndex: null,
    fileSystem: fileSystemOf(existsSync(folder) ? folder : dirname(folder)),
    folder,
    folderWritable: writable(folder),
    walFilesWritable: [`${path}-wal`, `${path}-shm`].every((file) => !existsSync(file) || writable(file)),
    flagsFile: options.flagsPath,
    flags,
    flagsError,
    workload,
    engine: {
      busyTimeoutMs: effective.pragma_optimizations ? 5000 : 0,
      readBack: null,
      workload: planWorkload(workload, { flags, walOn: effective.wal_mode }),
      warnings: [],
    },
    sqliteVersion,
    sqliteAffected: isAffectedByWalResetBug(sqliteVersion),
    lockHolders: [],
    lockWaiters: [],
    processes: [],
    leaseHolders: [],
    writer: null,
    walPin: null,
    recentAlerts: [],
    recentMetrics: null,
    recordedLockHolders: [],
  };
  if (!exists) return environment;

  try {
    // A connection as the engine's readers get it: the flags' pragmas, then the workload's, read back.
    const opened = openDatabase({ path, flags, readonly: true, logger });
    const { db } = opened;
    try {
      db.pragma('busy_timeout = 2000');
      environment.journalMode = String(db.pragma('journal_mode', { simple: true })).toLowerCase();
      const applied = applyWorkloadPragmas(db, { workload, flags, readonly: true });
      environment.engine.readBack = {
        synchronous: Number(db.pragma('synchronous', { simple: true })),
        cacheSize: Number(db.pragma('cache_size', { simple: true })),
        mmapSize: Number(db.pragma('mmap_size', { simple: true }) ?? 0),
        tempStore: Number(db.pragma('temp_store', { simple: true })),
        busyTimeoutMs: opened.settings.busyTimeoutMs,
      };
      environment.engine.warnings = [...opened.settings.warnings, ...applied.warnings];
      const nowMs = Date.now();
      const since = Math.floor(nowMs / 60_000) - options.windowMinutes + 1;
      environment.recentMetrics = tableExists(db, tables.writerMetrics)
        ? recentMetrics(readMetricMinutes(db, tables.writerMetrics, since), options.windowMinutes, nowMs)
        : null;
      environment.recordedLockHolders = readRecordedLockHolders(db, since);
      environment.writer = readWriterRecord(db);
      environment.walPin = readWalPin(db);
      environment.recentAlerts = readRecentAlerts(db, nowMs - options.windowMinutes * 60_000);
    } finally {
      db.close();
    }
  } catch (error) {
    environment.readError = (error as Error).message;
  }
  environment.walIndex = readWalIndex(path);
  environment.lockHolders = await sampleLocks(path, options.samples, options.sampleMs, options.signal);
  environment.lockWaiters = lockWaiters(path);
  environment.processes = findProcessesWithDatabase(path, { excludeSelf: true });
  environment.leaseHolders = findLeaseHolders(path);
  return environment;
}
