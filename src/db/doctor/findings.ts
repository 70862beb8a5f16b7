/**
 * The troubleshooting guide's symptoms, each judged from the gathered environment: what was
 * found (evidence), what it means (summary) and the exact fix. Pure functions of the
 * environment, so each diagnosis is tested on real situations and documented from the code.
 */
import { FLAG_NAMES } from '../../flags/index.js';
import type { HealthStatus } from '../health.js';
import { describeHolders, WRITE_SIDE_LOCKS } from '../locking/lock-holders.js';
import type { RolloutLogEntry } from '../rollout/state.js';
import { describeWalResetStatus, isAffectedByWalResetBug, walResetFixFor } from '../sqlite-version.js';
import type { DoctorEnvironment, SampledLock } from './environment.js';
import { pinnedFrames, walNotCheckpointed } from './wal-index.js';

export type FindingId =
  | 'lock-errors'
  | 'wal-growth'
  | 'slower-after-feature'
  | 'backups-wal'
  | 'pinned-snapshot'
  | 'network-file-system'
  | 'second-writer'
  | 'sqlite-version'
  | 'disk-space'
  /** The database is missing or cannot be read: nothing else could be checked. */
  | 'database'
  /** The flags file does not load: doctor judged with the defaults. */
  | 'flags-file';

export interface DoctorFinding {
  id: FindingId;
  /** The symptom as the troubleshooting guide names it. */
  symptom: string;
  status: HealthStatus;
  /** What doctor found, in one sentence. */
  summary: string;
  /** The facts it is based on. */
  evidence: string[];
  /** What to do, most direct first: commands to run or changes to make. Empty when all is well. */
  fixes: string[];
}

export interface FindingThresholds {
  locksPerMinuteWarning: number;
  locksPerMinuteCritical: number;
  walWarningBytes: number;
  walCriticalBytes: number;
  /** A reader holding the same read mark in at least this share of the samples is a long reader. */
  persistentShare: number;
}

const MB = 1024 * 1024;
const mb = (bytes: number): string => `${(bytes / MB).toFixed(bytes >= 10 * MB ? 0 : 2)} MB`;
/** A process in a sentence; a command line's newlines and runs of spaces are folded into one space. */
const who = (pid: number, command: string): string => {
  const folded = command.replace(/\s+/g, ' ').trim();
  return `pid ${pid}${folded ? ` (${folded.length > 120 ? `${folded.slice(0, 117)}...` : folded})` : ''}`;
};

/** Read-mark slots a lock range covers (bytes 123..127 of the -shm file). */
function slotsOf(lock: SampledLock): number[] {
  const slots: number[] = [];
  const last = lock.end ?? Number.MAX_SAFE_INTEGER;
  for (let slot = 0; slot < 5; slot++) if (lock.start <= 123 + slot && last >= 123 + slot) slots.push(slot);
  return slots;
}

/** The readers holding a read mark in most samples, with the frames each keeps from the database. */
export function pinningReaders(env: DoctorEnvironment, thresholds: FindingThresholds): Array<{ lock: SampledLock; slots: number[]; frames: number }> {
  const header = env.walIndex;
  const readers: Array<{ lock: SampledLock; slots: number[]; frames: number }> = [];
  for (const lock of env.lockHolders) {
    if (lock.file !== 'shm' || lock.lock !== 'read' || lock.type !== 'READ') continue;
    if (lock.seen / lock.samples < thresholds.persistentShare) continue;
    const slots = slotsOf(lock);
    const frames = header === null ? 0 : Math.max(0, ...slots.map((slot) => pinnedFrames(header, slot)));
    readers.push({ lock, slots, frames });
  }
  return readers;
}

function lockErrors(env: DoctorEnvironment, t: FindingThresholds): DoctorFinding {
  const finding: DoctorFinding = { id: 'lock-errors', symptom: 'Lock errors persist ("database is locked")', status: 'OK', summary: '', evidence: [], fixes: [] };
  const m = env.recentMetrics;
  const flags = env.flags;
  const writers = env.lockHolders.filter((lock) => WRITE_SIDE_LOCKS.has(lock.lock));
  if (m === null) {
    finding.summary = 'No writer figures in this database yet (no backfill has run): nothing to judge about lock errors.';
  } else {
    finding.evidence.push(`${m.locks} lock errors and ${m.failedBatches} failed batches in the last ${m.windowMinutes} minutes (${m.locksPerMinute} per minute), ` +
      `${m.transactions} transactions, ${Math.round(m.lockWaitMs)} ms waited for locks in all`);
    if (m.locksPerMinute > t.locksPerMinuteCritical) finding.status = 'CRITICAL';
    else if (m.locksPerMinute > t.locksPerMinuteWarning || m.failedBatches > 0) finding.status = 'WARNING';
    finding.summary = finding.status === 'OK'
      ? `Lock errors are under control: ${m.locksPerMinute} per minute over the last ${m.windowMinutes} minutes, no failed batch.`
      : `${m.locksPerMinute} lock errors per minute and ${m.failedBatches} failed batches over the last ${m.windowMinutes} minutes: another process keeps taking the write lock.`;
  }
  for (const holder of env.recordedLockHolders.slice(0, 5)) {
    finding.evidence.push(`${who(holder.pid, holder.command)} held the lock while the engine waited ${holder.waits} times (${Math.round(holder.waitMs)} ms) in the last ${m?.windowMinutes ?? 10} minutes`);
  }
  if (writers.length > 0) finding.evidence.push(`right now: ${describeHolders(writers)}`);
  finding.evidence.push(`busy_timeout for the engine: ${env.engine.busyTimeoutMs} ms (pragma_optimizations ${flags.pragma_optimizations ? 'on' : 'off'}); retry_logic ${flags.retry_logic ? 'on' : 'off'}; journal mode ${env.journalMode ?? 'unknown'}`);
  if (finding.status === 'OK') return finding;
  if (!flags.pragma_optimizations) finding.fixes.push('Let the engine wait for the lock instead of failing at once: `league-backfill flags enable pragma_optimizations` (busy_timeout = 5000)');
  if (!flags.retry_logic) finding.fixes.push('Retry lock errors instead of failing the batch: `league-backfill flags enable retry_logic`');
  if (env.journalMode !== 'wal') finding.fixes.push('Stop readers from blocking the writer: `league-backfill flags enable wal_mode` (readers and the writer no longer exclude each other)');
  const culprits = [...new Map([...env.recordedLockHolders.map((h) => [h.pid, h.command] as const), ...writers.map((w) => [w.pid, w.command] as const)]).entries()];
  if (culprits.length > 0) {
    finding.fixes.push(`Send the writes of ${culprits.map(([pid, command]) => who(pid, command)).join(', ')} through the engine (\`engine.submit()\`), or schedule them outside the backfill`);
  } else {
    finding.fixes.push('Find the other writer when it happens: `league-backfill health --watch --interval 5` names the process holding the lock');
  }
  return finding;
}

function walGrowth(env: DoctorEnvironment, t: FindingThresholds): DoctorFinding {
  const finding: DoctorFinding = { id: 'wal-growth', symptom: 'The WAL keeps growing', status: 'OK', summary: '', evidence: [], fixes: [] };
  if (env.journalMode !== 'wal') {
    finding.summary = `The database is in ${env.journalMode ?? 'an unknown'} journal mode: there is no WAL to grow.`;
    return finding;
  }
  const header = env.walIndex;
  finding.evidence.push(`-wal file ${mb(env.walBytes)}; warning above ${mb(t.walWarningBytes)}, critical above ${mb(t.walCriticalBytes)} of WAL not yet checkpointed`);
  // What a checkpoint has still to copy, not the file: SQLite writes a WAL that started over
  // from the file's start, and a file that a connection without journal_size_limit started
  // over stays as large as it ever was, holding nothing to copy.
  const pending = walNotCheckpointed(header, env.walBytes) ?? env.walBytes;
  if (header !== null) {
    finding.evidence.push(`WAL index: ${header.mxFrame} frames, ${header.nBackfill} copied into the database by checkpoints (${Math.max(0, header.mxFrame - header.nBackfill)} waiting, ${mb(pending)})`);
  }
  const m = env.recentMetrics;
  if (m !== null && m.checkpoints !== null) {
    finding.evidence.push(`the writer ran ${m.checkpoints} checkpoints in the last ${m.windowMinutes} minutes, ${m.checkpointsBlocked ?? 0} of them could not finish because a reader held an old snapshot`);
  }
  const trend = m?.walBytesByMinute.filter((bytes): bytes is number => bytes !== null) ?? [];
  const growing = trend.length >= 3 && trend.every((bytes, i) => i === 0 || bytes >= (trend[i - 1] ?? 0)) && (trend.at(-1) ?? 0) > (trend[0] ?? 0);
  if (trend.length > 0) finding.evidence.push(`largest WAL per minute (oldest first): ${trend.map(mb).join(', ')}${growing ? ': growing every minute' : ''}`);
  const readers = pinningReaders(env, t);
  if (pending > t.walCriticalBytes) finding.status = 'CRITICAL';
  else if (pending > t.walWarningBytes || growing || (m?.checkpointsBlocked ?? 0) > 0) finding.status = 'WARNING';
  const size = header === null ? `The WAL is ${mb(env.walBytes)}` : `The WAL holds ${mb(pending)} not yet checkpointed (its file is ${mb(env.walBytes)})`;
  if (finding.status === 'OK') {
    finding.summary = `${size} and checkpoints keep up.`;
    if (header !== null && env.walBytes > t.walWarningBytes) {
      finding.summary += ' SQLite reuses the file from its start; the engine cuts it when its own commit is the first after a complete checkpoint, and SQLite removes it when the last connection closes.';
    }
    return finding;
  }
  finding.summary = `${size}${growing ? ' and growing' : ''}: checkpoints are not keeping up${readers.length > 0 ? `, because ${readers.map((r) => who(r.lock.pid, r.lock.command)).join(', ')} holds an old snapshot` : ''}.`;
  for (const reader of readers) finding.fixes.push(`End the read transaction of ${who(reader.lock.pid, reader.lock.command)} (commit or roll back, close the cursor or the notebook cell); the next checkpoint then resets the WAL`);
  if (env.leaseHolders.length === 0) {
    finding.fixes.push('No engine is running to checkpoint: once no reader is left, `sqlite3 DB "PRAGMA wal_checkpoint(TRUNCATE)"` (or the next backfill) empties it');
  }
  if (readers.length === 0) finding.fixes.push('Run `league-backfill doctor` again while the WAL grows: it names the reader holding the snapshot (the pinned-snapshot finding)');
  return finding;
}

function pinnedSnapshot(env: DoctorEnvironment, t: FindingThresholds): DoctorFinding {
  const finding: DoctorFinding = { id: 'pinned-snapshot', symptom: 'A reader pins an old snapshot', status: 'OK', summary: '', evidence: [], fixes: [] };
  if (env.journalMode !== 'wal') {
    finding.summary = 'Not in WAL mode: readers hold SHARED locks instead (see lock-errors and second-writer).';
    return finding;
  }
  const readers = pinningReaders(env, t);
  const pin = env.walPin;
  if (pin !== null) {
    finding.evidence.push(`the writer recorded a WAL pin: ${who(pin.pid ?? 0, pin.command ?? '')}${pin.since ? ` since ${pin.since}` : ''}${pin.walBytes !== null ? `, WAL ${mb(pin.walBytes)}` : ''}${pin.alive === false ? ' (that process has ended since)' : ''}`);
  }
  for (const reader of readers) {
    const slot = reader.slots.join(', ');
    const mark = env.walIndex === null ? null : reader.slots.map((s) => env.walIndex?.readMarks[s]).find((v) => v !== undefined && v !== null);
    finding.evidence.push(`${who(reader.lock.pid, reader.lock.command)} holds read mark ${slot} in ${reader.lock.seen} of ${reader.lock.samples} samples` +
      `${env.walIndex === null ? '' : reader.slots.includes(0)
        ? `: its snapshot is the database file without the WAL's ${env.walIndex.mxFrame} frames, so ${reader.frames} frames cannot be checkpointed`
        : reader.frames === 0
          ? `: its snapshot ends at WAL frame ${mark ?? '?'} of ${env.walIndex.mxFrame}, the newest: it pins nothing`
          : `: its snapshot ends at WAL frame ${mark ?? '?'} of ${env.walIndex.mxFrame}, so ${reader.frames} frames cannot be checkpointed`}`);
  }
  const pinning = readers.filter((reader) => reader.frames > 0);
  const recordedAlive = pin !== null && pin.alive !== false;
  if (pinning.length > 0 || recordedAlive) {
    finding.status = 'WARNING';
    const names = pinning.length > 0 ? pinning.map((r) => who(r.lock.pid, r.lock.command)) : [who(pin?.pid ?? 0, pin?.command ?? '')];
    finding.summary = `${names.join(', ')} ${names.length === 1 ? 'holds' : 'hold'} a read transaction open on an old snapshot: checkpoints cannot pass it and the WAL cannot start over.`;
    for (const name of names) finding.fixes.push(`End the read transaction of ${name}: commit or roll back, fetch the whole result, or close the connection (a notebook: finish or close the cell's cursor)`);
    finding.fixes.push('Readers that keep one connection open should not keep a transaction open between queries (Python sqlite3: `isolation_level=None`, or commit after reading)');
  } else {
    finding.summary = readers.length > 0 ? 'Readers hold snapshots, but none keeps a frame from being checkpointed.' : 'No reader holds an old snapshot.';
  }
  return finding;
}

function secondWriter(env: DoctorEnvironment): DoctorFinding {
  const finding: DoctorFinding = { id: 'second-writer', symptom: 'A second writer', status: 'OK', summary: '', evidence: [], fixes: [] };
  const leasePids = new Set(env.leaseHolders.map((holder) => holder.pid));
  for (const holder of env.leaseHolders) finding.evidence.push(`${who(holder.pid, holder.command)} holds the single-writer lease (${env.database}-lease)`);
  if (env.leaseHolders.length === 0 && env.writer !== null) {
    finding.evidence.push(`the last engine recorded was ${who(env.writer.pid ?? 0, env.writer.command ?? '')}${env.writer.startedAt ? `, started ${env.writer.startedAt}` : ''}; ${env.writer.alive ? 'it still runs but holds no lease' : 'it is no longer running'}`);
  }
  const others = env.lockHolders.filter((lock) => WRITE_SIDE_LOCKS.has(lock.lock) && !leasePids.has(lock.pid));
  const byPid = new Map<number, SampledLock[]>();
  for (const lock of others) byPid.set(lock.pid, [...(byPid.get(lock.pid) ?? []), lock]);
  for (const [pid, locks] of byPid) {
    const most = Math.max(...locks.map((lock) => lock.seen));
    finding.evidence.push(`${describeHolders(locks)}, seen in ${most} of ${locks[0]?.samples ?? 0} samples`);
    void pid;
  }
  const recorded = env.recordedLockHolders.filter((holder) => !leasePids.has(holder.pid));
  for (const holder of recorded.slice(0, 5)) finding.evidence.push(`${who(holder.pid, holder.command)} made the engine wait ${holder.waits} times in the last ${env.recentMetrics?.windowMinutes ?? 10} minutes`);
  const neighbourCommits = env.recentMetrics?.neighbourCommits ?? null;
  if (neighbourCommits !== null && neighbourCommits > 0) finding.evidence.push(`${neighbourCommits} commits by other connections seen by the engine in the last ${env.recentMetrics?.windowMinutes ?? 10} minutes`);
  const names = [...new Map([...[...byPid].map(([pid, locks]) => [pid, locks[0]?.command ?? ''] as const), ...recorded.map((h) => [h.pid, h.command] as const)])];
  if (names.length === 0) {
    finding.summary = env.leaseHolders.length > 0 ? 'Only the engine writes.' : 'No writer is running, and none was seen in the last minutes.';
    return finding;
  }
  finding.status = 'WARNING';
  finding.summary = `${names.map(([pid, command]) => who(pid, command)).join(', ')} ${names.length === 1 ? 'writes' : 'write'} to the database besides ${env.leaseHolders.length > 0 ? 'the engine' : 'any engine'}: every one of its write transactions makes the others wait.`;
  finding.fixes.push(`Send these writes through the engine (\`engine.submit({ sql, params })\`), or run them outside the backfill: ${names.map(([pid]) => `pid ${pid}`).join(', ')}`);
  if (!env.flags.retry_logic || !env.flags.pragma_optimizations) finding.fixes.push('Meanwhile let the engine wait and retry: `league-backfill flags enable pragma_optimizations retry_logic`');
  return finding;
}

function networkFileSystem(env: DoctorEnvironment): DoctorFinding {
  const finding: DoctorFinding = { id: 'network-file-system', symptom: 'The database is on a network file system', status: 'OK', summary: '', evidence: [], fixes: [] };
  const fs = env.fileSystem;
  finding.evidence.push(`${env.folder}: file system type ${fs.type === null ? 'unknown' : `0x${(fs.type >>> 0).toString(16)}`}${fs.networkName ? ` (${fs.networkName})` : ''}`);
  if (fs.networkName === null) {
    finding.summary = 'The database is on a local file system.';
    return finding;
  }
  const wal = env.journalMode === 'wal' || env.flags.wal_mode;
  finding.status = wal ? 'CRITICAL' : 'WARNING';
  finding.summary = `The database is on ${fs.networkName}: WAL needs shared memory and POSIX locks that network and user-space file systems do not provide reliably${wal ? ', and WAL is on' : ''}.`;
  finding.fixes.push('Move the database to a local disk and point --db (or LEAGUE_BACKFILL_DB) at it');
  if (wal) finding.fixes.push('Until then: `league-backfill rollback --reason "database on a network file system"` (journal mode DELETE, every flag off)');
  return finding;
}

function sqliteVersion(env: DoctorEnvironment): DoctorFinding {
  const finding: DoctorFinding = { id: 'sqlite-version', symptom: 'SQLite too old, or affected by the WAL-reset bug', status: 'OK', summary: '', evidence: [], fixes: [] };
  const wal = env.journalMode === 'wal' || env.flags.wal_mode;
  finding.evidence.push(`the engine's SQLite: ${describeWalResetStatus(env.sqliteVersion)}`);
  const old = env.sqliteVersion.split('.').map(Number);
  const tooOld = (old[0] ?? 0) < 3 || ((old[0] ?? 0) === 3 && ((old[1] ?? 0) < 8 || ((old[1] ?? 0) === 8 && (old[2] ?? 0) < 2)));
  const problems: string[] = [];
  if (tooOld) {
    finding.status = 'CRITICAL';
    problems.push(`the engine's SQLite ${env.sqliteVersion} is older than 3.8.2, which WAL and BEGIN IMMEDIATE as used here need`);
    finding.fixes.push('Reinstall the package so better-sqlite3 brings its own SQLite (`npm ci`)');
  }
  if (env.sqliteAffected && wal) {
    finding.status = 'CRITICAL';
    problems.push(`the engine's SQLite ${env.sqliteVersion} has the WAL-reset bug and WAL is on`);
    finding.fixes.push(`Turn WAL off until better-sqlite3 ships SQLite ${walResetFixFor(env.sqliteVersion)} or later: \`league-backfill flags disable wal_mode\``);
  }
  for (const other of env.processes) {
    const library = other.sqlite;
    if (library === null) {
      finding.evidence.push(`${who(other.pid, other.command)} has the database open; no SQLite library found in its maps (statically linked?)`);
      continue;
    }
    if (library.version === null) {
      finding.evidence.push(`${who(other.pid, other.command)} has the database open with ${library.path}, version unknown`);
      continue;
    }
    const affected = isAffectedByWalResetBug(library.version);
    finding.evidence.push(`${who(other.pid, other.command)} has the database open with SQLite ${library.version} (${library.path}${library.package ? `, package ${library.package}` : ''})${affected ? ': has the WAL-reset bug' : ''}`);
    if (affected && wal) {
      finding.status = finding.status === 'CRITICAL' ? 'CRITICAL' : 'WARNING';
      problems.push(`${who(other.pid, other.command)} uses SQLite ${library.version}, which has the WAL-reset bug`);
      finding.fixes.push(`Upgrade the SQLite of ${who(other.pid, other.command)} to ${walResetFixFor(library.version)} or later (distributions may have backported the fix: check the package's changelog), or keep it from writing and checkpointing while the engine runs`);
    }
  }
  finding.summary = problems.length === 0
    ? `SQLite ${env.sqliteVersion} for the engine; no process with a known-affected SQLite has the database open${wal ? '' : ' (and WAL is off, where the bug cannot strike)'}.`
    : `${problems.join('; ')}: with WAL and two connections writing and checkpointing at the same moment, committed writes can be lost.`;
  return finding;
}

function diskSpace(env: DoctorEnvironment): DoctorFinding {
  const finding: DoctorFinding = { id: 'disk-space', symptom: 'Disk full: writes, checkpoints or VACUUM fail', status: 'OK', summary: '', evidence: [], fixes: [] };
  const used = env.databaseBytes + env.walBytes;
  const free = env.fileSystem.freeBytes;
  finding.evidence.push(`database ${mb(env.databaseBytes)} + WAL ${mb(env.walBytes)}; ${free === null ? 'free space unknown' : `${mb(free)} free`} on the file system of ${env.folder}`);
  if (free === null) {
    finding.status = 'UNKNOWN';
    finding.summary = 'The free space of the file system could not be read.';
    return finding;
  }
  if (free < used) finding.status = 'CRITICAL';
  else if (free < 2 * used) finding.status = 'WARNING';
  finding.summary = finding.status === 'OK'
    ? 'There is room for a backup, a VACUUM and the WAL to grow (more than twice the database and WAL free).'
    : `Only ${mb(free)} free for a database and WAL of ${mb(used)}: a backup or a VACUUM needs about as much again, and a full disk fails every write.`;
  if (finding.status !== 'OK') finding.fixes.push('Free space on that file system, or move the database (and its -wal) to a larger one; `league-backfill maintain --skip-backup --skip-vacuum` still checks integrity without a copy');
  return finding;
}

function backupsInWal(env: DoctorEnvironment): DoctorFinding {
  const finding: DoctorFinding = { id: 'backups-wal', symptom: 'Backups fail in WAL mode', status: 'OK', summary: '', evidence: [], fixes: [] };
  if (env.journalMode !== 'wal') {
    finding.summary = `Not in WAL mode (${env.journalMode ?? 'unknown'}): a backup is one file.`;
    return finding;
  }
  const problems: string[] = [];
  const header = env.walIndex;
  if (header !== null && header.mxFrame > header.nBackfill) {
    finding.evidence.push(`${header.mxFrame - header.nBackfill} committed WAL frames are not in the .db file yet: a copy of the .db alone (cp, rsync, a volume snapshot without -wal) misses them or is inconsistent`);
  }
  if (!env.folderWritable) problems.push(`this user cannot write in ${env.folder}: opening a WAL database needs its -shm file, which SQLite creates there`);
  if (!env.walFilesWritable) problems.push('this user cannot write the -wal or -shm file: even a read-only backup connection needs write access to -shm in WAL mode');
  const free = env.fileSystem.freeBytes;
  if (free !== null && free < env.databaseBytes) problems.push(`${mb(free)} free is less than the database (${mb(env.databaseBytes)}): VACUUM INTO writes a full copy`);
  finding.evidence.push(`folder writable: ${env.folderWritable ? 'yes' : 'no'}; -wal/-shm writable: ${env.walFilesWritable ? 'yes' : 'no'}`);
  if (problems.length > 0) {
    finding.status = 'WARNING';
    finding.summary = `A backup of this WAL database would fail: ${problems.join('; ')}.`;
    finding.fixes.push('Run backups as the user that owns the database folder, with room for a copy beside it');
  } else {
    finding.summary = 'A backup can be made; in WAL mode it must go through SQLite, not a file copy of the .db.';
  }
  finding.fixes.push('Back up with `league-backfill backup` (VACUUM INTO: consistent, verified, safe beside a running writer); never copy the .db without its -wal');
  return finding;
}

function slowerAfterFeature(env: DoctorEnvironment, rolloutLog: readonly RolloutLogEntry[]): DoctorFinding {
  const finding: DoctorFinding = { id: 'slower-after-feature', symptom: 'Slower after enabling a feature', status: 'OK', summary: '', evidence: [], fixes: [] };
  const flags = env.flags;
  finding.evidence.push(`flags in force: ${FLAG_NAMES.filter((name) => flags[name]).join(', ') || 'none'}; workload ${env.workload}`);
  const readBack = env.engine.readBack;
  if (readBack !== null) {
    finding.evidence.push(`a connection with these flags reads back: synchronous ${readBack.synchronous}, cache_size ${readBack.cacheSize}, mmap_size ${readBack.mmapSize}, temp_store ${readBack.tempStore}, busy_timeout ${readBack.busyTimeoutMs} ms`);
  }
  for (const warning of env.engine.warnings) finding.evidence.push(`setting did not take: ${warning}`);
  // Each `next` records the figures of the step it left: a drop between consecutive steps names the feature.
  const steps = rolloutLog.filter((entry) => entry.action !== 'start' && entry.figures !== null && entry.figures.rowsPerSecond !== null);
  let worst: { feature: string; before: number; after: number } | null = null;
  for (let i = 1; i < steps.length; i++) {
    const previous = steps[i - 1];
    const current = steps[i];
    if (previous === undefined || current === undefined || current.from === null) continue;
    const before = previous.figures?.rowsPerSecond ?? null;
    const after = current.figures?.rowsPerSecond ?? null;
    if (before === null || after === null || before <= 0) continue;
    finding.evidence.push(`rollout: ${previous.from} ${Math.round(before)} rows/s, then ${current.from} ${Math.round(after)} rows/s`);
    if (after < 0.9 * before && (worst === null || after / before < worst.after / worst.before)) worst = { feature: current.from, before, after };
  }
  if (worst !== null) {
    finding.status = 'WARNING';
    finding.summary = `Backfills got ${Math.round((1 - worst.after / worst.before) * 100)} % slower at the rollout step ${worst.feature} (${Math.round(worst.before)} -> ${Math.round(worst.after)} rows/s).`;
    finding.fixes.push(`Undo that step: \`league-backfill rollout back\` (while it is the last one), or \`league-backfill flags disable ${worst.feature}\``);
  }
  if (flags.pragma_optimizations === false && env.journalMode === 'wal') {
    finding.status = finding.status === 'OK' ? 'WARNING' : finding.status;
    finding.evidence.push('WAL with synchronous = FULL (pragma_optimizations off): one fsync per commit');
    finding.fixes.push('In WAL mode synchronous = NORMAL is safe and much faster: `league-backfill flags enable pragma_optimizations`');
  }
  if (env.engine.workload.warnings.length > 0) finding.evidence.push(...env.engine.workload.warnings);
  if (finding.status === 'OK') {
    finding.summary = steps.length > 1
      ? 'No rollout step made backfills more than 10 % slower.'
      : 'No rollout log to compare steps with; the settings in force read back as asked. `league-backfill rollout status` measures each step against the baseline.';
  } else if (finding.summary === '') {
    finding.summary = 'Commits in WAL mode with synchronous = FULL pay an fsync each: slower than they need to be.';
  }
  return finding;
}

/** Every finding, in the guide's order. */
export function judgeEnvironment(env: DoctorEnvironment, thresholds: FindingThresholds, rolloutLog: readonly RolloutLogEntry[] = []): DoctorFinding[] {
  return [
    lockErrors(env, thresholds),
    walGrowth(env, thresholds),
    slowerAfterFeature(env, rolloutLog),
    backupsInWal(env),
    pinnedSnapshot(env, thresholds),
    networkFileSystem(env),
    secondWriter(env),
    sqliteVersion(env),
    diskSpace(env),
  ];
}
