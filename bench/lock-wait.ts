/**
 * The lock-wait strategies compared under the same contention: the engine (recommended flags)
 * backfills while reader and legacy writer processes use the file, once per strategy per run,
 * interleaved. The source is paced and each fetch brings one page, so the writer commits small
 * transactions as pages come, as a rate-limited Yahoo backfill does: every transaction takes
 * the lock anew, which is where the way of waiting for it shows. docs/lock-wait.md has the
 * figures and the conclusion.
 */
import { join } from 'node:path';
import { PROFILES } from '../src/flags/index.js';
import type { ContentionOptions } from '../src/loadtest/scenario.js';
import { runScenario, type ScenarioResult } from '../src/loadtest/scenario.js';
import { median, summarizeLatencies, type LatencySummary } from '../src/loadtest/stats.js';
import type { LoadTestWorkload } from '../src/loadtest/workload.js';
import type { LockWaitStrategy } from '../src/writer/protocol.js';
import { scratchDir } from './lib.js';

export const STRATEGIES: readonly LockWaitStrategy[] = ['busy-timeout', 'fair-poll', 'busy-slices', 'micro-poll'];

export interface ContentionLevel {
  name: string;
  contention: ContentionOptions;
}

export const CONTENTION_LEVELS: readonly ContentionLevel[] = [
  // What `npm run loadtest` runs against every configuration: other writers hold the lock briefly.
  { name: 'load test', contention: { readers: 2, legacyWriters: 1, readerPauseMs: 10, legacyPauseMs: 5, legacyRowsPerTransaction: 10 } },
  // Two legacy imports of 2,000-row transactions with hardly a pause: the lock is free only in short gaps.
  { name: 'long holders', contention: { readers: 2, legacyWriters: 2, readerPauseMs: 10, legacyPauseMs: 1, legacyRowsPerTransaction: 2000 } },
];

/** Paced source: 20 ms a page, one page per fetch task, so most transactions hold one page. */
const SOURCE_LATENCY_MS = 20;
const PAGES_PER_TASK = 1;

export interface StrategyFigures {
  strategy: LockWaitStrategy;
  runs: number;
  transactions: number;
  /** Lock wait + lock hold per transaction, pooled over the runs (ms). */
  commitMs: LatencySummary;
  /** The lock wait alone, pooled (ms). */
  lockWaitMs: LatencySummary;
  rowsPerSecond: number;
  successRate: number;
  lockErrors: number;
  retries: number;
  legacyWriterTransactions: number;
  legacyWriterErrors: number;
  legacyWriterP50Ms: number;
  legacyWriterP99Ms: number;
  readerErrors: number;
  readerP99Ms: number;
}

function figuresOf(strategy: LockWaitStrategy, results: ScenarioResult[], commits: number[], waits: number[]): StrategyFigures {
  const sum = (pick: (result: ScenarioResult) => number): number => results.reduce((total, result) => total + pick(result), 0);
  const middle = (pick: (result: ScenarioResult) => number): number => Number(median(results.map(pick)).toFixed(2));
  return {
    strategy,
    runs: results.length,
    transactions: commits.length,
    commitMs: summarizeLatencies(commits),
    lockWaitMs: summarizeLatencies(waits),
    rowsPerSecond: Math.round(median(results.map((result) => result.rowsPerSecond))),
    successRate: Math.min(...results.map((result) => result.successRate)),
    lockErrors: sum((result) => result.lockErrors),
    retries: sum((result) => result.retries),
    legacyWriterTransactions: Math.round(median(results.map((result) => result.legacyWriters.transactions))),
    legacyWriterErrors: sum((result) => result.legacyWriterErrors),
    legacyWriterP50Ms: middle((result) => result.legacyWriters.p50Ms),
    legacyWriterP99Ms: middle((result) => result.legacyWriters.p99Ms),
    readerErrors: sum((result) => result.readerErrors),
    readerP99Ms: middle((result) => result.readers.p99Ms),
  };
}

export async function compareLockWaits(workload: LoadTestWorkload, levels: readonly ContentionLevel[], runs: number, log: (line: string) => void): Promise<Record<string, unknown>> {
  log(`Lock-wait strategies: ${workload.rows.toLocaleString('en-US')} rows per run, recommended flags, paced source (${SOURCE_LATENCY_MS} ms a page, one page per fetch), ${runs} run(s) per strategy, interleaved`);
  const report: Array<{ level: string; contention: ContentionOptions; strategies: StrategyFigures[] }> = [];
  for (const level of levels) {
    const pooled = new Map(STRATEGIES.map((strategy) => [strategy, { results: [] as ScenarioResult[], commits: [] as number[], waits: [] as number[] }]));
    log(`  contention "${level.name}": ${level.contention.readers} readers, ${level.contention.legacyWriters} legacy writer(s) of ${level.contention.legacyRowsPerTransaction}-row transactions every ${level.contention.legacyPauseMs} ms`);
    for (let run = 0; run < runs; run++) {
      // Rotate the order, so that each strategy runs in each position as often as the others.
      const order = STRATEGIES.map((_, index) => STRATEGIES[(index + run) % STRATEGIES.length]!);
      for (const strategy of order) {
        const scratch = scratchDir();
        try {
          const outcome = await runScenario({
            configuration: { name: strategy, description: `recommended, lockWait ${strategy}`, flags: PROFILES.recommended },
            database: join(scratch.dir, 'lock-wait.db'),
            workload,
            contention: level.contention,
            timeLimitMs: 120_000,
            bucketMs: 1000,
            engine: { lockWait: strategy, pagesPerTask: PAGES_PER_TASK },
            sourceLatencyMs: SOURCE_LATENCY_MS,
          });
          const entry = pooled.get(strategy)!;
          entry.results.push(outcome.result);
          entry.commits.push(...outcome.transactionLatenciesMs);
          entry.waits.push(...outcome.lockWaitsMs);
          const r = outcome.result;
          log(`    run ${run + 1} ${strategy.padEnd(12)} commit p50 ${r.commitLatencyMs.p50} p99 ${r.commitLatencyMs.p99} ms, lock wait p99 ${r.lockWaitMs.p99} ms, ${r.rowsPerSecond} rows/s; legacy ${r.legacyWriters.transactions} tx, ${r.legacyWriterErrors} errors, p99 ${r.legacyWriters.p99Ms} ms`);
        } finally {
          scratch.cleanup();
        }
      }
    }
    const strategies = STRATEGIES.map((strategy) => {
      const entry = pooled.get(strategy)!;
      return figuresOf(strategy, entry.results, entry.commits, entry.waits);
    });
    log(`    ${'strategy'.padEnd(12)}    tx  commit p50/p99/p99.9 ms     wait p99/p99.9 ms   rows/s  lock err  legacy err  legacy p50/p99 ms  reader err/p99 ms`);
    for (const s of strategies) {
      log(`    ${s.strategy.padEnd(12)} ${String(s.transactions).padStart(5)}  ${`${s.commitMs.p50} / ${s.commitMs.p99} / ${s.commitMs.p999}`.padEnd(24)} ${`${s.lockWaitMs.p99} / ${s.lockWaitMs.p999}`.padEnd(18)} ${String(s.rowsPerSecond).padStart(7)} ${String(s.lockErrors).padStart(9)} ${String(s.legacyWriterErrors).padStart(11)}  ${`${s.legacyWriterP50Ms} / ${s.legacyWriterP99Ms}`.padEnd(17)}  ${s.readerErrors} / ${s.readerP99Ms}`);
    }
    report.push({ level: level.name, contention: level.contention, strategies });
  }
  return { rows: workload.rows, runs, sourceLatencyMs: SOURCE_LATENCY_MS, pagesPerTask: PAGES_PER_TASK, levels: report };
}
