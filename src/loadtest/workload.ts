/** The fixed demo workload every configuration backfills: the same jobs and the same rows. */
import { jobIdOf } from '../queue/job.js';
import { demoLeagueKeys, generateDemoSeason } from '../source/demo/index.js';

export interface LoadTestWorkload {
  seed: number;
  jobs: Array<{ leagueKey: string; season: number; jobId: string; rows: number }>;
  /** Rows offered: what a run that loses nothing stores. */
  rows: number;
}

export function demoWorkload(leagues: number, seasons: readonly number[], seed: number): LoadTestWorkload {
  const jobs = demoLeagueKeys(leagues, seed).flatMap((leagueKey) => seasons.map((season) => ({
    leagueKey,
    season,
    jobId: jobIdOf(leagueKey, season),
    rows: generateDemoSeason(leagueKey, season, { seed }).rows.length,
  })));
  return { seed, jobs, rows: jobs.reduce((sum, job) => sum + job.rows, 0) };
}
