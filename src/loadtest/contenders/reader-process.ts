/**
 * A reader contender: a dashboard or a notebook running analytics queries over the
 * transactions in a loop, through its own connection with better-sqlite3's default settings
 * (a 5 s busy timeout), read-only. Reports queries, their latency and every error.
 *
 * This file is a process entry: it is never exported from the package.
 */
import Database from 'better-sqlite3';
import { summarizeLatencies } from '../stats.js';
import { ErrorTally, printReport, readSettings, runRounds } from './child.js';
import type { ContenderSettings } from './protocol.js';

/** Aggregations a league analyst runs: by league and type, busiest teams, per-season volume, players moved most. */
const ANALYTICS_QUERIES = [
  'SELECT league_key, type, count(*) AS moves FROM transactions GROUP BY league_key, type',
  'SELECT destination_team_key, count(*) AS adds FROM transactions WHERE destination_team_key IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 5',
  "SELECT strftime('%Y', timestamp, 'unixepoch') AS year, count(*) AS moves, count(DISTINCT transaction_key) AS transactions FROM transactions GROUP BY 1",
  'SELECT player_id, count(*) AS moves FROM transactions GROUP BY player_id ORDER BY moves DESC LIMIT 10',
  'SELECT status, count(*) FROM job_log GROUP BY status',
];

const settings = readSettings<ContenderSettings>();
const db = new Database(settings.database, { readonly: true });
const statements = ANALYTICS_QUERIES.map((sql) => db.prepare(sql));
const errors = new ErrorTally();
const latencies: number[] = [];

const elapsedMs = await runRounds(settings, () => {
  for (const statement of statements) {
    const started = performance.now();
    try {
      statement.all();
      latencies.push(performance.now() - started);
    } catch (error) {
      errors.add(error);
    }
  }
});
db.close();
printReport({
  kind: 'reader',
  queries: latencies.length,
  errors: errors.count,
  errorCodes: errors.codes,
  messages: errors.messages,
  elapsedMs,
  latency: summarizeLatencies(latencies),
});
