/**
 * What SQLite's WAL cut costs inside a COMMIT (the reason for src/writer/thread/wal-trim.ts):
 * a WAL grown to `--mb` megabytes behind a reader's snapshot is checkpointed once the reader
 * lets go, and the next one-row transaction is timed, with journal_size_limit at 16 MiB (the
 * COMMIT cuts the file) and at -1 (it does not).
 *
 *   node dist/bench/wal-cut.js [--mb 160] [--runs 2]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

export function walCut(megabytes: number, limitBytes: number): { walMb: number; commitMs: number; walMbAfter: number } {
  const dir = mkdtempSync(join(tmpdir(), 'league-backfill-wal-cut-'));
  const path = join(dir, 'cut.db');
  const writer = new Database(path);
  const reader = new Database(path);
  try {
    writer.pragma('journal_mode = WAL');
    writer.pragma('synchronous = NORMAL');
    writer.pragma('wal_autocheckpoint = 0');
    writer.pragma(`journal_size_limit = ${limitBytes}`);
    writer.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    const insert = writer.prepare('INSERT INTO t (body) VALUES (?)');
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM t').get();
    const body = 'x'.repeat(300);
    while (statSync(`${path}-wal`).size < megabytes * 1e6) writer.transaction(() => { for (let i = 0; i < 10_000; i++) insert.run(body); })();
    const walMb = statSync(`${path}-wal`).size / 1e6;
    reader.exec('COMMIT');
    writer.pragma('wal_checkpoint(PASSIVE)');
    writer.exec('BEGIN IMMEDIATE');
    insert.run('one more row');
    const started = performance.now();
    writer.exec('COMMIT');
    return { walMb, commitMs: performance.now() - started, walMbAfter: statSync(`${path}-wal`).size / 1e6 };
  } finally {
    reader.close();
    writer.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const value = (name: string, fallback: number): number => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
  const megabytes = value('--mb', 160);
  const runs = value('--runs', 2);
  for (let run = 1; run <= runs; run++) {
    for (const [label, limit] of [['journal_size_limit 16 MiB', 16 * 1024 * 1024], ['journal_size_limit -1', -1]] as const) {
      const result = walCut(megabytes, limit);
      process.stdout.write(`run ${run}, ${label}: WAL ${result.walMb.toFixed(0)} MB, the first COMMIT after the checkpoint took ${result.commitMs.toFixed(1)} ms, WAL now ${result.walMbAfter.toFixed(1)} MB\n`);
    }
  }
}
