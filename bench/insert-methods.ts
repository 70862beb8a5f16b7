/**
 * Experiments for the writer, in bench code only: how fast can a batch get into the table,
 * once it has reached the writer thread as the JSON text it travels as (src/workers/fetch-pages.ts
 * encodes it; src/writer/writer-thread.ts decodes it and binds each row)?
 *
 * - `bind each row` (the writer until rows were staged): JSON.parse the batch, then one `run()`
 *   of the prepared single-row INSERT per row, each binding 15 values from JavaScript.
 * - `staged` (the writer today, src/writer/thread/staging.ts): the transaction's batches are
 *   bound into a `:memory:` staging table before BEGIN, then each batch is one
 *   `INSERT OR IGNORE ... SELECT` inside the transaction. The lock time per 1,000 rows (BEGIN to
 *   the end of COMMIT) is what it changes.
 * - `multi-row VALUES`: JSON.parse, then one statement per batch, `VALUES (...), (...)` with
 *   15 parameters a row, prepared once per batch size.
 * - `json_each`: no decoding in JavaScript at all. One `run()` per batch binds the JSON text and
 *   the three job columns; SQLite walks the array (`INSERT ... SELECT value ->> 0, ... FROM json_each(?)`).
 * - `jsonb_each`: the same over `jsonb_each(jsonb(?))`: the text is parsed once, into SQLite's
 *   binary JSON, instead of once per column.
 *
 * Each method inserts the same rows with the same schema, indexes, pragmas and transactions of
 * the engine's size, into a fresh database, interleaved over runs. The tables they leave are
 * compared, so a faster method that stores something else fails the bench.
 *
 * Also: the demo generator's own cost per 1,000 rows, step by step (generate a season, copy a
 * page out of the cache, encode tuples as JSON, decode them), since the bench measures the
 * engine and the source must not be what holds it back.
 */
import { join } from 'node:path';
import type { Database, Statement } from 'better-sqlite3';
import { openDatabase } from '../src/db/open.js';
import { insertTransactionSql, JOB_COLUMNS } from '../src/db/schema.js';
import { PROFILES } from '../src/flags/index.js';
import { demoLeagueKeys, generateDemoSeason } from '../src/source/demo/index.js';
import { rowToTuple, TRANSACTION_COLUMNS, type RowTuple } from '../src/model/index.js';
import { RowStaging, type StagedRange } from '../src/writer/thread/staging.js';
import { costSince, sampleCost } from './cost.js';
import { demoWorkload, formatRate, jobColumns, median, scratchDir, type Workload } from './lib.js';

export interface InsertMethodsOptions {
  runs: number;
  leagues: number;
  seasons: number[];
  /** 100-row batches per transaction: the engine's transactions hold about 35 of them within their 100 ms budget. */
  batchesPerTransaction: number;
  log(line: string): void;
}

/** The job columns that the writer adds to each row, in the order of JOB_COLUMNS. */
const ALL_COLUMNS = [...TRANSACTION_COLUMNS, ...JOB_COLUMNS];

/**
 * The statement the json_each method uses. `->>` gives SQL values (TEXT, INTEGER, NULL) as
 * the bound JavaScript values would be: the table ends the same, type for type.
 */
export function insertFromJsonSql(table = 'transactions', binary = false): string {
  const values = TRANSACTION_COLUMNS.map((_, index) => `value ->> ${index}`);
  return `INSERT OR IGNORE INTO ${table} (${ALL_COLUMNS.join(', ')}) ` +
    `SELECT ${values.join(', ')}, ?, ?, ? FROM ${binary ? 'jsonb_each(jsonb(?))' : 'json_each(?)'}`;
}

/** `VALUES (?, ...), (?, ...)` for `rows` rows. */
export function insertValuesSql(rows: number, table = 'transactions'): string {
  const one = `(${ALL_COLUMNS.map(() => '?').join(', ')})`;
  return `INSERT OR IGNORE INTO ${table} (${ALL_COLUMNS.join(', ')}) VALUES ${Array.from({ length: rows }, () => one).join(', ')}`;
}

type EncodedBatch = { jobId: string; season: number; leagueSeries: string; rows: string; rowCount: number };
/** Inserts one batch inside the transaction; `stage`, when there is one, runs before its BEGIN with the transaction's batches. */
type Insert = ((batch: EncodedBatch) => number) & { stage?: (batches: readonly EncodedBatch[]) => void };
type Method = (db: Database) => Insert;

const METHODS: Record<string, Method> = {
  'bind each row': (db) => {
    const insert = db.prepare(insertTransactionSql());
    return (batch) => {
      let inserted = 0;
      for (const row of JSON.parse(batch.rows) as RowTuple[]) inserted += insert.run(...row, batch.jobId, batch.season, batch.leagueSeries).changes;
      return inserted;
    };
  },
  'multi-row VALUES': (db) => {
    const bySize = new Map<number, Statement>();
    return (batch) => {
      const rows = JSON.parse(batch.rows) as RowTuple[];
      if (rows.length === 0) return 0;
      let statement = bySize.get(rows.length);
      if (!statement) {
        statement = db.prepare(insertValuesSql(rows.length));
        bySize.set(rows.length, statement);
      }
      const params: unknown[] = [];
      for (const row of rows) params.push(...row, batch.jobId, batch.season, batch.leagueSeries);
      return statement.run(params).changes;
    };
  },
  staged: (db) => {
    const staging = new RowStaging(db, 'transactions');
    let ranges: StagedRange[] = [];
    let next = 0;
    const insert: Insert = () => staging.move(ranges[next++]!);
    insert.stage = (batches) => {
      if (ranges.length > 0) staging.release(ranges.at(-1)!.last);
      ranges = staging.stage(batches.map((batch) => ({ job: batch, rows: JSON.parse(batch.rows) as RowTuple[] })));
      next = 0;
    };
    return insert;
  },
  json_each: (db) => {
    const insert = db.prepare(insertFromJsonSql());
    return (batch) => insert.run(batch.jobId, batch.season, batch.leagueSeries, batch.rows).changes;
  },
  // json_each hands each row to `->>` as JSON text, which is parsed again for each of the 12
  // columns; converted to JSONB once, each row is a binary value that `->>` indexes directly.
  'jsonb_each': (db) => {
    const insert = db.prepare(insertFromJsonSql('transactions', true));
    return (batch) => insert.run(batch.jobId, batch.season, batch.leagueSeries, batch.rows).changes;
  },
};

function encode(workload: Workload): EncodedBatch[] {
  return workload.batches.map((batch) => {
    const [jobId, season, leagueSeries] = jobColumns(batch.jobId);
    return { jobId, season, leagueSeries, rows: JSON.stringify(batch.rows), rowCount: batch.rows.length };
  });
}

function runMethod(path: string, method: Method, batches: EncodedBatch[], batchesPerTransaction: number, rowCount: number): {
  rowsPerSecond: number; cpuMsPer1000Rows: number; lockMsPer1000Rows: number; maxTransactionMs: number; inserted: number; checksum: string;
} {
  const { db } = openDatabase({ path, flags: PROFILES.recommended });
  try {
    const insert = method(db);
    let inserted = 0;
    let maxTransactionMs = 0;
    let lockMs = 0;
    const before = sampleCost();
    const started = performance.now();
    for (let start = 0; start < batches.length; start += batchesPerTransaction) {
      const end = Math.min(batches.length, start + batchesPerTransaction);
      insert.stage?.(batches.slice(start, end));
      const began = performance.now();
      db.exec('BEGIN IMMEDIATE');
      for (let index = start; index < end; index++) inserted += insert(batches[index]!);
      db.exec('COMMIT');
      const held = performance.now() - began;
      lockMs += held;
      maxTransactionMs = Math.max(maxTransactionMs, held);
    }
    const seconds = (performance.now() - started) / 1000;
    const cost = costSince(before, rowCount);
    return {
      rowsPerSecond: rowCount / seconds, cpuMsPer1000Rows: cost.cpuMsPer1000Rows, lockMsPer1000Rows: (lockMs / rowCount) * 1000, maxTransactionMs, inserted, checksum: tableChecksum(db),
    };
  } finally {
    db.close();
  }
}

/** Every value of every row, with its SQL type, folded into one figure: equal tables give equal checksums. */
function tableChecksum(db: Database): string {
  const columns = ALL_COLUMNS.map((column) => `coalesce(typeof(${column}) || ':' || ${column}, 'null')`).join(` || '|' || `);
  const row = db.prepare(`SELECT count(*) AS n, sum(length(${columns})) AS bytes, total(unicode(substr(${columns}, -3))) AS tail FROM transactions`).get() as
    { n: number; bytes: number; tail: number };
  return `${row.n}/${row.bytes}/${row.tail}`;
}

/** The demo generator's own steps, per 1,000 rows, on one thread (CPU ms, medians of 3). */
function demoSourceCost(leagues: number, seasons: number[]): Record<string, number> {
  const keys = demoLeagueKeys(leagues, 1);
  const rowsOf = (pages: RowTuple[][]): number => pages.reduce((sum, page) => sum + page.length, 0);
  const samples: Record<string, number[]> = { generate: [], page: [], encode: [], decode: [] };
  let rows = 0;
  for (let round = 0; round < 3; round++) {
    // A fresh source per round: its season cache must not make generation free.
    let t = sampleCost();
    const seasonsGenerated = keys.flatMap((key) => seasons.map((season) => generateDemoSeason(key, season, { seed: 1 })));
    rows = seasonsGenerated.reduce((sum, page) => sum + page.rows.length, 0);
    // generateDemoSeason also copies the season out of its cache once; `page` below is that copy alone.
    samples.generate!.push(costSince(t, rows).cpuMsPer1000Rows);
    const pages: RowTuple[][] = [];
    t = sampleCost();
    for (const page of seasonsGenerated) pages.push(page.rows.map(rowToTuple));
    const tupled = costSince(t, rows).cpuMsPer1000Rows;
    t = sampleCost();
    const texts: string[] = [];
    for (const tuples of pages) for (let offset = 0; offset < tuples.length; offset += 100) texts.push(JSON.stringify(tuples.slice(offset, offset + 100)));
    samples.encode!.push(tupled + costSince(t, rows).cpuMsPer1000Rows);
    t = sampleCost();
    let decoded = 0;
    for (const text of texts) decoded += (JSON.parse(text) as unknown[]).length;
    samples.decode!.push(costSince(t, rows).cpuMsPer1000Rows);
    if (decoded !== rows || rowsOf(pages) !== rows) throw new Error(`decoded ${decoded} rows of ${rows}`);
    t = sampleCost();
    let copied = 0;
    for (const page of seasonsGenerated) copied += page.rows.map((row) => ({ ...row })).length;
    samples.page!.push(costSince(t, copied).cpuMsPer1000Rows);
  }
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, Number(median(values).toFixed(2))]));
}

export async function insertMethods(options: InsertMethodsOptions): Promise<Record<string, unknown>> {
  const { log } = options;
  const workload = demoWorkload(options.leagues, options.seasons, 1);
  const batches = encode(workload);
  log(`Insert methods: ${workload.rowCount.toLocaleString('en-US')} rows in ${batches.length} batches as JSON text, ` +
    `${options.batchesPerTransaction} batches per transaction (the engine's size), ${options.runs} run(s), interleaved`);
  const results: Record<string, Array<ReturnType<typeof runMethod>>> = Object.fromEntries(Object.keys(METHODS).map((name) => [name, []]));
  for (let run = 0; run < options.runs; run++) {
    const scratch = scratchDir();
    try {
      for (const [name, method] of Object.entries(METHODS)) {
        results[name]!.push(runMethod(join(scratch.dir, `${name.replace(/\W+/g, '-')}.db`), method, batches, options.batchesPerTransaction, workload.rowCount));
      }
    } finally {
      scratch.cleanup();
    }
  }
  const checksums = new Set(Object.values(results).flat().map((result) => result.checksum));
  if (checksums.size !== 1) throw new Error(`the insert methods left different tables: ${[...checksums].join(', ')}`);
  const baseline = median(results['bind each row']!.map((result) => result.rowsPerSecond));
  const figures: Record<string, unknown> = { rows: workload.rowCount, batchesPerTransaction: options.batchesPerTransaction, runs: options.runs };
  for (const [name, list] of Object.entries(results)) {
    const rowsPerSecond = median(list.map((result) => result.rowsPerSecond));
    const cpu = median(list.map((result) => result.cpuMsPer1000Rows));
    const lock = median(list.map((result) => result.lockMsPer1000Rows));
    figures[name] = {
      rowsPerSecond: Math.round(rowsPerSecond),
      cpuMsPer1000Rows: Number(cpu.toFixed(2)),
      lockMsPer1000Rows: Number(lock.toFixed(2)),
      ratioToBindEachRow: Number((rowsPerSecond / baseline).toFixed(3)),
      longestTransactionMs: Number(Math.max(...list.map((result) => result.maxTransactionMs)).toFixed(1)),
    };
    log(`  ${name.padEnd(17)} ${formatRate(rowsPerSecond).padStart(16)}, ${cpu.toFixed(1)} CPU ms/1,000 rows, lock held ${lock.toFixed(1)} ms/1,000 rows, ${(rowsPerSecond / baseline).toFixed(3)}x bind each row, ` +
      `longest transaction ${Math.max(...list.map((result) => result.maxTransactionMs)).toFixed(0)} ms`);
  }
  log(`  the same table from every method (checksum ${[...checksums][0]})`);
  const demo = demoSourceCost(Math.min(options.leagues, 10), options.seasons);
  figures['demoSourceCpuMsPer1000Rows'] = demo;
  log(`  demo source, CPU ms per 1,000 rows on one thread: generate ${demo['generate']}, copy a page out of the cache ${demo['page']}, ` +
    `encode tuples as JSON ${demo['encode']}, decode in the writer ${demo['decode']}`);
  return figures;
}
