/**
 * What listening costs: the same backfill with a listener on every engine event against none,
 * in interleaved pairs. The writer's metrics (writer_metrics, job_log lock columns) and the
 * engine's totals have no off switch, so they are in both sides alike: this measures the
 * events, not the metrics.
 */
import { join } from 'node:path';
import { createEngine, type Engine } from '../src/engine/index.js';
import { PROFILES } from '../src/flags/index.js';
import { demoSource } from '../src/source/demo/index.js';
import { formatRate, median, scratchDir, type Workload } from './lib.js';

/** A listener on every event, doing what a progress display would: count events and keep running totals. */
function listenToEverything(engine: Engine): () => number {
  const heard = { events: 0, committedRows: 0, completedRows: 0, progressRows: 0 };
  const count = (): void => { heard.events++; };
  engine.on('job:queued', count).on('job:started', count).on('job:failed', count).on('lock', count).on('retry', count)
    .on('alert', count).on('checkpoint', count).on('drained', count).on('closed', count).on('error', count);
  engine.on('job:progress', (summary) => { heard.events++; heard.progressRows = Math.max(heard.progressRows, summary.rowsInserted); });
  engine.on('job:completed', (summary) => { heard.events++; heard.completedRows += summary.rowsInserted; });
  engine.on('batch:committed', (result) => { heard.events++; heard.committedRows += result.inserted; });
  return () => heard.events;
}

async function backfill(path: string, workload: Workload, listen: boolean): Promise<{ rowsPerSecond: number; events: number }> {
  const started = performance.now();
  const engine = await createEngine({ database: path, source: demoSource({ seed: workload.seed }), flags: PROFILES.recommended });
  const events = listen ? listenToEverything(engine) : () => 0;
  const jobs = workload.leagues.flatMap((leagueKey) => workload.seasons.map((season) => engine.enqueue({ leagueKey, season })));
  await Promise.all(jobs.map((job) => job.done));
  await engine.close();
  const seconds = (performance.now() - started) / 1000;
  return { rowsPerSecond: workload.rowCount / seconds, events: events() };
}

export async function eventsOverhead(workload: Workload, pairs: number, log: (line: string) => void): Promise<Record<string, unknown>> {
  log(`Events: listeners on every event against none, ${workload.rowCount.toLocaleString('en-US')} rows, ${pairs} interleaved pair(s)`);
  const on: number[] = [];
  const off: number[] = [];
  let events = 0;
  for (let pair = 0; pair < pairs; pair++) {
    // ABBA order: each side runs first in half of the pairs.
    for (const listen of pair % 2 === 0 ? [false, true] : [true, false]) {
      const scratch = scratchDir();
      try {
        const result = await backfill(join(scratch.dir, 'events.db'), workload, listen);
        (listen ? on : off).push(result.rowsPerSecond);
        if (listen) events = result.events;
      } finally {
        scratch.cleanup();
      }
    }
    log(`  pair ${pair + 1}: off ${formatRate(off.at(-1)!)}, on ${formatRate(on.at(-1)!)}`);
  }
  const overheadPercent = Number((((median(off) - median(on)) / median(off)) * 100).toFixed(1));
  log(`  medians: off ${formatRate(median(off))}, on ${formatRate(median(on))} (${events.toLocaleString('en-US')} events heard per run): overhead ${overheadPercent} % (limit 5 %)`);
  return {
    rows: workload.rowCount,
    pairs,
    eventsPerRun: events,
    listenersOffRowsPerSecond: Math.round(median(off)),
    listenersOnRowsPerSecond: Math.round(median(on)),
    overheadPercent,
    withinLimit: overheadPercent < 5,
    covers: 'listeners on every engine event against none; the writer metrics and totals have no off switch and run in both',
  };
}
