/**
 * Bulk import: an NDJSON file of rows (made here, in a temp folder, from the demo leagues)
 * imported by the engine with `fileSource`, as `backfill --source file --input rows.ndjson`
 * does, against the raw one-transaction insert of the same rows (the same job columns),
 * schema and pragmas. Also the command line itself, once, end to end as a user runs it.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createEngine } from '../src/engine/index.js';
import { PROFILES } from '../src/flags/index.js';
import { demoLeagueKeys, generateDemoSeason, seasonLeagueKey } from '../src/source/demo/index.js';
import { fileSource, planFileJobs } from '../src/source/file/source.js';
import { rowToTuple } from '../src/model/index.js';
import { formatCost, withCost, type RowCost } from './cost.js';
import { formatRate, median, rawInsert, scratchDir, type Workload } from './lib.js';

export interface BulkImportOptions {
  runs: number;
  leagues: number;
  seasons: number[];
  log(line: string): void;
}

/**
 * Writes the NDJSON file (one row object per line, as `TransactionRow` names its fields) and
 * returns the same rows as the engine will store them: each season of a league is one job of
 * the file source, under the season's own league key.
 */
export async function writeNdjson(path: string, leagues: number, seasons: number[]): Promise<Workload> {
  const out = createWriteStream(path);
  const batches: Workload['batches'] = [];
  let rowCount = 0;
  for (const newest of demoLeagueKeys(leagues, 1)) {
    for (const season of seasons) {
      const { rows } = generateDemoSeason(newest, season, { seed: 1 });
      const key = seasonLeagueKey(newest, season);
      const lines = rows.map((row) => JSON.stringify(row)).join('\n');
      if (!out.write(`${lines}\n`)) await once(out, 'drain');
      const tuples = rows.map(rowToTuple);
      for (let offset = 0; offset < tuples.length; offset += 100) batches.push({ jobId: `${key}:${season}`, rows: tuples.slice(offset, offset + 100) });
      rowCount += rows.length;
    }
  }
  out.end();
  await once(out, 'finish');
  return { leagues: [], seasons, seed: 1, batches, rowCount };
}

/** `backfill --source file` through the API, as the command does it: plan the jobs from the input, enqueue them all. */
async function engineImport(database: string, input: string, options: { workers?: number; concurrency?: number } = {}): Promise<{ rows: number; seconds: number; maxLockHoldMs: number; transactions: number }> {
  const started = performance.now();
  const jobs = await planFileJobs(input);
  const engine = await createEngine({ database, source: fileSource({ input }), flags: PROFILES.recommended, ...options });
  try {
    const handles = jobs.map((job) => engine.enqueue(job));
    await Promise.all(handles.map((handle) => handle.done));
  } finally {
    await engine.close();
  }
  return { rows: engine.totals.rowsInserted, seconds: (performance.now() - started) / 1000, maxLockHoldMs: engine.totals.maxLockHoldMs, transactions: engine.totals.transactions };
}

export async function bulkImport(options: BulkImportOptions): Promise<Record<string, unknown>> {
  const { log } = options;
  const scratch = scratchDir();
  try {
    const input = join(scratch.dir, 'rows.ndjson');
    const workload = await writeNdjson(input, options.leagues, options.seasons);
    log(`Bulk import: ${workload.rowCount.toLocaleString('en-US')} rows of NDJSON (${options.leagues} demo leagues x ${options.seasons.length} seasons), ${options.runs} run(s), interleaved`);
    const raw: number[] = [];
    const engine: number[] = [];
    const holds: number[] = [];
    const rawCosts: RowCost[] = [];
    const engineCosts: RowCost[] = [];
    // docs/performance.md: on two cores one fetch worker, with as many jobs in flight as two have, leaves the writer its core.
    const oneWorker: number[] = [];
    for (let run = 0; run < options.runs; run++) {
      const { value: one, cost: rawCost } = await withCost(workload.rowCount, () => rawInsert(join(scratch.dir, `raw-${run}.db`), workload, Number.POSITIVE_INFINITY));
      const { value: imported, cost: engineCost } = await withCost(workload.rowCount, () => engineImport(join(scratch.dir, `engine-${run}.db`), input));
      if (imported.rows !== workload.rowCount) throw new Error(`the import stored ${imported.rows} rows, the file has ${workload.rowCount}`);
      raw.push(one.rowsPerSecond);
      engine.push(workload.rowCount / imported.seconds);
      holds.push(imported.maxLockHoldMs);
      rawCosts.push(rawCost);
      engineCosts.push(engineCost);
      const { value: single, cost: singleCost } = await withCost(workload.rowCount, () => engineImport(join(scratch.dir, `engine-1-worker-${run}.db`), input, { workers: 1, concurrency: 4 }));
      if (single.rows !== workload.rowCount) throw new Error(`the import with one fetch worker stored ${single.rows} rows, the file has ${workload.rowCount}`);
      oneWorker.push(workload.rowCount / single.seconds);
      log(`  run ${run + 1}: raw one transaction ${formatRate(one.rowsPerSecond)} (${formatCost(rawCost)}), ` +
        `file import ${formatRate(workload.rowCount / imported.seconds)} in ${imported.seconds.toFixed(2)} s, ${imported.transactions} transactions, longest hold ${imported.maxLockHoldMs.toFixed(1)} ms (${formatCost(engineCost)}); ` +
        `with 1 fetch worker and 4 jobs in flight ${formatRate(oneWorker.at(-1)!)}, longest hold ${single.maxLockHoldMs.toFixed(1)} ms (${formatCost(singleCost)})`);
    }
    // The command as a user runs it, once: process start, argument checks, the summary.
    const cli = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
    const cliStarted = performance.now();
    execFileSync(process.execPath, [cli, 'backfill', '--source', 'file', '--input', input, '--db', join(scratch.dir, 'cli.db'), '--no-progress', '--json', '--log-level', 'error'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const cliSeconds = (performance.now() - cliStarted) / 1000;
    const figures = {
      rows: workload.rowCount,
      runs: options.runs,
      rawOneTransactionRowsPerSecond: Math.round(median(raw)),
      fileImportRowsPerSecond: Math.round(median(engine)),
      ratioFileImportToOneTransaction: Number((median(engine) / median(raw)).toFixed(3)),
      fileImportOneWorkerRowsPerSecond: Math.round(median(oneWorker)),
      ratioFileImportOneWorkerToOneTransaction: Number((median(oneWorker) / median(raw)).toFixed(3)),
      fileImportMaxLockHoldMs: Number(Math.max(...holds).toFixed(1)),
      cliSeconds: Number(cliSeconds.toFixed(2)),
      cliRowsPerSecond: Math.round(workload.rowCount / cliSeconds),
      costOfARow: {
        rawOneTransaction: { writeBytesPerRow: median(rawCosts.map((cost) => cost.writeBytesPerRow)), cpuMsPer1000Rows: median(rawCosts.map((cost) => cost.cpuMsPer1000Rows)) },
        fileImport: { writeBytesPerRow: median(engineCosts.map((cost) => cost.writeBytesPerRow)), cpuMsPer1000Rows: median(engineCosts.map((cost) => cost.cpuMsPer1000Rows)) },
      },
    };
    log(`  medians: raw one transaction ${formatRate(figures.rawOneTransactionRowsPerSecond)}, file import ${formatRate(figures.fileImportRowsPerSecond)}: ` +
      `${figures.ratioFileImportToOneTransaction} of one transaction (target 0.8); longest lock hold ${figures.fileImportMaxLockHoldMs} ms`);
    log(`  with 1 fetch worker and 4 jobs in flight: ${formatRate(figures.fileImportOneWorkerRowsPerSecond)}, ${figures.ratioFileImportOneWorkerToOneTransaction} of one transaction`);
    log(`  the command line end to end (process start included): ${cliSeconds.toFixed(2)} s, ${formatRate(figures.cliRowsPerSecond)}`);
    return figures;
  } finally {
    scratch.cleanup();
  }
}
