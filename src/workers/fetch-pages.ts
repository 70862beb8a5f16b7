/**
 * The page loop of a fetch task, shared by both thread entries that run it (the in-process
 * pool's fetch-worker.ts and a distributed worker's fetch-thread.ts): fetch consecutive pages,
 * check each, and encode its rows into batches for the writer.
 */
import { SourceError } from '../errors.js';
import { rowToTuple } from '../model/index.js';
import { type Source } from '../source/types.js';
import type { EncodedBatch, FetchedPage, FetchTask, FetchTaskResult } from './protocol.js';

const encoder = new TextEncoder();

/** `bytes`: encode each batch as UTF-8 bytes (between threads) instead of text (over Redis). */
export async function fetchPages(task: FetchTask, source: Source, { bytes = false }: { bytes?: boolean } = {}): Promise<FetchTaskResult> {
  const started = performance.now();
  const pages: FetchedPage[] = [];
  let start = task.start;
  for (let index = 0; index < task.maxPages; index++) {
    const page = await source.fetchPage({ job: task.job, start, pageSize: task.pageSize });
    if (!Number.isInteger(page.recordCount) || page.recordCount < 0 || page.recordCount > task.pageSize) {
      throw new SourceError(`Source ${task.source.kind} returned ${page.recordCount} records for a page of ${task.pageSize} (job ${task.job.jobId}, start ${start})`);
    }
    const batches: EncodedBatch[] = [];
    for (let offset = 0; offset < page.rows.length; offset += task.batchSize) {
      const slice = page.rows.slice(offset, offset + task.batchSize);
      const json = JSON.stringify(slice.map(rowToTuple));
      batches.push({ rows: bytes ? encoder.encode(json) : json, rowCount: slice.length });
    }
    pages.push({ batches, rejected: page.rejected, recordCount: page.recordCount });
    start += page.recordCount;
    // A short page is the last.
    if (page.recordCount < task.pageSize) break;
  }
  return { pages, fetchMs: performance.now() - started };
}
