/**
 * A fetch thread of a `league-backfill worker` process (Piscina task): the in-process fetch
 * task (src/workers/fetch-worker.ts: fetch pages, parse, validate, encode batches), with one
 * difference: every HTTP request the source makes (pages, league metadata lookups, retries,
 * token refreshes) first takes a slot of ONE request schedule in Redis shared by every worker
 * on every machine, through this process's main thread. BullMQ's limiter only sees tasks, and
 * a task can make several requests: measured, three workers at --rate 2 put 6 requests in one
 * second at the server with the task limiter alone.
 *
 * Keep the page loop in step with src/workers/fetch-worker.ts.
 *
 * This file is a thread entry: it is never exported from the package.
 */
import { randomBytes } from 'node:crypto';
import { BroadcastChannel, threadId, workerData } from 'node:worker_threads';
import { serializeError, SourceError } from '../errors.js';
import { createSource } from '../source/index.js';
import { rowToTuple, type Source } from '../source/types.js';
import { sleep } from '../util/sleep.js';
import type { EncodedBatch, FetchedPage, FetchTaskOutcome, FetchTaskResult } from '../workers/protocol.js';
import { SharedRateLimiter } from '../workers/rate-limiter.js';
import type { SlotGrant, SlotRequest, ThreadTask, FetchThreadData } from './thread-protocol.js';

const data = workerData as FetchThreadData;
const channel = new BroadcastChannel(data.channel);
channel.unref();
const waiting = new Map<string, { resolve(waitMs: number): void; reject(error: Error): void }>();
channel.onmessage = (event: unknown) => {
  const grant = (event as { data?: SlotGrant }).data;
  if (grant?.type !== 'grant') return;
  const entry = waiting.get(grant.id);
  if (!entry) return;
  waiting.delete(grant.id);
  if (grant.error !== undefined) entry.reject(new SourceError(grant.error, { transient: true }));
  else entry.resolve(grant.waitMs);
};

/** Asks the main thread for the next slot of the shared schedule; resolves with how long to wait for it. */
function requestSlot(requestsPerSecond: number): Promise<number> {
  const id = `${threadId}-${randomBytes(6).toString('hex')}`;
  return new Promise<number>((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    const request: SlotRequest = { type: 'slot', id, requestsPerSecond };
    channel.postMessage(request);
  });
}

/**
 * The gate the sources call before each request. A subclass of the in-process limiter, so the
 * sources take it as they take that one; only `limited` and `acquire` are used by them.
 */
class RemoteRateLimiter extends SharedRateLimiter {
  readonly #requestsPerSecond: number;

  constructor(requestsPerSecond: number) {
    super(0);
    this.#requestsPerSecond = requestsPerSecond;
  }

  override get limited(): boolean {
    return this.#requestsPerSecond > 0;
  }

  override reserve(): number {
    throw new Error('RemoteRateLimiter has no local schedule: use acquire()');
  }

  override async acquire(signal?: AbortSignal): Promise<void> {
    if (!this.limited) return;
    signal?.throwIfAborted();
    const waitMs = await requestSlot(this.#requestsPerSecond);
    if (waitMs > 0) await sleep(waitMs, signal);
  }
}

/** Sources by their description and rate: a thread serves many jobs of the same source. */
const sources = new Map<string, Promise<Source>>();

function sourceFor(task: ThreadTask): Promise<Source> {
  const key = `${task.requestsPerSecond}|${JSON.stringify(task.task.source)}`;
  let source = sources.get(key);
  if (!source) {
    source = createSource(task.task.source, { rateLimiter: new RemoteRateLimiter(task.requestsPerSecond) });
    sources.set(key, source);
    source.catch(() => sources.delete(key));
  }
  return source;
}

export default async function fetchThreadTask(task: ThreadTask): Promise<FetchTaskOutcome> {
  try {
    return { ok: true, result: await fetchPages(task) };
  } catch (error) {
    return { ok: false, error: serializeError(error) };
  }
}

async function fetchPages(threadTask: ThreadTask): Promise<FetchTaskResult> {
  const { task } = threadTask;
  const started = performance.now();
  const source = await sourceFor(threadTask);
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
