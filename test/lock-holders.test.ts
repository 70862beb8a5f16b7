import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  classifyLock,
  describeHolders,
  findLockHolders,
  parseProcLocks,
  splitDevice,
  writeLockHolders,
  type LockHolder,
} from '../src/db/locking/lock-holders.js';
import { holdWriteLock, type HeldLock } from './helpers/processes.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('league-backfill-locks-');
const onLinux = process.platform === 'linux';
const held: HeldLock[] = [];

afterEach(async () => {
  for (const lock of held.splice(0)) {
    lock.process.kill('SIGTERM');
    await lock.released.catch(() => undefined);
  }
});

function createDatabase(journalMode: 'wal' | 'delete'): string {
  const path = join(tempDir(), 'league.db');
  const db = new BetterSqlite3(path);
  db.pragma(`journal_mode = ${journalMode}`);
  db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, note TEXT)');
  db.close();
  return path;
}

async function holdLock(path: string): Promise<number> {
  const lock = await holdWriteLock(path, 30_000);
  held.push(lock);
  return lock.process.pid ?? -1;
}

function holdersOf(holders: LockHolder[], pid: number): LockHolder[] {
  return holders.filter((holder) => holder.pid === pid);
}

describe.runIf(onLinux)('who holds the lock, read from /proc/locks', () => {
  it('names the other process and its WAL write lock on the -shm file in WAL mode', async () => {
    const path = createDatabase('wal');
    const pid = await holdLock(path);
    const holders = findLockHolders(path);
    const theirs = holdersOf(holders, pid);
    expect(theirs).toContainEqual(expect.objectContaining({ pid, lock: 'write', file: 'shm', type: 'WRITE', self: false, mechanism: 'POSIX' }));
    expect(theirs[0]?.command).toMatch(/lock-holder\.mjs .*league\.db 30000/);
    expect(writeLockHolders(holders).map((h) => h.pid)).toEqual([pid]);
    expect(describeHolders(writeLockHolders(holders))).toMatch(new RegExp(`^pid ${pid} \\(.*lock-holder\\.mjs.*\\) holds the write lock$`));
  });

  it('names the other process and its RESERVED lock on the database file in rollback-journal mode', async () => {
    const path = createDatabase('delete');
    const pid = await holdLock(path);
    const holders = findLockHolders(path);
    expect(holdersOf(holders, pid)).toContainEqual(expect.objectContaining({ pid, lock: 'reserved', file: 'db', type: 'WRITE', self: false }));
    // BEGIN IMMEDIATE also keeps its SHARED lock: both are named, strongest first.
    expect(describeHolders(holdersOf(holders, pid))).toMatch(new RegExp(`^pid ${pid} \\(.*\\) holds the reserved lock and a shared lock$`));
  });

  it('reports no write lock once the holder has released it, and none on a file nobody has open', async () => {
    const path = createDatabase('wal');
    const lock = await holdWriteLock(path, 50);
    await lock.released;
    expect(writeLockHolders(findLockHolders(path))).toEqual([]);
    expect(findLockHolders(createDatabase('delete'))).toEqual([]);
    expect(findLockHolders(join(tempDir(), 'missing.db'))).toEqual([]);
  });

  it('marks a lock this process holds as self, with this pid', () => {
    const path = createDatabase('wal');
    const db = new BetterSqlite3(path);
    try {
      db.exec('BEGIN IMMEDIATE');
      const mine = writeLockHolders(findLockHolders(path));
      expect(mine).toEqual([expect.objectContaining({ pid: process.pid, lock: 'write', self: true })]);
      expect(describeHolders(mine)).toContain('[this process] holds the write lock');
      db.exec('ROLLBACK');
    } finally {
      db.close();
    }
  });

  const python = spawnSync('python3', ['-c', 'import fcntl; fcntl.F_OFD_SETLK'], { stdio: 'ignore' }).status === 0;
  it.runIf(python)('finds the process behind an OFD lock, which /proc/locks lists with pid -1', async () => {
    const dir = tempDir();
    const path = join(dir, 'league.db');
    writeFileSync(path, '');
    writeFileSync(`${path}-shm`, Buffer.alloc(32_768));
    const script = [
      'import fcntl, os, struct, sys, time',
      "fd = os.open(sys.argv[1], os.O_RDWR)",
      "fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack('hhqqi', fcntl.F_WRLCK, 0, 120, 1, 0))",
      "print('locked', flush=True)",
      'time.sleep(30)',
    ].join('\n');
    const child = spawn('python3', ['-c', script, `${path}-shm`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => chunk.includes('locked') && resolve());
        child.on('exit', (code) => reject(new Error(`python exited ${code}`)));
      });
      const holders = findLockHolders(path);
      expect(holders).toEqual([expect.objectContaining({ pid: child.pid, lock: 'write', file: 'shm', mechanism: 'OFDLCK', self: false })]);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('returns [] when /proc cannot be read', () => {
    expect(findLockHolders(createDatabase('wal'), { procRoot: join(tempDir(), 'no-proc') })).toEqual([]);
  });
});

describe('reading /proc/locks lines', () => {
  it('parses the kernel format: hex device, decimal inode, EOF ends, blocked waiters marked', () => {
    const lines = parseProcLocks([
      '1: POSIX  ADVISORY  WRITE 19301 fe:00:2146736 120 120',
      '2: POSIX  ADVISORY  READ 19301 fe:00:2146733 1073741826 1073742335',
      '3: OFDLCK ADVISORY  WRITE -1 00:2a:18446744073709551 0 EOF',
      '3: -> POSIX  ADVISORY  WRITE 19400 fe:00:2146736 120 120',
      'garbage',
    ].join('\n'));
    expect(lines).toHaveLength(4);
    expect(lines[0]).toEqual({ mechanism: 'POSIX', type: 'WRITE', pid: 19301, major: 254, minor: 0, inode: 2146736n, start: 120, end: 120, waiting: false });
    expect(lines[2]).toMatchObject({ mechanism: 'OFDLCK', pid: -1, major: 0, minor: 42, inode: 18446744073709551n, end: null });
    expect(lines[3]).toMatchObject({ pid: 19400, waiting: true });
  });

  it('splits st_dev the way glibc does', () => {
    expect(splitDevice(65024n)).toEqual({ major: 254, minor: 0 });
    // major 259, minor 65537: both need the high bits
    const dev = (259n & 0xfffn) << 8n | (259n & ~0xfffn) << 32n | (65537n & 0xffn) | (65537n & ~0xffn) << 12n;
    expect(splitDevice(dev)).toEqual({ major: 259, minor: 65537 });
  });

  it('classifies SQLite lock bytes, naming a merged range by its strongest lock', () => {
    expect(classifyLock('db', 'WRITE', 1073741825, 1073741825).lock).toBe('reserved');
    expect(classifyLock('db', 'WRITE', 1073741824, 1073741824).lock).toBe('pending');
    expect(classifyLock('db', 'READ', 1073741826, 1073742335).lock).toBe('shared');
    expect(classifyLock('db', 'WRITE', 1073741824, 1073742335).lock).toBe('exclusive'); // PENDING+RESERVED+SHARED merged
    expect(classifyLock('db', 'WRITE', 0, null).lock).toBe('exclusive');
    expect(classifyLock('db', 'READ', 0, 100).lock).toBe('other');
    expect(classifyLock('shm', 'WRITE', 120, 120)).toEqual({ lock: 'write', detail: 'WAL write lock' });
    expect(classifyLock('shm', 'WRITE', 120, 122)).toEqual({ lock: 'write', detail: 'WAL write, checkpoint, recover locks' });
    expect(classifyLock('shm', 'WRITE', 121, 121).lock).toBe('checkpoint');
    expect(classifyLock('shm', 'READ', 124, 124)).toEqual({ lock: 'read', detail: 'read mark 1 lock' });
    expect(classifyLock('shm', 'READ', 128, 128).lock).toBe('other');
  });
});
