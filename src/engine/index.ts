/** The engine: what other folders and the package entry may use of it. Re-exports only. */
export { createEngine, Engine } from './engine.js';
export { defaultFetchWorkers, resolveEngineOptions } from './options.js';
export type { EngineOptions, ResolvedEngineOptions } from './options.js';
export type { Alert, AlertLevel, BatchCommittedEvent, EngineEvents, RunTotals, SubmitRequest, TransactionHandle } from './events.js';
export { DEFAULT_FLAGS } from '../flags/index.js';
