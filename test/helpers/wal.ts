import BetterSqlite3 from 'better-sqlite3';

/**
 * A WAL held back and then reused, with real connections on the file: `pinned()` leaves about
 * 4 MB a notebook's open read transaction keeps from being checkpointed; `reused()` lets the
 * notebook go, checkpoints everything and commits one row, which starts the WAL over at the
 * start of a file a connection without journal_size_limit (a legacy script's) leaves as large.
 */
export interface PinnedWal {
  pinned(): void;
  reused(): void;
  close(): void;
}

export function pinnedWal(path: string): PinnedWal {
  const writer = new BetterSqlite3(path);
  const notebook = new BetterSqlite3(path, { readonly: true });
  writer.exec('CREATE TABLE notes (body BLOB)');
  const insert = writer.prepare('INSERT INTO notes VALUES (randomblob(4000))');
  return {
    pinned() {
      notebook.exec('BEGIN');
      notebook.prepare('SELECT count(*) FROM notes').get();
      for (let i = 0; i < 1000; i++) insert.run();
    },
    reused() {
      notebook.exec('COMMIT');
      const [result] = writer.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
      if (result === undefined || result.busy !== 0 || result.checkpointed !== result.log) {
        throw new Error(`the checkpoint did not copy the whole WAL: ${JSON.stringify(result)}`);
      }
      insert.run();
    },
    close() {
      notebook.close();
      writer.close();
    },
  };
}
