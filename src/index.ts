/**
 * league-backfill: backfill fantasy-league transaction history into SQLite with a single
 * writer. This file holds only re-exports: it is the package's one door.
 */
export { createEngine, defaultFetchWorkers, Engine, resolveEngineOptions } from './engine/index.js';
export type { Alert, AlertLevel, BatchCommittedEvent, EngineEvents, EngineOptions, RunTotals, SubmitRequest, TransactionHandle } from './engine/index.js';
export { jobIdOf, validateJobRequest } from './queue/job.js';
export type { JobHandle, JobRequest, JobState, JobSummary } from './queue/job.js';
export { BatchQueue } from './queue/batch-queue.js';
export type { BatchQueueOptions } from './queue/batch-queue.js';
export { demoSource, demoLeagueKeys, seasonLeagueKey } from './source/demo/index.js';
export type { DemoSourceOptions } from './source/demo/index.js';
export { yahooSource, listSeasons } from './source/yahoo/source.js';
export type { YahooSourceOptions, LeagueSeason } from './source/yahoo/source.js';
export { fileSource, planFileJobs } from './source/file/source.js';
export type { FileSourceOptions, FileJob } from './source/file/source.js';
export { parseTransactionsResponse, parseLeagueMetadata } from './source/yahoo-format/index.js';
export { JOB_STATES, TRANSACTION_COLUMNS } from './model/index.js';
export type { FetchTransport, FetchTransportContext, FetchTransportFactory } from './workers/transport.js';
export type { FetchTask, FetchTaskResult, FetchedPage, EncodedBatch } from './workers/protocol.js';
export type { JobRef, ParsedPage, RejectedRecord, TransactionRow } from './model/index.js';
export { SOURCE_KINDS } from './source/types.js';
export type { Source, SourceKind, SourceSpec } from './source/types.js';
export {
  DEFAULT_FLAGS, FLAG_DESCRIPTIONS, FLAG_NAMES, PROFILES, assertFlagName, describeFlags, effectiveFlags, flagsStatus,
  isFlagName, loadFlags, resolveFlagsPath, saveFlags, updateFlags,
} from './flags/index.js';
export type { FlagName, FlagSource, FlagStatus, Flags, FlagsState, ProfileName } from './flags/index.js';
export { openDatabase, checkDatabasePath } from './db/open.js';
export type { AppliedSettings, OpenDatabaseOptions, OpenedDatabase } from './db/open.js';
export { migrate, assertIdentifier, SCHEMA_VERSION, DEFAULT_TABLES } from './db/schema.js';
export type { MigrationResult, TableNames } from './db/schema.js';
export { validateEnvironment } from './db/validate.js';
export type { ValidationCheck, ValidationReport, ValidateOptions } from './db/validate.js';
export { ReadPool, withReader } from './db/read-pool.js';
export type { ReadLease, ReadPoolOptions, ReadPoolStats, WithReaderOptions } from './db/read-pool.js';
export { checkHealth, watchHealth, DEFAULT_HEALTH_THRESHOLDS, HEALTH_EXIT_CODES } from './db/health.js';
export type { HealthOptions, HealthSample, HealthStatus, HealthThresholds, WatchHealthOptions } from './db/health.js';
export { findLockHolders, describeHolders, writeLockHolders } from './db/locking/lock-holders.js';
export type { LockHolder, SqliteLockName } from './db/locking/lock-holders.js';
export { backupDatabase, defaultBackupPath, BACKUP_METHODS, BackupVerificationError, BackupDestinationExistsError } from './db/backup.js';
export type { BackupMethod, BackupOptions, BackupResult, BackupVerification } from './db/backup.js';
export { describeBackup, formatRows } from './db/backup-report.js';
export { readJobLog, queryJobLog } from './db/job-log.js';
export type { JobLog, JobLogEntry, JobLogQuery, ReadJobLogOptions } from './db/job-log.js';
export { fileIdentity, sameFile, databaseFileChange } from './db/file-identity.js';
export type { FileIdentity } from './db/file-identity.js';
export type { DatabaseStatistics } from './db/inspect.js';
export { describeLockWaits } from './db/locking/operation-lock.js';
export { formatBytes } from './db/validate.js';
export { maintainDatabase } from './db/maintain.js';
export type { MaintenanceOptions, MaintenanceReport, MaintenanceStep, MaintenanceStepName } from './db/maintain.js';
export { rollbackEverything, RollbackError } from './db/rollback/index.js';
export type { RollbackOptions, RollbackResult } from './db/rollback/index.js';
export { DEFAULT_RETRY_POLICY, worstCaseDelayMs } from './db/locking/retry-policy.js';
export { CHECKPOINT_MODES, LOCK_WAIT_STRATEGIES, TRANSACTION_MODES } from './writer/protocol.js';
export type { CheckpointInfo, CheckpointMode, LockInfo, LockWaitStrategy, RetryPolicy, TransactionMode } from './writer/protocol.js';
export {
  BackfillError, ClosedError, DatabaseLockedError, DatabaseOpenError, FlagsFileError, InvalidOptionError, SourceError, WriterRunningError, ERROR_CODES,
  isLockError, USAGE_ERROR_CODES,
} from './errors.js';
export type { ErrorCode, SerializedError } from './errors.js';
export { createCliLogger, silentLogger, LOG_FORMATS, LOG_LEVELS } from './logger.js';
export type { LogFormat, Logger } from './logger.js';
export { packageVersion } from './util/package-version.js';
export * from './db/guide.js';
export * from './distributed/index.js';
export * from './server/index.js';
export * from './loadtest/index.js';
