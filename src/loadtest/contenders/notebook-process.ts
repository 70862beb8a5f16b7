/**
 * A notebook contender: an analyst's session that runs a query inside a read transaction and
 * leaves it open (`BEGIN; SELECT ...`, then nothing for a while), as a Jupyter cell or a
 * forgotten cursor does. While it is open its snapshot pins the WAL: no checkpoint can go past
 * it, so the WAL cannot be reset and grows. It says `open` (with its pid) the moment each read
 * transaction holds its snapshot, and `released` when it let go.
 *
 * This file is a process entry: it is never exported from the package.
 */
import Database from 'better-sqlite3';
import { setTimeout as sleep } from 'node:timers/promises';
import { summarizeLatencies } from '../stats.js';
import { ErrorTally, printEvent, readSettings, stopSignal, walBytes } from './child.js';
import type { NotebookHold, NotebookSettings } from './protocol.js';

const NOTEBOOK_QUERY = 'SELECT type, count(*) AS moves, count(DISTINCT league_key) AS leagues FROM transactions GROUP BY type';

const settings = readSettings<NotebookSettings>();
const db = new Database(settings.database, { timeout: settings.busyTimeoutMs ?? 5000 });
const query = db.prepare(NOTEBOOK_QUERY);
const errors = new ErrorTally();
const holds: NotebookHold[] = [];
const stop = stopSignal(settings.maxMs);

/** Sleeps `ms`, waking early when told to stop. */
async function idle(ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (!stop.stopped && performance.now() < until) await sleep(Math.min(50, until - performance.now()));
}

printEvent({ event: 'ready', pid: process.pid });
const started = performance.now();
await idle(settings.startDelayMs ?? 0);
for (let hold = 1; hold <= (settings.holds ?? 1) && !stop.stopped; hold++) {
  if (hold > 1) await idle(settings.pauseMs ?? 0);
  if (stop.stopped) break;
  const opening = performance.now();
  try {
    db.exec('BEGIN');
    // The snapshot is taken by the first read, not by BEGIN.
    query.all();
  } catch (error) {
    errors.add(error);
    if (db.inTransaction) db.exec('ROLLBACK');
    continue;
  }
  const opened = performance.now();
  const walBytesAtOpen = walBytes(settings.database);
  printEvent({ event: 'open', pid: process.pid, hold, walBytes: walBytesAtOpen });
  await idle(settings.holdMs);
  db.exec('COMMIT');
  const walBytesAtRelease = walBytes(settings.database);
  holds.push({ openMs: opened - opening, heldMs: performance.now() - opened, walBytesAtOpen, walBytesAtRelease });
  printEvent({ event: 'released', pid: process.pid, hold, walBytes: walBytesAtRelease });
}
const elapsedMs = performance.now() - started;
stop.dispose();
db.close();
printEvent({
  event: 'result',
  kind: 'notebook',
  pid: process.pid,
  holds,
  ...errors.fields(),
  elapsedMs,
  latency: summarizeLatencies(holds.map((hold) => hold.openMs)),
});
