/**
 * db/doctor/wal-index.ts reads the -shm file's header as a plain file. Checked against SQLite's
 * own figures: `PRAGMA wal_checkpoint` returns the frames in the WAL and the frames copied, which
 * the header must say too, while a real reader pins part of the WAL.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { readWalIndex, uncheckpointedBytes } from '../src/db/doctor/wal-index.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('league-backfill-wal-index-');

describe('the WAL index header', () => {
  it('says what PRAGMA wal_checkpoint says: frames in the WAL, frames copied, and the bytes not yet copied', () => {
    const path = join(tempDir(), 'index.db');
    const writer = new BetterSqlite3(path);
    const reader = new BetterSqlite3(path, { readonly: true });
    try {
      writer.pragma('journal_mode = WAL');
      writer.pragma('wal_autocheckpoint = 0');
      writer.exec('CREATE TABLE notes (body BLOB)');
      const insert = writer.prepare('INSERT INTO notes VALUES (randomblob(3000))');
      for (let i = 0; i < 200; i++) insert.run();
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM notes').get();
      for (let i = 0; i < 300; i++) insert.run();

      const [partial] = writer.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
      expect(partial!.checkpointed).toBeGreaterThan(0);
      expect(partial!.checkpointed).toBeLessThan(partial!.log);
      const pinned = readWalIndex(path)!;
      expect(pinned).toMatchObject({ mxFrame: partial!.log, nBackfill: partial!.checkpointed, pageSize: writer.pragma('page_size', { simple: true }) });
      expect(uncheckpointedBytes(pinned)).toBe((partial!.log - partial!.checkpointed) * (pinned.pageSize + 24));

      reader.exec('COMMIT');
      const [complete] = writer.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
      expect(complete).toEqual({ busy: 0, log: partial!.log, checkpointed: partial!.log });
      expect(uncheckpointedBytes(readWalIndex(path)!)).toBe(0);
      // The next commit starts the WAL over: a few frames, in a file as large as before.
      insert.run();
      const restarted = readWalIndex(path)!;
      expect(restarted.mxFrame).toBeGreaterThan(0);
      expect(restarted.mxFrame).toBeLessThan(10);
      expect(restarted.nBackfill).toBe(0);
    } finally {
      reader.close();
      writer.close();
    }
  });

  it('is null without a -shm file, and for a -shm file that is not a WAL index', () => {
    const dir = tempDir();
    expect(readWalIndex(join(dir, 'none.db'))).toBeNull();
    writeFileSync(join(dir, 'other.db-shm'), Buffer.alloc(200, 7));
    expect(readWalIndex(join(dir, 'other.db'))).toBeNull();
    writeFileSync(join(dir, 'short.db-shm'), Buffer.alloc(20));
    expect(readWalIndex(join(dir, 'short.db'))).toBeNull();
  });
});
