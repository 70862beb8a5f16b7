/**
 * A legacy writer contender: a script of the old system, with its own connection, SQLite's own
 * busy handler (`timeout`, 5 s by default) and no retry of its own, writing small deferred
 * transactions (`BEGIN` ... `COMMIT`) in a loop into its own table. A transaction that fails
 * is rolled back and counted, and its rows are not written: that is how the old scripts lost
 * rows, and what a neighbour of the engine must never see.
 *
 * This file is a process entry: it is never exported from the package.
 */
import Database from 'better-sqlite3';
import { summarizeLatencies } from '../stats.js';
import { ErrorTally, printEvent, readSettings, runRounds } from './child.js';
import { isContenderTable, type LegacyWriterSettings } from './protocol.js';

const settings = readSettings<LegacyWriterSettings>();
if (!isContenderTable(settings.table)) throw new Error(`not a table a contender may write to: ${settings.table}`);
const db = new Database(settings.database, { timeout: settings.busyTimeoutMs ?? 5000 });
// Its own table, made when missing, as an old script does on its first run: inside the first
// round, so that a lock met there is counted like any other (IF NOT EXISTS writes nothing once
// the table is there).
const createTable = `CREATE TABLE IF NOT EXISTS ${settings.table} (id INTEGER PRIMARY KEY, writer TEXT NOT NULL, seq INTEGER NOT NULL, payload TEXT, written_at INTEGER)`;
let insert: Database.Statement | undefined;
const errors = new ErrorTally();
const pause = new Int32Array(new SharedArrayBuffer(4));

/** A COMMIT that failed on a lock leaves the transaction open, and its ROLLBACK may find the file locked too: try again. */
function rollBack(): void {
  for (let attempt = 1; db.inTransaction; attempt++) {
    try {
      db.exec('ROLLBACK');
    } catch (error) {
      if (attempt >= 5000) throw error;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}
const latencies: number[] = [];
const attempts: number[] = [];
let transactions = 0;
let rowsCommitted = 0;

const elapsedMs = await runRounds(settings, () => {
  const started = performance.now();
  try {
    if (!insert) {
      db.exec(createTable);
      insert = db.prepare(`INSERT INTO ${settings.table} (writer, seq, payload, written_at) VALUES (?, ?, ?, ?)`);
    }
    db.exec('BEGIN');
    for (let i = 0; i < settings.rowsPerTransaction; i++) {
      insert.run(settings.writer, rowsCommitted + i, `note ${rowsCommitted + i} of ${settings.writer}`, Date.now());
    }
    db.exec('COMMIT');
    latencies.push(performance.now() - started);
    transactions++;
    rowsCommitted += settings.rowsPerTransaction;
  } catch (error) {
    errors.add(error);
    rollBack();
  }
  attempts.push(performance.now() - started);
});
db.close();
printEvent({
  event: 'result',
  kind: 'legacy-writer',
  pid: process.pid,
  writer: settings.writer,
  transactions,
  rowsCommitted,
  ...errors.fields(),
  elapsedMs,
  latency: summarizeLatencies(latencies),
  attemptLatency: summarizeLatencies(attempts),
});
