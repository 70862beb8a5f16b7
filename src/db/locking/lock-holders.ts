/**
 * Who holds a lock on a database: on Linux, the kernel lists every POSIX (`fcntl`) and OFD
 * lock in /proc/locks, with the holder's pid, the file's device and inode, and the byte range.
 * SQLite's unix VFS locks fixed bytes, so the range says which SQLite lock it is:
 *
 * - main database file, from 0x40000000 (1073741824): PENDING byte, RESERVED byte, then the
 *   510-byte SHARED range. A WRITE lock over the SHARED range is EXCLUSIVE. The kernel merges
 *   adjacent ranges of one owner and type, so one line may cover several of these.
 * - `-shm` file in WAL mode, from byte 120: 120 the WAL write lock, 121 checkpoint, 122 recover,
 *   123..127 the five read marks, 128 the "dead man switch" every open connection holds.
 *
 * Locks are per process: a lock taken by any thread of a process (the writer thread, say) is
 * listed under that process's pid. Nothing here throws: on other systems, or when /proc cannot
 * be read, the answer is an empty list.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';

/** Which SQLite lock a byte range stands for. */
export type SqliteLockName = 'write' | 'reserved' | 'pending' | 'exclusive' | 'shared' | 'checkpoint' | 'read' | 'other';

export interface LockHolder {
  /** The holder's pid; -1 for an OFD lock whose process could not be found, 0 for a process outside this PID namespace. */
  pid: number;
  /** The holder's command line (arguments joined by spaces, at most 200 characters); empty when unreadable. */
  command: string;
  lock: SqliteLockName;
  /** The main database file or its WAL index (`-shm`). */
  file: 'db' | 'shm';
  /** The kernel's lock type: WRITE (exclusive) or READ (shared). */
  type: 'WRITE' | 'READ';
  /** True when the holder is this process (any of its threads). */
  self: boolean;
  /** The kernel's lock class: POSIX (fcntl, what SQLite uses), OFDLCK (open file description), FLOCK, ... */
  mechanism: string;
  /** First and last byte of the locked range (`end` is null for "to the end of the file"). */
  start: number;
  end: number | null;
  /** The SQLite lock in words, e.g. "WAL write lock" or "read mark 1". */
  detail: string;
}

export interface FindLockHoldersOptions {
  /** Where procfs is mounted. @default '/proc' */
  readonly procRoot?: string;
}

/** One line of /proc/locks, as the kernel prints it. */
export interface ProcLockLine {
  /** `POSIX`, `OFDLCK`, `FLOCK`, `LEASE`, `DELEG`, ... */
  mechanism: string;
  type: string;
  pid: number;
  major: number;
  minor: number;
  inode: bigint;
  start: number;
  end: number | null;
  /** True for a `->` line: a process blocked waiting for this lock, not holding it. */
  waiting: boolean;
}

/** SQLite's lock bytes in the main database file (os_unix.c, `sqlite3PendingByte`). */
export const PENDING_BYTE = 0x40000000;
export const RESERVED_BYTE = PENDING_BYTE + 1;
export const SHARED_FIRST = PENDING_BYTE + 2;
export const SHARED_SIZE = 510;
/** The locks region of the WAL index (`-shm`): UNIX_SHM_BASE, then WAL_WRITE_LOCK = 0, CKPT = 1, RECOVER = 2, READ 3..7, DMS = 8. */
export const SHM_LOCK_BASE = 120;

const COMMAND_MAX = 200;

/**
 * Parses /proc/locks. Format (fs/locks.c, `lock_get_status`):
 * `ID: [-> ]CLASS  ADVISORY|MANDATORY  READ|WRITE|UNLCK PID MAJ:MIN:INODE START END`, with
 * MAJ and MIN in hex, INODE and the range in decimal, END `EOF` for an open-ended lock.
 * Lines it cannot read are skipped.
 */
export function parseProcLocks(text: string): ProcLockLine[] {
  const lines: ProcLockLine[] = [];
  const pattern = /^\s*\d+:\s+(->\s+)?(\S+)\s+\S+\s+(\S+)\s+(-?\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s+(\d+)\s+(\d+|EOF)\s*$/i;
  for (const line of text.split('\n')) {
    const match = pattern.exec(line);
    if (!match) continue;
    const [, arrow, mechanism, type, pid, major, minor, inode, start, end] = match;
    lines.push({
      mechanism: mechanism ?? '',
      type: (type ?? '').toUpperCase(),
      pid: Number(pid),
      major: Number.parseInt(major ?? '', 16),
      minor: Number.parseInt(minor ?? '', 16),
      inode: BigInt(inode ?? '0'),
      start: Number(start),
      end: end === undefined || end.toUpperCase() === 'EOF' ? null : Number(end),
      waiting: arrow !== undefined,
    });
  }
  return lines;
}

/**
 * glibc's `major()`/`minor()` for a `dev_t` as Node reports it in `st_dev`:
 * major = bits 8..19 and 32..43, minor = bits 0..7 and 20..31 (and above).
 */
export function splitDevice(dev: bigint): { major: number; minor: number } {
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return { major, minor };
}

/** Which SQLite lock a locked range is, and the same in words. A merged range is named by its strongest lock. */
export function classifyLock(file: 'db' | 'shm', type: 'WRITE' | 'READ', start: number, end: number | null): { lock: SqliteLockName; detail: string } {
  const last = end ?? Number.MAX_SAFE_INTEGER;
  const covers = (from: number, to = from): boolean => start <= to && last >= from;
  const write = type === 'WRITE';
  if (file === 'db') {
    if (write && covers(SHARED_FIRST, SHARED_FIRST + SHARED_SIZE - 1)) return { lock: 'exclusive', detail: 'EXCLUSIVE lock (writing the database file)' };
    if (write && covers(RESERVED_BYTE)) return { lock: 'reserved', detail: 'RESERVED lock (a write transaction is open)' };
    if (write && covers(PENDING_BYTE)) return { lock: 'pending', detail: 'PENDING lock (waiting for readers to leave before writing)' };
    if (covers(SHARED_FIRST, SHARED_FIRST + SHARED_SIZE - 1)) return { lock: 'shared', detail: 'SHARED lock (reading, or connected in WAL mode)' };
    if (covers(PENDING_BYTE, RESERVED_BYTE)) return { lock: 'shared', detail: 'SHARED lock being taken (PENDING byte)' };
    return { lock: 'other', detail: `a lock on bytes ${start}..${end ?? 'EOF'} of the database file (not one of SQLite's)` };
  }
  const names: string[] = [];
  if (covers(SHM_LOCK_BASE)) names.push('WAL write');
  if (covers(SHM_LOCK_BASE + 1)) names.push('checkpoint');
  if (covers(SHM_LOCK_BASE + 2)) names.push('recover');
  const marks: number[] = [];
  for (let mark = 0; mark < 5; mark++) if (covers(SHM_LOCK_BASE + 3 + mark)) marks.push(mark);
  if (marks.length > 0) names.push(`read mark${marks.length > 1 ? 's' : ''} ${marks.join(', ')}${write ? ' (being updated)' : ''}`);
  if (covers(SHM_LOCK_BASE + 8)) names.push('connection open (DMS)');
  const detail = names.length === 0
    ? `a lock on bytes ${start}..${end ?? 'EOF'} of the -shm file (not one of SQLite's)`
    : `${names.join(', ')} lock${names.length > 1 ? 's' : ''}`;
  if (covers(SHM_LOCK_BASE)) return { lock: 'write', detail };
  if (covers(SHM_LOCK_BASE + 1)) return { lock: 'checkpoint', detail };
  if (marks.length > 0) return { lock: 'read', detail };
  return { lock: 'other', detail };
}

interface Target {
  file: 'db' | 'shm';
  dev: bigint;
  major: number;
  minor: number;
  inode: bigint;
}

function statTarget(path: string, file: 'db' | 'shm'): Target | null {
  try {
    const stats = statSync(path, { bigint: true });
    if (!stats.isFile()) return null;
    return { file, dev: stats.dev, ...splitDevice(stats.dev), inode: stats.ino };
  } catch {
    return null;
  }
}

/** A process's command line, NULs as spaces, at most COMMAND_MAX characters ('' when it cannot be read). */
export function readCommandLine(pid: number, procRoot = '/proc'): string {
  if (pid <= 0) return '';
  try {
    const text = readFileSync(`${procRoot}/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replaceAll('\0', ' ');
    return text.length > COMMAND_MAX ? `${text.slice(0, COMMAND_MAX - 3)}...` : text;
  } catch {
    return '';
  }
}

/** The pids (numeric folders) under procRoot. */
function listPids(procRoot: string): number[] {
  try {
    return readdirSync(procRoot).filter((name) => /^\d+$/.test(name)).map(Number);
  } catch {
    return [];
  }
}

/** The fd numbers of `pid` that have `target` open (stat through /proc/PID/fd follows the link to the file itself). */
function fdsOpening(procRoot: string, pid: number, target: Target): string[] {
  let fds: string[];
  try {
    fds = readdirSync(`${procRoot}/${pid}/fd`);
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const fd of fds) {
    try {
      const stats = statSync(`${procRoot}/${pid}/fd/${fd}`, { bigint: true });
      if (stats.ino === target.inode && stats.dev === target.dev) found.push(fd);
    } catch {
      // closed meanwhile, or not ours to look at
    }
  }
  return found;
}

/** Whether one of `fds` of `pid` lists this lock in its fdinfo (the kernel prints there the locks an fd owns). */
function fdinfoHasLock(procRoot: string, pid: number, fds: string[], line: ProcLockLine): boolean {
  for (const fd of fds) {
    try {
      const info = readFileSync(`${procRoot}/${pid}/fdinfo/${fd}`, 'utf8');
      for (const own of parseProcLocks(info.split('\n').filter((l) => l.startsWith('lock:')).map((l) => l.slice(5)).join('\n'))) {
        if (own.mechanism === line.mechanism && own.type === line.type && own.start === line.start && own.end === line.end && own.inode === line.inode) return true;
      }
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

/**
 * The processes holding POSIX or OFD locks on `databasePath` or its `-shm` file, one entry per
 * lock, strongest-looking first (write-side locks, then the rest). Processes blocked waiting
 * for a lock are not holders and are left out. Never throws; [] on non-Linux systems or when
 * /proc/locks cannot be read.
 *
 * Files are matched by device and inode. Where a file system reports another device in
 * `stat()` than in /proc/locks (overlayfs, btrfs subvolumes), a lock on the same inode counts
 * when the holder has the file open (checked through /proc/PID/fd). OFD locks carry no pid
 * (-1): their holder is found through the `lock:` lines of /proc/PID/fdinfo.
 */
export function findLockHolders(databasePath: string, options: FindLockHoldersOptions = {}): LockHolder[] {
  const procRoot = options.procRoot ?? '/proc';
  if (options.procRoot === undefined && process.platform !== 'linux') return [];
  try {
    const targets = [statTarget(databasePath, 'db'), statTarget(`${databasePath}-shm`, 'shm')].filter((t): t is Target => t !== null);
    if (targets.length === 0) return [];
    let text: string;
    try {
      text = readFileSync(`${procRoot}/locks`, 'utf8');
    } catch {
      return [];
    }
    const holders: LockHolder[] = [];
    const commands = new Map<number, string>();
    const command = (pid: number): string => {
      let known = commands.get(pid);
      if (known === undefined) {
        known = readCommandLine(pid, procRoot);
        commands.set(pid, known);
      }
      return known;
    };
    let allPids: number[] | undefined;
    for (const line of parseProcLocks(text)) {
      if (line.waiting || (line.type !== 'WRITE' && line.type !== 'READ')) continue;
      const target = targets.find((t) => t.inode === line.inode && t.major === line.major && t.minor === line.minor)
        ?? targets.find((t) => t.inode === line.inode);
      if (target === undefined) continue;
      const exactDevice = target.major === line.major && target.minor === line.minor;
      let pids: number[];
      if (line.pid > 0) {
        // Same inode on another device is only ours when the process really has our file open.
        if (!exactDevice && fdsOpening(procRoot, line.pid, target).length === 0) continue;
        pids = [line.pid];
      } else {
        // OFD locks (and holders outside this PID namespace) have no usable pid: look for the
        // processes that have the file open and list this lock among their fd's locks.
        allPids ??= listPids(procRoot);
        pids = allPids.filter((pid) => {
          const fds = fdsOpening(procRoot, pid, target);
          return fds.length > 0 && fdinfoHasLock(procRoot, pid, fds, line);
        });
        if (pids.length === 0) {
          if (!exactDevice) continue;
          pids = [line.pid];
        }
      }
      const { lock, detail } = classifyLock(target.file, line.type, line.start, line.end);
      for (const pid of pids) {
        holders.push({
          pid,
          command: command(pid),
          lock,
          file: target.file,
          type: line.type,
          self: pid === process.pid,
          mechanism: line.mechanism,
          start: line.start,
          end: line.end,
          detail,
        });
      }
    }
    return holders.sort((a, b) => LOCK_ORDER.indexOf(a.lock) - LOCK_ORDER.indexOf(b.lock) || a.pid - b.pid);
  } catch {
    return [];
  }
}

/** Strongest first: the order holders are listed and described in. */
const LOCK_ORDER: readonly SqliteLockName[] = ['exclusive', 'pending', 'reserved', 'write', 'checkpoint', 'read', 'shared', 'other'];

/** Locks that keep every other connection from writing: the ones worth naming when a write waits. */
export const WRITE_SIDE_LOCKS: ReadonlySet<SqliteLockName> = new Set(['write', 'reserved', 'pending', 'exclusive']);

/** The holders of a lock that blocks writers (WAL write lock, RESERVED, PENDING, EXCLUSIVE). */
export function writeLockHolders(holders: readonly LockHolder[]): LockHolder[] {
  return holders.filter((holder) => WRITE_SIDE_LOCKS.has(holder.lock));
}

function lockPhrase(lock: SqliteLockName): string {
  switch (lock) {
    case 'write':
      return 'the write lock';
    case 'reserved':
      return 'the reserved lock';
    case 'pending':
      return 'the pending lock';
    case 'exclusive':
      return 'the exclusive lock';
    case 'checkpoint':
      return 'the checkpoint lock';
    case 'shared':
      return 'a shared lock';
    case 'read':
      return 'a read lock';
    case 'other':
      return 'a lock on the file';
  }
}

function whoIs(holder: LockHolder): string {
  const name = holder.pid > 0 ? `pid ${holder.pid}` : holder.pid === 0 ? 'a process outside this PID namespace' : 'a process that could not be identified';
  const what = holder.command === '' ? '' : ` (${holder.command})`;
  return `${name}${what}${holder.self ? ' [this process]' : ''}`;
}

/**
 * One sentence per process, e.g. `pid 1234 (node lock-holder.mjs data/x.db 5000) holds the
 * write lock`; several locks of one process are named together, strongest first, sentences
 * joined by "; ". The marker lock every WAL connection holds is left out of a sentence that
 * names other locks. Empty string for no holders.
 */
export function describeHolders(holders: readonly LockHolder[]): string {
  const byPid = new Map<number, { holder: LockHolder; locks: SqliteLockName[] }>();
  for (const holder of holders) {
    const entry = byPid.get(holder.pid) ?? { holder, locks: [] };
    if (!entry.locks.includes(holder.lock)) entry.locks.push(holder.lock);
    byPid.set(holder.pid, entry);
  }
  const sentences: string[] = [];
  for (const { holder, locks } of byPid.values()) {
    // Every connection holds a marker lock on the -shm file ('other'): name it only when it is all there is.
    const named = locks.filter((lock) => lock !== 'other');
    const phrases = (named.length > 0 ? named : locks).sort((a, b) => LOCK_ORDER.indexOf(a) - LOCK_ORDER.indexOf(b)).map(lockPhrase);
    const list = phrases.length <= 1 ? (phrases[0] ?? '') : `${phrases.slice(0, -1).join(', ')} and ${phrases.at(-1) ?? ''}`;
    sentences.push(`${whoIs(holder)} holds ${list}`);
  }
  return sentences.join('; ');
}
