/**
 * A reader contender: a dashboard or a notebook running analytics queries over the
 * transactions in a loop, through its own read-only connection with SQLite's busy handler (a
 * 5 s timeout by default). Reports queries, their latency and every error.
 *
 * This file is a process entry: it is never exported from the package.
 */
import Database from 'better-sqlite3';
import { openDatabase } from '../../db/open.js';
import { summarizeLatencies } from '../stats.js';
import { ErrorTally, printEvent, readSettings, runRounds } from './child.js';
import type { ConnectionPragmas, ReaderSettings } from './protocol.js';

/** Aggregations a league analyst runs: by league and type, busiest teams, per-season volume, players moved most. */
const ANALYTICS_QUERIES = [
  'SELECT league_key, type, count(*) AS moves FROM transactions GROUP BY league_key, type',
  'SELECT destination_team_key, count(*) AS adds FROM transactions WHERE destination_team_key IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 5',
  "SELECT strftime('%Y', timestamp, 'unixepoch') AS year, count(*) AS moves, count(DISTINCT transaction_key) AS transactions FROM transactions GROUP BY 1",
  'SELECT player_id, count(*) AS moves FROM transactions GROUP BY player_id ORDER BY moves DESC LIMIT 10',
  'SELECT status, count(*) FROM job_log GROUP BY status',
];

/** The same work every time: the rows up to the rowid that was the last when the reader started. */
const GROUP_BY_QUERY = 'SELECT league_key, type, count(*) AS moves FROM transactions WHERE rowid <= ? GROUP BY league_key, type';

const settings = readSettings<ReaderSettings>();
const db = settings.open
  ? openDatabase({ path: settings.database, readonly: true, flags: settings.open.flags, workload: settings.open.workload, busyTimeoutMs: settings.busyTimeoutMs ?? 5000 }).db
  : new Database(settings.database, { readonly: true, timeout: settings.busyTimeoutMs ?? 5000 });
const pragma = (name: string): unknown => db.pragma(name, { simple: true });
const pragmas: ConnectionPragmas = {
  journalMode: String(pragma('journal_mode')),
  synchronous: Number(pragma('synchronous')),
  cacheSize: Number(pragma('cache_size')),
  mmapSize: Number(pragma('mmap_size') ?? 0),
  tempStore: Number(pragma('temp_store')),
  walAutocheckpoint: Number(pragma('wal_autocheckpoint')),
};
const errors = new ErrorTally();
const latencies: number[] = [];
const rounds: Array<() => unknown> = [];
if (settings.queries === 'group-by') {
  const bound = Number(db.prepare('SELECT coalesce(max(rowid), 0) FROM transactions').pluck().get());
  const statement = db.prepare(GROUP_BY_QUERY);
  rounds.push(() => statement.all(bound));
} else {
  for (const sql of ANALYTICS_QUERIES) {
    const statement = db.prepare(sql);
    rounds.push(() => statement.all());
  }
}

const elapsedMs = await runRounds(settings, () => {
  for (const query of rounds) {
    const started = performance.now();
    try {
      query();
      latencies.push(performance.now() - started);
    } catch (error) {
      errors.add(error);
    }
  }
});
db.close();
printEvent({
  event: 'result',
  kind: 'reader',
  pid: process.pid,
  queries: latencies.length,
  pragmas,
  ...errors.fields(),
  elapsedMs,
  latency: summarizeLatencies(latencies),
});
