/**
 * `npm run bench`: the engine's throughput against the raw better-sqlite3 limit for the same
 * rows, schema, indexes and pragmas, measured side by side in one run (medians of several
 * runs, interleaved so that a noisy neighbour hurts every contender alike); the old scripts'
 * pattern (2 and 4 threads, a connection each) against the engine under the same readers;
 * what listening to every event costs; the lock-wait strategies under contention; the cost of
 * moving rows between threads; a bulk NDJSON import against the raw insert of its rows; insert
 * methods and writer variants for the writer; and peak memory against the size of the backfill,
 * by thread. The throughput and import sections print the cost of a row (bytes written, CPU).
 * Per-thread CPU profiles: bench/profile.ts; docs/performance.md reads all of it.
 *
 * Options: --runs N (default 3; also the runs per lock-wait strategy), --leagues N (default 25:
 * about 300,000 rows over 10 seasons), --pairs N (listeners on/off pairs, default 6), --quick
 * (small sizes, for a smoke test), --only throughput,legacy,events,lockwait,neighbours,distributed,transfer,import,insert,writer,memory,
 * --batches-per-transaction N (insert: 100-row batches per transaction, default 35, the engine's size),
 * --engine-option key=value (neighbours), --json.
 */
import { join } from 'node:path';
import { createEngine } from '../src/engine/index.js';
import { PROFILES } from '../src/flags/index.js';
import { demoSource } from '../src/source/demo/index.js';
import { demoWorkload as loadTestWorkload } from '../src/loadtest/workload.js';
import { eventsOverhead } from './events.js';
import { legacyVersusEngine } from './legacy.js';
import { compareLockWaits, CONTENTION_LEVELS } from './lock-wait.js';
import { neighboursSection, parseEngineOption } from './neighbours.js';
import { distributedSection } from './distributed.js';
import { demoWorkload, formatRate, median, rawInsert, scratchDir, type Workload } from './lib.js';
import { formatCost, withCost, type RowCost } from './cost.js';
import { insertMethods } from './insert-methods.js';
import { bulkImport } from './bulk-import.js';
import { memorySection } from './memory.js';
import { writerVariants } from './writer-variants.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const index = args.indexOf(name);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const quick = args.includes('--quick');
/** `--engine-option key=value` (repeatable): extra engine options for the neighbours section, to compare policies. */
const engineOptions = Object.fromEntries(args.flatMap((arg, index) => (arg === '--engine-option' ? [parseEngineOption(args[index + 1] ?? '')] : [])));
const json = args.includes('--json');
const runs = option('--runs', quick ? 1 : 3);
const leagueCount = option('--leagues', quick ? 2 : 25);
const seasons = [2016, 2017, 2018, 2019, 2020, 2021, 2022, 2023, 2024, 2025];
const log = (line: string): void => {
  if (!json) process.stdout.write(`${line}\n`);
};

async function engineRun(path: string, workload: Workload, options: { workers?: number; concurrency?: number } = {}): Promise<{ rowsPerSecond: number; seconds: number; maxLockHoldMs: number; transactions: number }> {
  const started = performance.now();
  const engine = await createEngine({ database: path, source: demoSource({ seed: workload.seed }), flags: PROFILES.recommended, ...options });
  const jobs = workload.leagues.flatMap((leagueKey) => workload.seasons.map((season) => engine.enqueue({ leagueKey, season })));
  await Promise.all(jobs.map((job) => job.done));
  await engine.close();
  const seconds = (performance.now() - started) / 1000;
  if (engine.totals.rowsInserted !== workload.rowCount) {
    throw new Error(`engine stored ${engine.totals.rowsInserted} rows, the workload has ${workload.rowCount}`);
  }
  return { rowsPerSecond: workload.rowCount / seconds, seconds, maxLockHoldMs: engine.totals.maxLockHoldMs, transactions: engine.totals.transactions };
}

async function throughput(): Promise<Record<string, unknown>> {
  const workload = demoWorkload(leagueCount, seasons, 1);
  log(`Throughput: ${workload.rowCount.toLocaleString('en-US')} rows (${leagueCount} demo leagues x ${seasons.length} seasons), ${runs} run(s) each, interleaved`);
  const oneTransaction: number[] = [];
  const perBatch: number[] = [];
  const engine: number[] = [];
  const engineTwoWorkers: number[] = [];
  const holds: number[] = [];
  const rawHolds: number[] = [];
  const transactions: number[] = [];
  const engineSized: number[] = [];
  const withDuplicateIndexes: number[] = [];
  const costs: { oneTransaction: RowCost[]; perBatch: RowCost[]; engine: RowCost[]; engineTwoWorkers: RowCost[] } = { oneTransaction: [], perBatch: [], engine: [], engineTwoWorkers: [] };
  for (let run = 0; run < runs; run++) {
    const scratch = scratchDir();
    try {
      const { value: one, cost: oneCost } = await withCost(workload.rowCount, () => rawInsert(join(scratch.dir, 'one.db'), workload, Number.POSITIVE_INFINITY));
      oneTransaction.push(one.rowsPerSecond);
      rawHolds.push(one.maxTransactionMs);
      costs.oneTransaction.push(oneCost);
      const { value: batch, cost: batchCost } = await withCost(workload.rowCount, () => rawInsert(join(scratch.dir, 'batch.db'), workload, 1));
      perBatch.push(batch.rowsPerSecond);
      costs.perBatch.push(batchCost);
      // Schema 1 as it shipped: each UNIQUE/PRIMARY KEY index repeated by a named index (schema 2 drops them).
      withDuplicateIndexes.push(rawInsert(join(scratch.dir, 'dup.db'), workload, Number.POSITIVE_INFINITY,
        'CREATE UNIQUE INDEX transactions_key_player ON transactions (transaction_key, player_id); CREATE UNIQUE INDEX job_log_job_id ON job_log (job_id);').rowsPerSecond);
      const { value: result, cost: engineCost } = await withCost(workload.rowCount, () => engineRun(join(scratch.dir, 'engine.db'), workload));
      engine.push(result.rowsPerSecond);
      costs.engine.push(engineCost);
      // The default before it was measured for two cores: two fetch workers (each 80 % idle at
      // full speed, bench/profile.ts) competing with the writer for the second core.
      const { value: twoWorkers, cost: twoWorkersCost } = await withCost(workload.rowCount, () => engineRun(join(scratch.dir, 'engine-2-workers.db'), workload, { workers: 2, concurrency: 4 }));
      engineTwoWorkers.push(twoWorkers.rowsPerSecond);
      costs.engineTwoWorkers.push(twoWorkersCost);
      holds.push(result.maxLockHoldMs);
      transactions.push(result.transactions);
      // The ceiling for any writer that must give the lock back: the raw insert in transactions
      // of the size the engine's time budget gave it (each commit rewrites its index pages).
      const batchesPerTransaction = Math.max(1, Math.round(workload.batches.length / result.transactions));
      const sized = rawInsert(join(scratch.dir, 'sized.db'), workload, batchesPerTransaction);
      engineSized.push(sized.rowsPerSecond);
      log(`  run ${run + 1}: raw one transaction ${formatRate(one.rowsPerSecond)}, raw 100-row transactions ${formatRate(perBatch.at(-1)!)}, ` +
        `raw in transactions of the engine's size (${batchesPerTransaction} batches, longest ${sized.maxTransactionMs.toFixed(0)} ms) ${formatRate(sized.rowsPerSecond)}, ` +
        `engine end to end ${formatRate(result.rowsPerSecond)} (${result.transactions} transactions, longest lock hold ${result.maxLockHoldMs.toFixed(1)} ms)`);
      log(`    cost: raw one transaction ${formatCost(oneCost)}; raw 100-row ${formatCost(batchCost)}; engine ${formatCost(engineCost)}; ` +
        `engine with 2 fetch workers ${formatRate(twoWorkers.rowsPerSecond)}, longest hold ${twoWorkers.maxLockHoldMs.toFixed(1)} ms (${formatCost(twoWorkersCost)})`);
    } finally {
      scratch.cleanup();
    }
  }
  const figures = {
    rows: workload.rowCount,
    runs,
    rawOneTransactionRowsPerSecond: Math.round(median(oneTransaction)),
    rawOneTransactionHoldMs: Math.round(median(rawHolds)),
    raw100RowTransactionsRowsPerSecond: Math.round(median(perBatch)),
    rawEngineSizedTransactionsRowsPerSecond: Math.round(median(engineSized)),
    ratioEngineSizedToOneTransaction: Number((median(engineSized) / median(oneTransaction)).toFixed(3)),
    engineRowsPerSecond: Math.round(median(engine)),
    engineTransactions: median(transactions),
    engineMaxLockHoldMs: Number(Math.max(...holds).toFixed(1)),
    ratioEngineToOneTransaction: Number((median(engine) / median(oneTransaction)).toFixed(3)),
    engineTwoWorkersRowsPerSecond: Math.round(median(engineTwoWorkers)),
    ratioEngineTwoWorkersToOneTransaction: Number((median(engineTwoWorkers) / median(oneTransaction)).toFixed(3)),
    ratioEngineTo100RowTransactions: Number((median(engine) / median(perBatch)).toFixed(3)),
    ratioOneTransactionTo100Row: Number((median(oneTransaction) / median(perBatch)).toFixed(2)),
    rawOneTransactionWithDuplicateIndexesRowsPerSecond: Math.round(median(withDuplicateIndexes)),
    ratioEachIndexOnceToDuplicated: Number((median(oneTransaction) / median(withDuplicateIndexes)).toFixed(3)),
    costOfARow: {
      rawOneTransaction: medianCost(costs.oneTransaction),
      raw100RowTransactions: medianCost(costs.perBatch),
      engine: medianCost(costs.engine),
      engineTwoWorkers: medianCost(costs.engineTwoWorkers),
    },
  };
  log(`  medians: raw one transaction ${formatRate(figures.rawOneTransactionRowsPerSecond)} (holds the lock ${figures.rawOneTransactionHoldMs} ms), raw 100-row transactions ${formatRate(figures.raw100RowTransactionsRowsPerSecond)}, engine ${formatRate(figures.engineRowsPerSecond)}`);
  log(`  engine with 2 fetch workers ${formatRate(figures.engineTwoWorkersRowsPerSecond)}: ${figures.ratioEngineTwoWorkersToOneTransaction} of one transaction`);
  log(`  ratios: engine / one transaction ${figures.ratioEngineToOneTransaction}, engine / 100-row transactions ${figures.ratioEngineTo100RowTransactions}, one transaction / 100-row ${figures.ratioOneTransactionTo100Row}`);
  log(`  ceiling for budgeted transactions: raw in transactions of the engine's size ${formatRate(figures.rawEngineSizedTransactionsRowsPerSecond)}, ${figures.ratioEngineSizedToOneTransaction} of one transaction`);
  log(`  longest lock hold of one engine transaction: ${figures.engineMaxLockHoldMs} ms (budget 100 ms)`);
  log(`  cost of a row (whole process, every thread; medians): raw one transaction ${formatCost(figures.costOfARow.rawOneTransaction)}; ` +
    `raw 100-row transactions ${formatCost(figures.costOfARow.raw100RowTransactions)}; engine ${formatCost(figures.costOfARow.engine)}`);
  log(`  each index once (schema 2) against schema 1's duplicate indexes, raw one transaction: ${formatRate(figures.rawOneTransactionRowsPerSecond)} against ` +
    `${formatRate(figures.rawOneTransactionWithDuplicateIndexesRowsPerSecond)} (${figures.ratioEachIndexOnceToDuplicated}x)`);
  return figures;
}

/** The median of each figure of a row's cost, over runs. */
function medianCost(samples: RowCost[]): RowCost {
  return {
    rows: samples[0]?.rows ?? 0,
    writeBytesPerRow: Number(median(samples.map((sample) => sample.writeBytesPerRow)).toFixed(1)),
    cpuMsPer1000Rows: Number(median(samples.map((sample) => sample.cpuMsPer1000Rows)).toFixed(2)),
    cores: Number(median(samples.map((sample) => sample.cores)).toFixed(2)),
  };
}

/** Rows cross two thread boundaries (fetch worker -> main -> writer): what each representation costs. */
function transferCost(): Record<string, unknown> {
  const workload = demoWorkload(1, [2024], 1);
  const batch = workload.batches[0]!.rows;
  const objects = batch.map((tuple) => ({
    transactionKey: tuple[0], transactionId: tuple[1], type: tuple[2], timestamp: tuple[3], status: tuple[4], playerId: tuple[5],
    playerName: tuple[6], sourceTeamKey: tuple[7], sourceTeamName: tuple[8], destinationTeamKey: tuple[9], destinationTeamName: tuple[10], leagueKey: tuple[11],
  }));
  const iterations = quick ? 500 : 5000;
  const time = (fn: () => unknown): number => {
    const samples: number[] = [];
    for (let round = 0; round < 5; round++) {
      const started = performance.now();
      for (let i = 0; i < iterations; i++) fn();
      samples.push(((performance.now() - started) * 1000) / iterations);
    }
    return median(samples);
  };
  // structuredClone is the algorithm postMessage uses; each variant is charged for both hops
  // and for encoding/decoding where it has any.
  const objectMicros = time(() => structuredClone(structuredClone(objects)));
  const jsonMicros = time(() => JSON.parse(structuredClone(structuredClone(JSON.stringify(batch)))) as unknown);
  const figures = {
    rowsPerBatch: batch.length,
    objectsMicrosPerBatch: Number(objectMicros.toFixed(1)),
    jsonTuplesMicrosPerBatch: Number(jsonMicros.toFixed(1)),
    ratioObjectsToJson: Number((objectMicros / jsonMicros).toFixed(2)),
  };
  log(`Moving a ${batch.length}-row batch across two threads: row objects ${figures.objectsMicrosPerBatch} us, JSON of tuples (encode + 2 copies + decode) ${figures.jsonTuplesMicrosPerBatch} us: ${figures.ratioObjectsToJson}x`);
  return figures;
}

const only = args.includes('--only') ? args[args.indexOf('--only') + 1]?.split(',') : undefined;
const wanted = (name: string): boolean => !only || only.includes(name);
const report = {
  machine: { node: process.versions.node, cpus: (await import('node:os')).cpus().length },
  ...(wanted('throughput') ? { throughput: await throughput() } : {}),
  ...(wanted('legacy') ? { legacy: await legacyVersusEngine(demoWorkload(quick ? 1 : 2, quick ? [2024, 2025] : seasons.slice(-6), 1), runs, 2, log) } : {}),
  ...(wanted('events') ? { events: await eventsOverhead(demoWorkload(quick ? 1 : 8, quick ? [2024, 2025] : seasons, 1), option('--pairs', quick ? 1 : 6), log) } : {}),
  ...(wanted('lockwait')
    ? { lockWait: await compareLockWaits(loadTestWorkload(quick ? 1 : 2, quick ? [2025] : [2022, 2023, 2024, 2025], 1), quick ? CONTENTION_LEVELS.slice(0, 1) : CONTENTION_LEVELS, runs, log) }
    : {}),
  // Each non-quick run of these takes minutes: one run unless --runs says otherwise.
  ...(wanted('neighbours') ? { neighbours: await neighboursSection({ quick, runs: option('--runs', 1), engineOptions, log }) } : {}),
  ...(wanted('distributed') ? { distributed: await distributedSection({ quick, runs: option('--runs', 1), log }) } : {}),
  ...(wanted('transfer') ? { transfer: transferCost() } : {}),
  ...(wanted('import') ? { bulkImport: await bulkImport({ runs, leagues: leagueCount, seasons, log }) } : {}),
  ...(wanted('insert') ? { insertMethods: await insertMethods({ runs, leagues: leagueCount, seasons, batchesPerTransaction: option('--batches-per-transaction', 35), log }) } : {}),
  ...(wanted('writer') ? { writerVariants: await writerVariants({ runs, leagues: leagueCount, log }) } : {}),
  ...(wanted('memory') ? { memory: memorySection({ quick, log }) } : {}),
};
if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
