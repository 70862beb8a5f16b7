/**
 * A legacy writer contender: a script of the old system, with its own connection and
 * better-sqlite3's default settings (5 s busy timeout, the journal mode the file has), writing
 * small deferred transactions (`BEGIN` ... `COMMIT`) in a loop. A transaction that fails is
 * rolled back and counted, and its rows are not written: that is how the old scripts lost rows.
 *
 * This file is a process entry: it is never exported from the package.
 */
import Database from 'better-sqlite3';
import { summarizeLatencies } from '../stats.js';
import { ErrorTally, printReport, readSettings, runRounds } from './child.js';
import type { LegacyWriterSettings } from './protocol.js';

const settings = readSettings<LegacyWriterSettings>();
if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(settings.table)) throw new Error(`not a table name: ${settings.table}`);
const db = new Database(settings.database);
const insert = db.prepare(`INSERT INTO ${settings.table} (writer, seq, payload, written_at) VALUES (?, ?, ?, ?)`);
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
let transactions = 0;
let rowsCommitted = 0;

const elapsedMs = await runRounds(settings, () => {
  const started = performance.now();
  try {
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
});
db.close();
printReport({
  kind: 'legacy-writer',
  writer: settings.writer,
  transactions,
  rowsCommitted,
  errors: errors.count,
  errorCodes: errors.codes,
  messages: errors.messages,
  elapsedMs,
  latency: summarizeLatencies(latencies),
});
