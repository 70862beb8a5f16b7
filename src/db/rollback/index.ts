/** The emergency rollback: every flag off, every database back to DELETE mode, and a log line. Re-exports only. */
export { rollbackEverything } from './rollback.js';
export { resolveRollbackOptions, ROLLBACK_LOG_FILE_NAME } from './options.js';
export type { ResolvedRollbackOptions, RollbackOptions } from './options.js';
export { RollbackError } from './result.js';
export type { DatabaseAction, DatabaseRollback, RollbackResult, RollbackStatus } from './result.js';
