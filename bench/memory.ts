/**
 * Peak memory of a whole backfill process (every thread), for growing numbers of seasons up to
 * about 1,000,000 rows with the defaults, then with one default changed at a time, to show what
 * each thread holds. Each run is its own process under `--trace-gc`, whose lines give the heap
 * of each thread (isolate) after every collection.
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scratchDir } from './lib.js';

export interface MemoryRun {
  label: string;
  seasons: number;
  rows: number;
  seconds: number;
  maxRssMB: number;
  /** Largest committed heap of each thread (MB), largest first; the main thread's is also under `main`. */
  heapsMB: number[];
  main: { heapUsedMB: number; heapTotalMB: number; externalMB: number; arrayBuffersMB: number };
  loadAverage: number;
}

/** `[pid:isolate]  123 ms: Scavenge 5.2 (8.0) -> 4.1 (9.0) MB, ...`: the heap after the collection, used (committed). */
const GC_LINE = /^\[\d+:(0x[0-9a-f]+)\]\s+[\d.]+ ms: [^\d]*[\d.]+ \([\d.]+\) -> [\d.]+ \(([\d.]+)\) MB/;

export function runMemoryChild(dir: string, label: string, leagues: number, from: number, to: number, engineOptions: Record<string, unknown> = {}): MemoryRun {
  const child = fileURLToPath(new URL('./memory-child.js', import.meta.url));
  const output = execFileSync(process.execPath, ['--trace-gc', child, join(dir, `${label.replace(/\W+/g, "-")}-${from}-${to}.db`), String(leagues), String(from), String(to), JSON.stringify(engineOptions)],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const lines = output.trimEnd().split('\n');
  const result = JSON.parse(lines.at(-1)!) as Omit<MemoryRun, 'label' | 'seasons' | 'heapsMB' | 'loadAverage'>;
  const heaps = new Map<string, number>();
  for (const line of lines) {
    const match = GC_LINE.exec(line);
    if (match) heaps.set(match[1]!, Math.max(heaps.get(match[1]!) ?? 0, Number(match[2])));
  }
  return {
    ...result,
    label,
    seasons: to - from + 1,
    maxRssMB: Number(result.maxRssMB.toFixed(1)),
    heapsMB: [...heaps.values()].sort((a, b) => b - a).map((value) => Number(value.toFixed(1))),
    loadAverage: Number(loadavg()[0]!.toFixed(2)),
  };
}

export function memorySection(options: { quick: boolean; log(line: string): void }): Record<string, unknown> {
  const { log } = options;
  const leagues = options.quick ? 2 : 10;
  // 10 leagues x 83 seasons is about 1,000,000 rows; the first size is long enough for every
  // thread's heap to reach its working size.
  const sizes: Array<[number, number]> = options.quick ? [[2020, 2021], [2016, 2025]] : [[2016, 2025], [1996, 2025], [1950, 2032]];
  const scratch = scratchDir();
  try {
    log(`Peak memory (RSS of the whole process, every thread), ${leagues} leagues, engine defaults:`);
    const runs: MemoryRun[] = [];
    for (const [from, to] of sizes) {
      const run = runMemoryChild(scratch.dir, 'defaults', leagues, from, to);
      runs.push(run);
      log(`  ${run.seasons} seasons: ${run.rows.toLocaleString('en-US')} rows in ${run.seconds.toFixed(1)} s, peak ${run.maxRssMB.toFixed(1)} MB ` +
        `(heaps of the threads ${run.heapsMB.join(', ')} MB; main thread heap ${run.main.heapTotalMB} MB, its buffers ${run.main.arrayBuffersMB} MB; load ${run.loadAverage})`);
    }
    const first = runs[0]!;
    const last = runs.at(-1)!;
    log(`  ${(last.rows / first.rows).toFixed(1)}x the rows, ${(last.maxRssMB / first.maxRssMB).toFixed(2)}x the peak memory; ` +
      `${last.rows.toLocaleString('en-US')} rows: ${last.maxRssMB < 200 ? 'under' : 'over'} 200 MB`);
    // One default changed at a time, on the middle size: what each part holds.
    const [from, to] = sizes[Math.min(1, sizes.length - 1)]!;
    const variants: Array<[string, Record<string, unknown>]> = [
      ['1 fetch worker', { workers: 1 }],
      ['fetch workers\' heap limit 64 MB', { workerHeapLimitMb: 64 }],
      ['queue of 5,000 rows', { queueMaxRows: 5_000 }],
      ['groups of 2,500 rows', { groupMaxRows: 2_500 }],
      ['2 jobs in flight', { concurrency: 2 }],
      ['1 page per task', { pagesPerTask: 1 }],
    ];
    const variantRuns: MemoryRun[] = [];
    const baseline = runs[Math.min(1, runs.length - 1)]!;
    log(`  one default changed at a time (${to - from + 1} seasons; defaults: peak ${baseline.maxRssMB.toFixed(1)} MB):`);
    for (const [label, engineOptions] of options.quick ? variants.slice(0, 1) : variants) {
      const run = runMemoryChild(scratch.dir, label, leagues, from, to, engineOptions);
      variantRuns.push(run);
      log(`    ${label}: peak ${run.maxRssMB.toFixed(1)} MB (${(run.maxRssMB - baseline.maxRssMB).toFixed(1)} MB), ${run.seconds.toFixed(1)} s ` +
        `(${Math.round(run.rows / run.seconds).toLocaleString('en-US')} rows/s; heaps ${run.heapsMB.join(', ')} MB; load ${run.loadAverage})`);
    }
    return {
      leagues,
      runs,
      ratioRows: Number((last.rows / first.rows).toFixed(1)),
      ratioPeakMemory: Number((last.maxRssMB / first.maxRssMB).toFixed(2)),
      variants: variantRuns,
    };
  } finally {
    scratch.cleanup();
  }
}
