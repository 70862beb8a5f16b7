/**
 * One backfill in its own process, reporting its peak resident memory (all threads), so that
 * runs of different sizes can be compared. Usage: node memory-child.js DB LEAGUES FROM TO
 */
import { createEngine } from '../src/engine.js';
import { PROFILES } from '../src/flags/index.js';
import { demoLeagueKeys, demoSource } from '../src/source/demo/index.js';

const [database, leaguesArg, fromArg, toArg] = process.argv.slice(2);
const leagues = demoLeagueKeys(Number(leaguesArg), 1);
const seasons: number[] = [];
for (let season = Number(fromArg); season <= Number(toArg); season++) seasons.push(season);

const engine = await createEngine({ database: database!, source: demoSource({ seed: 1 }), flags: PROFILES.recommended });
const jobs = leagues.flatMap((leagueKey) => seasons.map((season) => engine.enqueue({ leagueKey, season })));
await Promise.all(jobs.map((job) => job.done));
const rows = engine.totals.rowsInserted;
await engine.close();
process.stdout.write(`${JSON.stringify({ rows, jobs: jobs.length, maxRssMB: process.resourceUsage().maxRSS / 1024 })}\n`);
