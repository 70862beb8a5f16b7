/**
 * A fetch thread of a `league-backfill worker` process (Piscina task): the in-process fetch
 * task (the same page loop, src/workers/fetch-pages.ts: fetch pages, parse, validate, encode batches), with one
 * difference: every HTTP request the source makes (pages, league metadata lookups, retries,
 * token refreshes) first takes a slot of ONE request schedule in Redis shared by every worker
 * on every machine, through this process's main thread. BullMQ's limiter only sees tasks, and
 * a task can make several requests: measured, three workers at --rate 2 put 6 requests in one
 * second at the server with the task limiter alone.
 *
 * This file is a thread entry: it is never exported from the package.
 */
import { randomBytes } from 'node:crypto';
import { BroadcastChannel, threadId, workerData } from 'node:worker_threads';
import { serializeError, SourceError } from '../errors.js';
import { createSource } from '../source/index.js';
import type { Source } from '../source/types.js';
import { fetchPages } from '../workers/fetch-pages.js';
import { sleep } from '../util/sleep.js';
import type { FetchTaskOutcome } from '../workers/protocol.js';
import { SharedRateLimiter } from '../util/rate-limiter.js';
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
    return { ok: true, result: await fetchPages(task.task, await sourceFor(task)) };
  } catch (error) {
    return { ok: false, error: serializeError(error) };
  }
}
