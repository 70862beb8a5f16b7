/**
 * The writer changes that bench/insert-methods.ts and bench/profile.ts point to, measured end to
 * end before anyone makes them: the built package is copied to a temp folder, the copy's writer
 * is changed there (text replacements on the built JavaScript), and the engine of each copy runs
 * the throughput bench's backfill, interleaved with the unchanged engine and the raw
 * one-transaction insert, in one process.
 *
 *   node dist/bench/writer-variants.js [--runs N] [--leagues N] [--variants today,both,...]
 *
 * A replacement whose text is not found (the writer has changed since) is reported, and that
 * variant skipped: nothing here can measure something other than what it names.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatCost, withCost, type RowCost } from './cost.js';
import { insertFromJsonSql } from './insert-methods.js';
import { BENCH_SEASONS, demoWorkload, formatRate, median, rawInsert, scratchDir, type Workload } from './lib.js';

/** `file` is a built file or a folder searched for the one file holding `from`. */
interface Replacement { file: string; from: string; to: string }
/** `engineOptions`: options the variant's engine runs with (a default changed, not the code). */
interface Variant { name: string; replacements: Replacement[]; engineOptions?: Record<string, unknown> }

const WRITER_THREAD = 'src/writer';
const WRITER_HANDLE = 'src/writer/writer.js';

/** The batch inserted by one statement over the JSON it arrived as: no decoding, no binding per row. */
const JSONB_INSERT: Replacement[] = [
  { file: WRITER_THREAD, from: "const decoded = batches.map((batch) => JSON.parse(typeof batch.rows === 'string' ? batch.rows : decoder.decode(batch.rows)));", to: 'const decoded = batches.map(() => null);' },
  {
    file: WRITER_THREAD,
    from: `for (const row of rows)
            inserted += s.insertRow.run(...row, batch.jobId, batch.season, batch.leagueSeries).changes;`,
    // Prepared on the row statement's own connection, the first time.
    to: `rows = { length: batch.rowCount };
        s.insertJson ??= s.insertRow.database.prepare(${JSON.stringify(insertFromJsonSql('transactions', true))});
        if (batch.rowCount > 0) inserted = s.insertJson.run(batch.jobId, batch.season, batch.leagueSeries, typeof batch.rows === 'string' ? batch.rows : decoder.decode(batch.rows)).changes;`,
  },
];
const WRITER_YOUNG_32: Replacement[] = [
  { file: WRITER_HANDLE, from: 'resourceLimits: { maxYoungGenerationSizeMb: 24, maxOldGenerationSizeMb: 128 }', to: 'resourceLimits: { maxYoungGenerationSizeMb: 32, maxOldGenerationSizeMb: 128 }' },
];

export const VARIANTS: Variant[] = [
  { name: 'today', replacements: [] },
  { name: 'jsonb_each insert', replacements: JSONB_INSERT },
  { name: 'writer young generation 32 MB', replacements: WRITER_YOUNG_32 },
  { name: 'both', replacements: [...JSONB_INSERT, ...WRITER_YOUNG_32] },
  { name: '1 fetch worker', replacements: [], engineOptions: { workers: 1 } },
  { name: 'writer young generation 32 MB + 1 fetch worker', replacements: WRITER_YOUNG_32, engineOptions: { workers: 1 } },
  // One worker with as many jobs in flight as two workers have by default (concurrency is 2 x workers).
  { name: '1 fetch worker + 4 jobs in flight', replacements: [], engineOptions: { workers: 1, concurrency: 4 } },
  { name: 'writer young generation 32 MB + 1 fetch worker + 4 jobs in flight', replacements: WRITER_YOUNG_32, engineOptions: { workers: 1, concurrency: 4 } },
];

/** A copy of the built package with `variant`'s replacements; null (and why) when one does not apply. */
function buildCopy(root: string, dist: string, variant: Variant): { dir: string } | { missing: string } {
  const dir = join(root, variant.name.replace(/\W+/g, '-'));
  mkdirSync(dir, { recursive: true });
  cpSync(join(dist, 'src'), join(dir, 'dist', 'src'), { recursive: true });
  // Bare imports (better-sqlite3, piscina...) resolve from the copy as from the package.
  if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(dist, '..', 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'package.json'), readFileSync(join(dist, '..', 'package.json')));
  for (const { file, from, to } of variant.replacements) {
    const root = join(dir, 'dist', file);
    const candidates = statSync(root).isDirectory()
      ? readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.js')).map((name) => join(root, name))
      : [root];
    const path = candidates.find((candidate) => readFileSync(candidate, 'utf8').includes(from));
    if (path === undefined) return { missing: `${file}: ${from.split('\n')[0]!.trim()}` };
    writeFileSync(path, readFileSync(path, 'utf8').replace(from, to));
  }
  return { dir };
}

type EngineModule = typeof import('../src/engine/index.js');
type FlagsModule = typeof import('../src/flags/index.js');
type DemoModule = typeof import('../src/source/demo/index.js');

async function engineRun(dir: string, path: string, workload: Workload, engineOptions: Record<string, unknown> = {}): Promise<{ rowsPerSecond: number; maxLockHoldMs: number; transactions: number }> {
  const load = async <T>(file: string): Promise<T> => (await import(pathToFileURL(join(dir, 'dist', file)).href)) as T;
  const { createEngine } = await load<EngineModule>('src/engine/index.js');
  const { PROFILES } = await load<FlagsModule>('src/flags/index.js');
  const { demoSource } = await load<DemoModule>('src/source/demo/index.js');
  const started = performance.now();
  const engine = await createEngine({ database: path, source: demoSource({ seed: workload.seed }), flags: PROFILES.recommended, ...engineOptions });
  await Promise.all(workload.leagues.flatMap((leagueKey) => workload.seasons.map((season) => engine.enqueue({ leagueKey, season }).done)));
  await engine.close();
  if (engine.totals.rowsInserted !== workload.rowCount) throw new Error(`engine stored ${engine.totals.rowsInserted} rows, the workload has ${workload.rowCount}`);
  return { rowsPerSecond: workload.rowCount / ((performance.now() - started) / 1000), maxLockHoldMs: engine.totals.maxLockHoldMs, transactions: engine.totals.transactions };
}

export async function writerVariants(options: { runs: number; leagues: number; variants?: string[]; log(line: string): void }): Promise<Record<string, unknown>> {
  const { log } = options;
  const dist = fileURLToPath(new URL('..', import.meta.url));
  const workload = demoWorkload(options.leagues, BENCH_SEASONS, 1);
  const scratch = scratchDir();
  try {
    const copies: Array<{ variant: Variant; dir: string }> = [];
    for (const variant of VARIANTS.filter((entry) => !options.variants || options.variants.includes(entry.name))) {
      const built = buildCopy(join(scratch.dir, 'copies'), dist, variant);
      if ('missing' in built) log(`  ${variant.name}: skipped, the writer no longer has ${built.missing}`);
      else copies.push({ variant, dir: built.dir });
    }
    log(`Writer variants: ${workload.rowCount.toLocaleString('en-US')} rows, ${copies.map((copy) => copy.variant.name).join(' / ')}, ${options.runs} run(s), interleaved`);
    const raw: number[] = [];
    const results = new Map<string, Array<{ rowsPerSecond: number; maxLockHoldMs: number; cost: RowCost }>>(copies.map((copy) => [copy.variant.name, []]));
    for (let run = 0; run < options.runs; run++) {
      raw.push(rawInsert(join(scratch.dir, `raw-${run}.db`), workload, Number.POSITIVE_INFINITY).rowsPerSecond);
      const line: string[] = [`raw one transaction ${formatRate(raw.at(-1)!)}`];
      for (const { variant, dir } of copies) {
        const { value, cost } = await withCost(workload.rowCount, () => engineRun(dir, join(scratch.dir, `${variant.name.replace(/\W+/g, '-')}-${run}.db`), workload, variant.engineOptions));
        results.get(variant.name)!.push({ ...value, cost });
        line.push(`${variant.name} ${formatRate(value.rowsPerSecond)} (hold ${value.maxLockHoldMs.toFixed(0)} ms, ${formatCost(cost)})`);
      }
      log(`  run ${run + 1}: ${line.join('; ')}`);
    }
    const rawMedian = median(raw);
    const figures: Record<string, unknown> = { rows: workload.rowCount, runs: options.runs, rawOneTransactionRowsPerSecond: Math.round(rawMedian) };
    for (const [name, list] of results) {
      const rate = median(list.map((entry) => entry.rowsPerSecond));
      figures[name] = {
        rowsPerSecond: Math.round(rate),
        ratioToOneTransaction: Number((rate / rawMedian).toFixed(3)),
        maxLockHoldMs: Number(Math.max(...list.map((entry) => entry.maxLockHoldMs)).toFixed(1)),
        cpuMsPer1000Rows: Number(median(list.map((entry) => entry.cost.cpuMsPer1000Rows)).toFixed(2)),
      };
      log(`  ${name}: ${formatRate(rate)}, ${(rate / rawMedian).toFixed(3)} of one transaction, longest hold ${Math.max(...list.map((entry) => entry.maxLockHoldMs)).toFixed(1)} ms, ` +
        `${median(list.map((entry) => entry.cost.cpuMsPer1000Rows)).toFixed(1)} CPU ms/1,000 rows`);
    }
    return figures;
  } finally {
    scratch.cleanup();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const value = (name: string, fallback: number): number => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
  const names = args.includes('--variants') ? args[args.indexOf('--variants') + 1]?.split(',') : undefined;
  const unknown = names?.filter((name) => !VARIANTS.some((variant) => variant.name === name)) ?? [];
  if (unknown.length > 0) throw new Error(`Unknown --variants ${unknown.join(', ')}; expected some of: ${VARIANTS.map((variant) => variant.name).join(', ')}`);
  await writerVariants({ runs: value('--runs', 3), leagues: value('--leagues', 25), ...(names ? { variants: names } : {}), log: (line) => process.stdout.write(`${line}\n`) });
}
