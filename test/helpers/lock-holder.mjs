// A second process that takes SQLite's write lock and holds it: the contention the engine
// must wait out. Prints "locked" once it holds the lock, then holds it for HOLD_MS.
// Usage: node lock-holder.mjs DB HOLD_MS [REPEAT] [GAP_MS]
import Database from 'better-sqlite3';

const [path, holdArg, repeatArg = '1', gapArg = '0'] = process.argv.slice(2);
const holdMs = Number(holdArg);
const repeat = Number(repeatArg);
const gapMs = Number(gapArg);
const db = new Database(path, { timeout: 10_000 });
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
db.exec('CREATE TABLE IF NOT EXISTS holder_notes (id INTEGER PRIMARY KEY, note TEXT)');
for (let i = 0; i < repeat; i++) {
  db.exec('BEGIN IMMEDIATE');
  db.prepare('INSERT INTO holder_notes (note) VALUES (?)').run(`held ${holdMs} ms`);
  if (i === 0) process.stdout.write('locked\n');
  sleep(holdMs);
  db.exec('COMMIT');
  if (gapMs > 0) sleep(gapMs);
}
db.close();
process.stdout.write('released\n');
