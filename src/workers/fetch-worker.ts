/**
 * A fetch worker (Piscina task): fetches one page of one job, parses and validates it, and
 * hands back its rows in batches already encoded for the writer.
 *
 * This file is a thread entry: it is never exported from the package.
 */
import { workerData } from 'node:worker_threads';
import { serializeError, SourceError } from '../errors.js';
import { createSource } from '../source/index.js';
import { rowToTuple, type Source } from '../source/types.js';
import type { EncodedBatch, FetchedPage, FetchTask, FetchTaskOutcome, FetchTaskResult, FetchWorkerData } from './protocol.js';
import { SharedRateLimiter } from './rate-limiter.js';

const data = workerData as FetchWorkerData;
const rateLimiter = new SharedRateLimiter(data.requestsPerSecond, data.rateBuffer);
/** Sources by their description: a worker serves many jobs of the same source. */
const sources = new Map<string, Promise<Source>>();

function sourceFor(task: FetchTask): Promise<Source> {
  const key = JSON.stringify(task.source);
  let source = sources.get(key);
  if (!source) {
    source = createSource(task.source, { rateLimiter });
    sources.set(key, source);
    source.catch(() => sources.delete(key));
  }
  return source;
}

export default async function fetchTask(task: FetchTask): Promise<FetchTaskOutcome> {
  try {
    return { ok: true, result: await fetchPages(task) };
  } catch (error) {
    return { ok: false, error: serializeError(error) };
  }
}

async function fetchPages(task: FetchTask): Promise<FetchTaskResult> {
  const started = performance.now();
  const source = await sourceFor(task);
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
      batches.push({ rows: JSON.stringify(slice.map(rowToTuple)), rowCount: slice.length });
    }
    pages.push({ batches, rejected: page.rejected, recordCount: page.recordCount });
    start += page.recordCount;
    if (page.recordCount < task.pageSize) break;
  }
  return { pages, fetchMs: performance.now() - started };
}
