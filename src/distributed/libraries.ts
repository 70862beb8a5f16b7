/**
 * BullMQ and ioredis, loaded when a Redis transport or a fetch worker starts, not when the
 * package is imported: loading them costs about 0.3 s of CPU, which a program that never
 * talks to Redis (and `league-backfill --help`) should not pay.
 */
import type * as BullMQ from 'bullmq';
import type * as IORedis from 'ioredis';

export interface RedisLibraries {
  Queue: typeof BullMQ.Queue;
  Worker: typeof BullMQ.Worker;
  UnrecoverableError: typeof BullMQ.UnrecoverableError;
  Redis: typeof IORedis.Redis;
}

let loading: Promise<RedisLibraries> | undefined;

/** Loads both libraries once; a failed load is tried again on the next call. */
export function loadRedisLibraries(): Promise<RedisLibraries> {
  loading ??= Promise.all([import('bullmq'), import('ioredis')]).then(
    ([bullmq, ioredis]) => ({ Queue: bullmq.Queue, Worker: bullmq.Worker, UnrecoverableError: bullmq.UnrecoverableError, Redis: ioredis.Redis }),
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  );
  return loading;
}
