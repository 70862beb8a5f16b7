// A second process that writes without pause: small transactions into `transactions`, one
// after another, for DURATION_MS, as a running backfill does. Prints "writing" after its first
// commit and, at the end, one JSON line {transactions, rows, lockErrors, maxCommitMs}.
// Usage: node continuous-writer.mjs DB DURATION_MS [ROWS_PER_TRANSACTION]
import Database from 'better-sqlite3';

const [path, durationArg, rowsArg = '5'] = process.argv.slice(2);
const until = Date.now() + Number(durationArg);
const rowsPerTransaction = Number(rowsArg);
const db = new Database(path, { timeout: 5000 });
const insert = db.prepare(`INSERT INTO transactions (transaction_key, player_id, type, timestamp, league_key, job_id)
  VALUES (?, ?, 'add', ?, 'cw.l.1', 'continuous-writer')`);
const commit = db.transaction((first) => {
  for (let i = 0; i < rowsPerTransaction; i++) insert.run(`cw.${process.pid}.${first + i}`, `p${i}`, first + i);
});
let stopping = false;
process.on('SIGTERM', () => { stopping = true; });
const report = { transactions: 0, rows: 0, lockErrors: 0, maxCommitMs: 0 };
while (!stopping && Date.now() < until) {
  const started = performance.now();
  try {
    commit.immediate(report.rows);
    report.transactions++;
    report.rows += rowsPerTransaction;
    if (report.transactions === 1) process.stdout.write('writing\n');
  } catch (error) {
    if (error.code !== 'SQLITE_BUSY' && error.code !== 'SQLITE_LOCKED') throw error;
    report.lockErrors++;
  }
  report.maxCommitMs = Math.max(report.maxCommitMs, performance.now() - started);
  // Let SIGTERM through now and then; the loop is otherwise synchronous.
  if (report.transactions % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
}
db.close();
process.stdout.write(`${JSON.stringify(report)}\n`);
