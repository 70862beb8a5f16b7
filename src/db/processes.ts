/**
 * The processes that have a database open, on Linux: every /proc/PID/fd that points at the
 * database, its `-wal` or its `-shm` file (matched by device and inode, so hard links and
 * other paths to the same file count), each process's command line, and the SQLite library it
 * mapped (from /proc/PID/maps), with that library's version where it can be read.
 *
 * A library's version is read from the library itself: SQLite embeds its version string
 * (`sqlite3_version`, e.g. `3.40.1`) next to its source id (`2022-12-28 14:03:47 df5c...`), both
 * NUL-terminated. A file that holds no source id does not contain SQLite (Python's `_sqlite3`
 * module, say, which links libsqlite3 instead), and is passed over for the next candidate. When
 * no mapped file yields a version, the package database (dpkg) is asked who installed the
 * library. Distributions may backport fixes without changing the upstream version, so a version
 * found this way is evidence to act on, not proof.
 *
 * Nothing here throws: on other systems, or where /proc cannot be read, the answer is empty.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { parseProcLocks, readCommandLine, splitDevice } from './locking/lock-holders.js';

export { readCommandLine };

export interface SqliteLibrary {
  /** The mapped file, as /proc/PID/maps names it. */
  path: string;
  /** The SQLite version, e.g. `3.40.1`; null when it could not be identified. */
  version: string | null;
  /** How the version was found. */
  method: 'embedded-version' | 'package' | 'unknown';
  /** The package and its version, when the package database was asked (e.g. `libsqlite3-0 3.40.1-2+deb12u2`). */
  package: string | null;
}

export interface OpenProcess {
  pid: number;
  /** The command line (arguments joined by spaces, at most 200 characters); empty when unreadable. */
  command: string;
  /** True for this process. */
  self: boolean;
  /** Which of the database's files it has open. */
  files: Array<'db' | 'wal' | 'shm'>;
  /** The SQLite library mapped into the process; null when none was found in its maps. */
  sqlite: SqliteLibrary | null;
}

export interface FindProcessesOptions {
  /** Where procfs is mounted. @default '/proc' */
  readonly procRoot?: string;
  /** Leave this process out. @default false */
  readonly excludeSelf?: boolean;
  /** Identify the SQLite library of each process (reads /proc/PID/maps and the library file). @default true */
  readonly identifyLibraries?: boolean;
}

/** Larger files are not read for a version string (a library is a few MB; a whole executable can be 100 MB). */
const MAX_LIBRARY_BYTES = 64 * 1024 * 1024;

interface FileId {
  dev: bigint;
  ino: bigint;
}

function fileId(path: string): FileId | null {
  try {
    const stats = statSync(path, { bigint: true });
    return stats.isFile() ? { dev: stats.dev, ino: stats.ino } : null;
  } catch {
    return null;
  }
}

function listPids(procRoot: string): number[] {
  try {
    return readdirSync(procRoot).filter((name) => /^\d+$/.test(name)).map(Number).sort((a, b) => a - b);
  } catch {
    return [];
  }
}

/** Whether a process with this pid exists (in this PID namespace). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is only not ours to signal.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The processes that have `databasePath`, its `-wal` or its `-shm` open, by pid. Never throws;
 * [] on systems without /proc.
 */
export function findProcessesWithDatabase(databasePath: string, options: FindProcessesOptions = {}): OpenProcess[] {
  const procRoot = options.procRoot ?? '/proc';
  if (options.procRoot === undefined && process.platform !== 'linux') return [];
  const targets: Array<[OpenProcess['files'][number], FileId]> = [];
  for (const [kind, path] of [['db', databasePath], ['wal', `${databasePath}-wal`], ['shm', `${databasePath}-shm`]] as const) {
    const id = fileId(path);
    if (id !== null) targets.push([kind, id]);
  }
  if (targets.length === 0) return [];
  const found: OpenProcess[] = [];
  for (const pid of listPids(procRoot)) {
    let fds: string[];
    try {
      fds = readdirSync(`${procRoot}/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to look at
    }
    const files = new Set<OpenProcess['files'][number]>();
    for (const fd of fds) {
      try {
        const stats = statSync(`${procRoot}/${pid}/fd/${fd}`, { bigint: true });
        for (const [kind, id] of targets) if (stats.ino === id.ino && stats.dev === id.dev) files.add(kind);
      } catch {
        // closed meanwhile
      }
    }
    if (files.size === 0) continue;
    const self = pid === process.pid;
    if (self && options.excludeSelf) continue;
    found.push({
      pid,
      command: readCommandLine(pid, procRoot),
      self,
      files: (['db', 'wal', 'shm'] as const).filter((kind) => files.has(kind)),
      sqlite: options.identifyLibraries === false ? null : identifySqliteLibrary(pid, { procRoot }),
    });
  }
  return found;
}

/** The files a process mapped whose names say SQLite (libsqlite3.so.0, better_sqlite3.node, a `sqlite3` binary...), in map order. */
export function mappedSqliteCandidates(pid: number, procRoot = '/proc'): string[] {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/${pid}/maps`, 'utf8');
  } catch {
    return [];
  }
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    // address perms offset dev inode path: the path is everything after the fifth field.
    const match = /^\S+\s+\S+\s+\S+\s+\S+\s+\d+\s+(\/.*)$/.exec(line);
    const path = match?.[1]?.replace(/ \(deleted\)$/, '');
    if (path === undefined) continue;
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (/sqlite/i.test(name)) seen.add(path);
  }
  // Libraries that carry SQLite itself first; wrappers such as Python's _sqlite3 module after.
  return [...seen].sort((a, b) => rank(a) - rank(b));
}

function rank(path: string): number {
  const name = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  if (name.startsWith('libsqlite')) return 0;
  if (name.includes('better_sqlite3')) return 1;
  return 2;
}

const versionCache = new Map<string, string | null>();

/**
 * The SQLite version embedded in a library or executable: the `3.x.y` string nearest to
 * SQLite's source id. Null when the file holds no source id (it does not contain SQLite) or
 * cannot be read.
 */
export function readEmbeddedSqliteVersion(file: string): string | null {
  let key: string;
  try {
    const stats = statSync(file);
    if (!stats.isFile() || stats.size > MAX_LIBRARY_BYTES) return null;
    key = `${file}\0${stats.size}\0${stats.mtimeMs}`;
  } catch {
    return null;
  }
  const cached = versionCache.get(key);
  if (cached !== undefined) return cached;
  let version: string | null = null;
  try {
    const text = readFileSync(file).toString('latin1');
    const ids: number[] = [];
    const sourceId = /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [0-9a-f]{20,}/g;
    for (let match = sourceId.exec(text); match !== null; match = sourceId.exec(text)) ids.push(match.index);
    if (ids.length > 0) {
      // A NUL-terminated `3.x.y` that does not continue a longer printable string.
      const pattern = /(?<![\x20-\x7e])(3\.\d{1,2}\.\d{1,2})\0/g;
      let best: { version: string; distance: number } | null = null;
      for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
        const distance = Math.min(...ids.map((id) => Math.abs(id - match.index)));
        if (best === null || distance < best.distance) best = { version: match[1] ?? '', distance };
      }
      if (best !== null && best.distance < 1024 * 1024) version = best.version;
    }
  } catch {
    version = null;
  }
  versionCache.set(key, version);
  return version;
}

/** Path of a mapped file as this process can read it: through the process's root first (other mount namespaces), then as is. */
function readablePath(pid: number, path: string, procRoot: string): string[] {
  return [`${procRoot}/${pid}/root${path}`, path];
}

/** Finds the SQLite library mapped into `pid` and its version; null when the process mapped none. */
export function identifySqliteLibrary(pid: number, options: { procRoot?: string } = {}): SqliteLibrary | null {
  const procRoot = options.procRoot ?? '/proc';
  const candidates = mappedSqliteCandidates(pid, procRoot);
  if (candidates.length === 0) return null;
  for (const path of candidates) {
    for (const readable of readablePath(pid, path, procRoot)) {
      const version = readEmbeddedSqliteVersion(readable);
      if (version !== null) return { path, version, method: 'embedded-version', package: null };
    }
  }
  for (const path of candidates) {
    const owner = packageOwning(path);
    if (owner !== null) {
      const upstream = owner.version.replace(/^\d+:/, '').split(/[-+~]/)[0] ?? '';
      if (/^3\.\d+\.\d+$/.test(upstream)) return { path, version: upstream, method: 'package', package: `${owner.name} ${owner.version}` };
    }
  }
  return { path: candidates[0] ?? '', version: null, method: 'unknown', package: null };
}

const packageCache = new Map<string, { name: string; version: string } | null>();

/** The dpkg package that installed `path`, and its version; null without dpkg or when none did. */
export function packageOwning(path: string, dpkgRoot = '/var/lib/dpkg'): { name: string; version: string } | null {
  const cached = packageCache.get(path);
  if (cached !== undefined) return cached;
  let answer: { name: string; version: string } | null = null;
  try {
    // usrmerge: dpkg may list /lib/... for a file the process mapped as /usr/lib/... (or the reverse).
    const spellings = new Set([path, path.replace(/^\/usr\//, '/'), path.startsWith('/usr/') ? path : `/usr${path}`]);
    const info = `${dpkgRoot}/info`;
    let owner: string | null = null;
    for (const name of readdirSync(info)) {
      if (!name.endsWith('.list')) continue;
      const lines = readFileSync(`${info}/${name}`, 'utf8').split('\n');
      if (lines.some((line) => spellings.has(line))) {
        owner = name.slice(0, -'.list'.length).split(':')[0] ?? null;
        break;
      }
    }
    if (owner !== null) {
      const status = readFileSync(`${dpkgRoot}/status`, 'utf8');
      for (const stanza of status.split('\n\n')) {
        if (!new RegExp(`^Package: ${owner.replace(/[.+]/g, '\\$&')}$`, 'm').test(stanza)) continue;
        const version = /^Version: (.+)$/m.exec(stanza)?.[1];
        if (version !== undefined) answer = { name: owner, version };
        break;
      }
    }
  } catch {
    answer = null;
  }
  packageCache.set(path, answer);
  return answer;
}

export interface LeaseHolder {
  pid: number;
  command: string;
  /** How it was found: a lock on `<database>-lease` in /proc/locks. */
  mechanism: string;
}

/**
 * The processes holding a lock on `<database>-lease`, the single-writer lease the engine holds
 * for its lifetime (the kernel drops it when the process dies). [] when the file does not exist
 * or nobody holds it.
 */
export function findLeaseHolders(databasePath: string, options: { procRoot?: string } = {}): LeaseHolder[] {
  const procRoot = options.procRoot ?? '/proc';
  if (options.procRoot === undefined && process.platform !== 'linux') return [];
  const leasePath = `${databasePath}-lease`;
  try {
    const stats = statSync(leasePath, { bigint: true });
    const { major, minor } = splitDevice(stats.dev);
    const text = readFileSync(`${procRoot}/locks`, 'utf8');
    const pids = new Map<number, string>();
    for (const line of parseProcLocks(text)) {
      if (line.waiting || line.inode !== stats.ino) continue;
      if (line.major !== major || line.minor !== minor) {
        // Overlay file systems report another device: only a process that has the file open counts.
        if (line.pid <= 0 || !hasOpen(procRoot, line.pid, stats.dev, stats.ino)) continue;
      }
      if (line.pid > 0) pids.set(line.pid, line.mechanism);
      else for (const pid of openers(procRoot, stats.dev, stats.ino)) pids.set(pid, line.mechanism);
    }
    return [...pids].map(([pid, mechanism]) => ({ pid, command: readCommandLine(pid, procRoot), mechanism }));
  } catch {
    return [];
  }
}

function hasOpen(procRoot: string, pid: number, dev: bigint, ino: bigint): boolean {
  try {
    for (const fd of readdirSync(`${procRoot}/${pid}/fd`)) {
      try {
        const stats = statSync(`${procRoot}/${pid}/fd/${fd}`, { bigint: true });
        if (stats.ino === ino && stats.dev === dev) return true;
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    // gone
  }
  return false;
}

function openers(procRoot: string, dev: bigint, ino: bigint): number[] {
  return listPids(procRoot).filter((pid) => hasOpen(procRoot, pid, dev, ino));
}
