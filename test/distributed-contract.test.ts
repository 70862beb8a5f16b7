/**
 * One contract, two transports: the in-process Piscina pool and BullMQ over a real Redis with
 * a real `league-backfill worker` process. The engine must not be able to tell them apart.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bullmqTransport, demoSource, fileSource, type FetchTask, type FetchTaskResult, type FetchTransport } from '../dist/src/index.js';
import { FetchPool } from '../dist/src/workers/pool.js';
import { BIN } from './helpers/cli.js';
import { startRedisServer, startWorkerProcess, type RedisServer, type WorkerProcess } from './helpers/redis-server.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();
const CONTEXT = { workers: 2, requestsPerSecond: 0, heapLimitMb: 128, niceIncrement: 0 };

function task(overrides: Partial<FetchTask> & { season?: number } = {}): FetchTask {
  const { season = 2021, ...rest } = overrides;
  return {
    source: demoSource({ seed: 11 }),
    job: { jobId: `demo:461.l.77:${season}`, leagueKey: '461.l.77', season },
    start: 0,
    pageSize: 25,
    batchSize: 40,
    maxPages: 3,
    ...rest,
  };
}

/** What a promise that must fail rejects with (a promise that resolves fails the test). */
async function rejectionOf<E = Error & { code?: string; cause?: unknown }>(promise: Promise<unknown>): Promise<E> {
  return promise.then(
    () => { throw new Error('expected a rejection, but the promise resolved'); },
    (caught: unknown) => caught as E,
  );
}

let redis: RedisServer;
let worker: WorkerProcess;

beforeAll(async () => {
  redis = await startRedisServer();
  worker = await startWorkerProcess(BIN, redis.url, ['--workers', '2', '--queue-prefix', 'contract']);
});

afterAll(async () => {
  await worker?.stop();
  await redis?.close();
});

const transports: Array<[string, () => Promise<FetchTransport>]> = [
  ['the in-process pool', async () => new FetchPool(CONTEXT)],
  ['BullMQ over Redis', async () => bullmqTransport({ redis: redis.url, queuePrefix: 'contract' })(CONTEXT)],
];

/** A batch's rows, whether they came as UTF-8 bytes (threads) or text (Redis). */
function rowsOf(batch: { rows: string | Uint8Array }): unknown[] {
  return JSON.parse(typeof batch.rows === 'string' ? batch.rows : new TextDecoder().decode(batch.rows)) as unknown[];
}

function decodedPages(result: FetchTaskResult): unknown[] {
  return result.pages.map((page) => ({ ...page, batches: page.batches.map((batch) => ({ rowCount: batch.rowCount, rows: rowsOf(batch) })) }));
}

describe.each(transports)('the fetch transport contract: %s', (_name, make) => {
  it('runs tasks into pages, in order, short last page included', async () => {
    const transport = await make();
    try {
      const results = await Promise.all([2019, 2020, 2021].map((season) => transport.run(task({ season, maxPages: 100 }))));
      for (const result of results) {
        expect(result.pages.length).toBeGreaterThan(1);
        expect(result.pages.slice(0, -1).every((page) => page.recordCount === 25)).toBe(true);
        expect(result.pages.at(-1)!.recordCount).toBeLessThan(25);
        for (const page of result.pages) {
          expect(page.batches.every((batch) => batch.rowCount <= 40 && rowsOf(batch).length === batch.rowCount)).toBe(true);
        }
      }
    } finally {
      await transport.close();
    }
  });

  it('keeps the code and transient flag of a failure', async () => {
    const dir = tempDir();
    const input = join(dir, 'rows.ndjson');
    writeFileSync(input, '');
    mkdirSync(join(dir, 'empty'));
    const transport = await make();
    try {
      const flaky = await transport.run(task({ source: demoSource({ seed: 1, failureRate: 1 }) })).catch((error: unknown) => error);
      expect(flaky).toMatchObject({ code: 'ERR_SOURCE', transient: true });
      expect((flaky as Error).message).toMatch(/a retry may succeed/);

      const badOptions = await transport.run(task({ source: { kind: 'demo', options: { failureRate: 7 } } })).catch((error: unknown) => error);
      expect(badOptions).toMatchObject({ code: 'ERR_INVALID_OPTION' });
      expect((badOptions as { transient?: boolean }).transient).not.toBe(true);
      expect((badOptions as Error).message).toMatch(/failureRate/);

      const missing = await transport.run(task({ source: fileSource({ input: join(dir, 'empty') }) })).catch((error: unknown) => error);
      expect((missing as { code?: string }).code).toMatch(/^ERR_(INPUT|SOURCE)$/);
      expect((missing as { transient?: boolean }).transient).not.toBe(true);
    } finally {
      await transport.close();
    }
  });

  it('gives the same pages for the same tasks as the other transport', async () => {
    const transport = await make();
    const reference = new FetchPool(CONTEXT);
    try {
      const tasks = [task({ season: 2018 }), task({ season: 2018, start: 75 }), task({ season: 2024, batchSize: 7, maxPages: 2 })];
      const [got, expected] = await Promise.all([
        Promise.all(tasks.map((t) => transport.run(t))),
        Promise.all(tasks.map((t) => reference.run(t))),
      ]);
      // Rows travel as bytes between threads and as text over Redis: the same JSON either way.
      expect(got.map(decodedPages)).toEqual(expected.map(decodedPages));
    } finally {
      await Promise.all([transport.close(), reference.close()]);
    }
  });

  it('rejects at once when the signal aborts, and keeps working after', async () => {
    const transport = await make();
    try {
      const controller = new AbortController();
      const reason = new Error('the caller gave up');
      const started = performance.now();
      const slow = transport.run(task({ source: demoSource({ seed: 2, latencyMs: 3000 }), maxPages: 1 }), controller.signal);
      setTimeout(() => controller.abort(reason), 100);
      const error = await rejectionOf(slow);
      expect(performance.now() - started).toBeLessThan(1500);
      // Piscina wraps the reason in its AbortError; the BullMQ transport rejects with the reason itself.
      expect(error === reason || (error.name === 'AbortError' && error.cause === reason)).toBe(true);

      const already = new AbortController();
      already.abort(reason);
      await expect(transport.run(task(), already.signal)).rejects.toBeTruthy();
      expect((await transport.run(task({ maxPages: 1 }))).pages).toHaveLength(1);
    } finally {
      await transport.close();
    }
  });

  it('closes once however often close() is called', async () => {
    const transport = await make();
    await transport.run(task({ maxPages: 1 }));
    await Promise.all([transport.close(), transport.close()]);
    await transport.close();
  });
});

describe('the BullMQ transport', () => {
  it('refuses tasks once closed, with ERR_CLOSED', async () => {
    const transport = await bullmqTransport({ redis: redis.url, queuePrefix: 'contract' })(CONTEXT);
    await transport.close();
    await expect(transport.run(task())).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('rejects unknown and malformed options by name, before connecting', () => {
    expect(() => bullmqTransport({ redis: redis.url, queuPrefix: 'x' } as never)).toThrow(/queuPrefix/);
    expect(() => bullmqTransport({ redis: 'http://127.0.0.1:6379' })).toThrow(/Expected `redis` to be a Redis URL/);
    expect(() => bullmqTransport({ redis: redis.url, queuePrefix: 'a:b' })).toThrow(/queuePrefix/);
    expect(() => bullmqTransport({ redis: 'redis://:hunter22@127.0.0.1:1/x' })).toThrow(/\*\*\*/);
    expect(() => bullmqTransport({ redis: 'redis://:hunter22@127.0.0.1:1/x' })).not.toThrow(/hunter22/);
  });
});
