// A reader process: runs analytics queries over `transactions` in a loop, as a dashboard or a
// notebook would, and reports how many succeeded and every error it saw.
// Usage: node reader.mjs DB DURATION_MS  -> prints one JSON line {queries, errors, messages}
import Database from 'better-sqlite3';

const [path, durationArg] = process.argv.slice(2);
const until = Date.now() + Number(durationArg);
const db = new Database(path, { readonly: true, timeout: 0 });
const queries = [
  'SELECT league_key, type, count(*) AS n FROM transactions GROUP BY league_key, type',
  'SELECT destination_team_key, count(*) AS adds FROM transactions WHERE destination_team_key IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 5',
  'SELECT count(*) AS n, count(DISTINCT transaction_key) AS t FROM transactions',
  "SELECT status, count(*) FROM job_log GROUP BY status",
];
let ok = 0;
const errors = [];
while (Date.now() < until) {
  for (const sql of queries) {
    try {
      db.prepare(sql).all();
      ok++;
    } catch (error) {
      errors.push(`${error.code ?? ''} ${error.message}`);
    }
  }
}
db.close();
process.stdout.write(`${JSON.stringify({ queries: ok, errors: errors.length, messages: [...new Set(errors)].slice(0, 5) })}\n`);
