/**
 * A fetch worker (Piscina task): fetches one page of one job, parses and validates it, and
 * hands back its rows in batches already encoded for the writer.
 *
 * This file is a thread entry: it is never exported from the package.
 */
import { workerData } from 'node:worker_threads';
import { serializeError } from '../errors.js';
import { createSource } from '../source/index.js';
import type { Source } from '../source/types.js';
import { fetchPages } from './fetch-pages.js';
import type { FetchTask, FetchTaskOutcome, FetchWorkerData } from './protocol.js';
import { SharedRateLimiter } from '../util/rate-limiter.js';

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
    // Bytes, not text: a row batch then lives outside the main thread's heap while it waits in the
    // queue, and moves to the writer without a copy (docs/performance.md, Memory).
    return { ok: true, result: await fetchPages(task, await sourceFor(task), { bytes: true }) };
  } catch (error) {
    return { ok: false, error: serializeError(error) };
  }
}
