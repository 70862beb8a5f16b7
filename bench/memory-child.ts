/**
 * One backfill in its own process, reporting its peak resident memory (all threads), so that
 * runs of different sizes can be compared. Usage: node memory-child.js DB LEAGUES FROM TO [ENGINE_OPTIONS_JSON]
 *
 * The last line of stdout is the result as JSON. Run with `--trace-gc` (bench/memory.ts does),
 * the lines before it are V8's, one per collection of each thread's heap, which is how the heap
 * of each thread is told apart (Node 20 has no heap statistics of another thread).
 */
import { createEngine, type EngineOptions } from '../src/engine/index.js';
import { PROFILES } from '../src/flags/index.js';
import { demoLeagueKeys, demoSource } from '../src/source/demo/index.js';

const [database, leaguesArg, fromArg, toArg, optionsArg] = process.argv.slice(2);
const leagues = demoLeagueKeys(Number(leaguesArg), 1);
const seasons: number[] = [];
for (let season = Number(fromArg); season <= Number(toArg); season++) seasons.push(season);
const extra = (optionsArg ? JSON.parse(optionsArg) : {}) as Partial<EngineOptions>;

// The main thread's own figures, sampled: the queue and the jobs live here.
const peak = { rss: 0, heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 };
const sample = (): void => {
  const usage = process.memoryUsage();
  for (const key of Object.keys(peak) as Array<keyof typeof peak>) peak[key] = Math.max(peak[key], usage[key]);
};
const sampler = setInterval(sample, 50);

const started = performance.now();
const engine = await createEngine({ database: database!, source: demoSource({ seed: 1 }), flags: PROFILES.recommended, ...extra });
const jobs = leagues.flatMap((leagueKey) => seasons.map((season) => engine.enqueue({ leagueKey, season })));
await Promise.all(jobs.map((job) => job.done));
const rows = engine.totals.rowsInserted;
sample();
await engine.close();
clearInterval(sampler);
const mb = (bytes: number): number => Number((bytes / 1024 / 1024).toFixed(1));
process.stdout.write(`${JSON.stringify({
  rows,
  jobs: jobs.length,
  seconds: (performance.now() - started) / 1000,
  maxRssMB: process.resourceUsage().maxRSS / 1024,
  main: { heapUsedMB: mb(peak.heapUsed), heapTotalMB: mb(peak.heapTotal), externalMB: mb(peak.external), arrayBuffersMB: mb(peak.arrayBuffers) },
})}\n`);
