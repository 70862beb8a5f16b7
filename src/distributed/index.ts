/** The BullMQ transport and the `worker` process: the package's distributed mode. Re-exports only. */
export { bullmqTransport, resolveBullmqTransportOptions, BullmqTransport } from './transport.js';
export type { BullmqTransportOptions, ResolvedBullmqTransportOptions } from './transport.js';
export { startFetchWorker, resolveFetchWorkerOptions, FetchWorker } from './worker.js';
export type { FetchWorkerEvents, FetchWorkerOptions, FetchWorkerStats, FetchTaskEvent } from './worker.js';
export { redactRedisUrl } from './redis.js';
export { DEFAULT_QUEUE_PREFIX } from './options.js';
export { PACKAGE_VERSION } from './version.js';
