// Measures each way of backing up against a second process that writes continuously
// (continuous-writer.mjs: small transactions back to back), on identical copies of one seed
// database. The figures at the top of src/db/backup.ts come from this script.
// Usage (after `npm run build`): node test/helpers/backup-under-load.mjs [ROWS=200000] [REPEATS=3] [GIVE_UP_MS=20000]
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { backupDatabase } from '../../dist/src/db/backup.js';
import { openDatabase } from '../../dist/src/db/open.js';
import { DEFAULT_FLAGS } from '../../dist/src/flags/index.js';

const [rows = 200_000, repeats = 3, giveUpMs = 20_000] = process.argv.slice(2).map(Number);
const WRITER = fileURLToPath(new URL('./continuous-writer.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'league-backfill-backup-load-'));
const mib = (bytes) => Math.round((bytes / 1048576) * 10) / 10;

function makeSeed(path) {
  const { db } = openDatabase({ path, flags: DEFAULT_FLAGS });
  const insert = db.prepare(`INSERT INTO transactions (transaction_key, transaction_id, type, timestamp, status, player_id, player_name,
    source_team_key, source_team_name, destination_team_key, destination_team_name, league_key, job_id)
    VALUES (?, ?, 'add/drop', ?, 'successful', ?, ?, '423.l.1.t.1', 'Team One', '423.l.1.t.2', 'Team Two', '423.l.1', 'seed')`);
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(`423.l.1.tr.${i}`, i, 1_600_000_000 + i, `423.p.${i % 997}`, `Player ${i % 997}`);
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

function startWriter(path) {
  const child = spawn(process.execPath, [WRITER, path, String(giveUpMs + 30_000), '5'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => { out += chunk; });
  const writing = new Promise((resolve) => child.stdout.on('data', () => out.includes('writing') && resolve()));
  const report = new Promise((resolve) => child.on('close', () => resolve(JSON.parse(out.split('\n').find((line) => line.startsWith('{')) ?? '{}'))));
  return { writing, stop: () => { child.kill('SIGTERM'); return report; } };
}

/** better-sqlite3's backup as its documentation shows it: 100 pages a step, no read transaction held. */
async function asDocumented(source, destination) {
  const db = new Database(source, { readonly: true, timeout: 5000 });
  const deadline = Date.now() + giveUpMs;
  let steps = 0;
  let restarts = 0;
  let remaining = Infinity;
  try {
    await db.backup(destination, {
      progress: ({ remainingPages }) => {
        steps++;
        if (remainingPages > remaining) restarts++;
        remaining = remainingPages;
        if (Date.now() > deadline) throw Object.assign(new Error('gave up'), { steps, restarts });
      },
    });
    return { steps: steps + 1, restarts };
  } finally {
    db.close();
  }
}

const summarize = (result) => ({ restarts: result.pages?.restarts ?? null, ...result.timings, rowCounts: result.verification.rowCounts });

const METHODS = {
  'vacuum-into': (source, destination) => backupDatabase({ source, destination, method: 'vacuum-into' }).then(summarize),
  'api (one read transaction)': (source, destination) => backupDatabase({ source, destination, method: 'api' }).then(summarize),
  'api as documented (100 pages a step)': asDocumented,
};

const seed = join(dir, 'seed.db');
makeSeed(seed);
console.log(`seed: ${rows} rows, ${mib(statSync(seed).size)} MiB; ${repeats} runs per method, a writer committing 5-row transactions back to back`);
const results = [];
try {
  for (const [method, run] of Object.entries(METHODS)) {
    for (let i = 0; i < repeats; i++) {
      const source = join(dir, `source-${method.replace(/\W+/g, '-')}-${i}.db`);
      copyFileSync(seed, source);
      const destination = `${source}.copy`;
      const writer = startWriter(source);
      await writer.writing;
      const started = performance.now();
      let outcome;
      try {
        outcome = { finished: true, detail: await run(source, destination) };
      } catch (error) {
        outcome = { finished: false, detail: { error: error.message, steps: error.steps, restarts: error.restarts } };
      }
      const ms = performance.now() - started;
      const load = await writer.stop();
      const result = {
        method, run: i + 1, finished: outcome.finished, ms: Math.round(ms),
        copyMiB: outcome.finished ? mib(statSync(destination).size) : null,
        restarts: outcome.detail?.restarts ?? null,
        copyMs: outcome.detail?.copyMs ?? null, verifyMs: outcome.detail?.verifyMs ?? null, rowCounts: outcome.detail?.rowCounts ?? null,
        writerCommitsPerSecond: Math.round(load.transactions / (ms / 1000)),
        writerMaxCommitMs: Math.round(load.maxCommitMs), writerLockErrors: load.lockErrors,
      };
      results.push(result);
      console.log(JSON.stringify(result));
      rmSync(source, { force: true });
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${source}${suffix}`, { force: true });
      rmSync(destination, { force: true });
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
for (const method of Object.keys(METHODS)) {
  const runs = results.filter((r) => r.method === method);
  const done = runs.filter((r) => r.finished);
  const copyMs = done.filter((r) => r.copyMs !== null);
  console.log(`${method}: finished ${done.length} of ${runs.length}; median ${median(runs.map((r) => r.ms))} ms` +
    `${copyMs.length ? ` (copy ${median(copyMs.map((r) => r.copyMs))} ms + verify ${median(copyMs.map((r) => r.verifyMs))} ms)` : ''}; restarts ${runs.map((r) => r.restarts ?? '-').join('/')}; ` +
    `copy ${done.length ? median(done.map((r) => r.copyMiB)) : '-'} MiB; writer ${median(runs.map((r) => r.writerCommitsPerSecond))} commits/s, max commit ${Math.max(...runs.map((r) => r.writerMaxCommitMs))} ms, lock errors ${runs.reduce((s, r) => s + r.writerLockErrors, 0)}`);
}
