/**
 * One thread of the old backfill scripts: its own connection with better-sqlite3's default
 * settings, and each 100-row batch in a deferred transaction (`BEGIN` ... `COMMIT`). A batch
 * that fails is rolled back, counted and not retried: its rows are lost, as they were.
 *
 * This file is a thread entry for bench/legacy.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database, { type Statement } from 'better-sqlite3';
import { insertTransactionSql } from '../src/db/schema.js';
import { isLockError } from '../src/errors.js';
import { jobColumns } from './lib.js';
import type { RowTuple } from '../src/model/index.js';

export interface LegacyThreadData {
  database: string;
  /** A busy timeout to set (ms); none keeps better-sqlite3's default (5000). */
  busyTimeoutMs?: number;
  batches: Array<{ jobId: string; rows: RowTuple[] }>;
}

export interface LegacyThreadReport {
  batchesCommitted: number;
  rowsCommitted: number;
  lockErrors: number;
  otherErrors: number;
  messages: string[];
}

const { database, batches, busyTimeoutMs } = workerData as LegacyThreadData;
const db = busyTimeoutMs === undefined ? new Database(database) : new Database(database, { timeout: busyTimeoutMs });
const INSERT = insertTransactionSql();
// Prepared at the first batch, inside its try: preparing reads the schema, which a lock can refuse too.
let insert: Statement | undefined;
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * A COMMIT that failed on a lock leaves the transaction open, and with no busy timeout even
 * its ROLLBACK can find the file locked: try again until the connection is out of it.
 */
function rollBack(): void {
  for (let attempt = 1; db.inTransaction; attempt++) {
    try {
      db.exec('ROLLBACK');
    } catch (error) {
      if (!isLockError(error) || attempt >= 5000) throw error;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

const report: LegacyThreadReport = { batchesCommitted: 0, rowsCommitted: 0, lockErrors: 0, otherErrors: 0, messages: [] };
for (const batch of batches) {
  try {
    insert ??= db.prepare(INSERT);
    db.exec('BEGIN');
    let inserted = 0;
    for (const row of batch.rows) inserted += insert.run(...row, ...jobColumns(batch.jobId)).changes;
    db.exec('COMMIT');
    report.batchesCommitted++;
    report.rowsCommitted += inserted;
  } catch (error) {
    rollBack();
    if (isLockError(error)) report.lockErrors++;
    else report.otherErrors++;
    const message = `${(error as { code?: string }).code}: ${(error as Error).message}`;
    if (report.messages.length < 3 && !report.messages.includes(message)) report.messages.push(message);
  }
}
db.close();
parentPort!.postMessage(report);
