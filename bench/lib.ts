/** Small shared pieces of the benchmarks: timing, medians, fresh databases, the rows. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../src/db/open.js';
import { insertTransactionSql } from '../src/db/schema.js';
import { PROFILES } from '../src/flags/index.js';
import { demoLeagueKeys, generateDemoSeason } from '../src/source/demo/index.js';
import { rowToTuple, type RowTuple } from '../src/model/index.js';

/** The job columns the writer stores beside a row (job id, season, league across seasons), from a `leagueKey:season` job id. */
export function jobColumns(jobId: string): [jobId: string, season: number, leagueSeries: string] {
  const split = jobId.lastIndexOf(':');
  return [jobId, Number(jobId.slice(split + 1)), jobId.slice(0, split)];
}

/** The seasons of every league in the throughput, import and profile benches. */
export const BENCH_SEASONS = [2016, 2017, 2018, 2019, 2020, 2021, 2022, 2023, 2024, 2025];

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function scratchDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'league-backfill-bench-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Workload {
  leagues: string[];
  seasons: number[];
  seed: number;
  /** The same rows the demo source serves for these jobs, with their job ids. */
  batches: Array<{ jobId: string; rows: RowTuple[] }>;
  rowCount: number;
}

/** The demo rows of `leagues` x `seasons`, in 100-row batches per job, as the engine would write them. */
export function demoWorkload(leagueCount: number, seasons: number[], seed = 1, batchSize = 100): Workload {
  const leagues = demoLeagueKeys(leagueCount, seed);
  const batches: Workload['batches'] = [];
  let rowCount = 0;
  for (const leagueKey of leagues) {
    for (const season of seasons) {
      const rows = generateDemoSeason(leagueKey, season, { seed }).rows.map(rowToTuple);
      for (let offset = 0; offset < rows.length; offset += batchSize) batches.push({ jobId: `${leagueKey}:${season}`, rows: rows.slice(offset, offset + batchSize) });
      rowCount += rows.length;
    }
  }
  return { leagues, seasons, seed, batches, rowCount };
}

/**
 * The raw better-sqlite3 limit: the workload's rows inserted through one connection with the
 * engine's schema, indexes, pragmas and statement, `batchesPerTransaction` batches per
 * BEGIN IMMEDIATE transaction (Infinity: all in one). Returns rows per second and the longest
 * transaction.
 */
export function rawInsert(path: string, workload: Workload, batchesPerTransaction: number, extraSchemaSql = ''): { rowsPerSecond: number; seconds: number; maxTransactionMs: number } {
  const { db } = openDatabase({ path, flags: PROFILES.recommended });
  if (extraSchemaSql) db.exec(extraSchemaSql);
  const insert = db.prepare(insertTransactionSql());
  let maxTransactionMs = 0;
  const started = performance.now();
  for (let start = 0; start < workload.batches.length; start += Math.min(batchesPerTransaction, workload.batches.length)) {
    const end = Math.min(workload.batches.length, start + Math.min(batchesPerTransaction, workload.batches.length));
    const began = performance.now();
    db.exec('BEGIN IMMEDIATE');
    for (let index = start; index < end; index++) {
      const batch = workload.batches[index]!;
      for (const row of batch.rows) insert.run(...row, ...jobColumns(batch.jobId));
    }
    db.exec('COMMIT');
    maxTransactionMs = Math.max(maxTransactionMs, performance.now() - began);
  }
  const seconds = (performance.now() - started) / 1000;
  db.close();
  return { rowsPerSecond: workload.rowCount / seconds, seconds, maxTransactionMs };
}

export function formatRate(value: number): string {
  return `${Math.round(value).toLocaleString('en-US')} rows/s`;
}
