/**
 * One backfill in its own process, for bench/profile.ts to run under `node --cpu-prof` (which
 * writes one profile per thread: main, each fetch worker, the writer). Usage:
 *   node profile-child.js throughput DB LEAGUES       the bench's demo backfill (10 seasons a league)
 *   node profile-child.js import DB NDJSON            `backfill --source file` of an NDJSON file
 * Prints { rows, seconds, transactions, maxLockHoldMs, cpuMs } as JSON (cpuMs: the whole process, every thread).
 */
import { createEngine } from '../src/engine/index.js';
import { PROFILES } from '../src/flags/index.js';
import { demoLeagueKeys, demoSource } from '../src/source/demo/index.js';
import { fileSource, planFileJobs } from '../src/source/file/source.js';
import { BENCH_SEASONS } from './lib.js';


const [scenario, database, argument] = process.argv.slice(2);
if ((scenario !== 'throughput' && scenario !== 'import') || !database || !argument) {
  process.stderr.write('usage: profile-child.js throughput DB LEAGUES | import DB NDJSON\n');
  process.exit(2);
}
const started = performance.now();
const jobs = scenario === 'throughput'
  ? demoLeagueKeys(Number(argument), 1).flatMap((leagueKey) => BENCH_SEASONS.map((season) => ({ leagueKey, season })))
  : await planFileJobs(argument);
const engine = await createEngine({ database, source: scenario === 'throughput' ? demoSource({ seed: 1 }) : fileSource({ input: argument }), flags: PROFILES.recommended });
await Promise.all(jobs.map((job) => engine.enqueue(job).done));
await engine.close();
const { rowsInserted: rows, transactions, maxLockHoldMs } = engine.totals;
const cpu = process.cpuUsage();
process.stdout.write(`${JSON.stringify({ rows, seconds: (performance.now() - started) / 1000, transactions, maxLockHoldMs, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
