/** The operator's guide as code: gradual rollout, doctor, workload profiles, the SQLite version guard. Re-exports only. */
export {
  DEFAULT_WORKLOAD, WORKLOAD_DESCRIPTIONS, WORKLOAD_KEY, WORKLOAD_NAMES, applyWorkloadPragmas, assertWorkloadName, isWorkloadName, planWorkload, setWorkload,
} from '../flags/index.js';
export type { AppliedWorkload, ApplyWorkloadOptions, SaveFlagsOptions, WorkloadContext, WorkloadName, WorkloadPlan, WorkloadPragma } from '../flags/index.js';
export {
  WAL_RESET_BUG, assertSqliteVersionSafe, bundledSqliteVersion, compareSqliteVersions, describeWalResetStatus, isAffectedByWalResetBug,
  parseSqliteVersion, parseSqliteVersionStrict, walResetFixFor,
} from './sqlite-version.js';
export type { SqliteVersion, SqliteVersionGuardOptions } from './sqlite-version.js';
export {
  findLeaseHolders, findProcessesWithDatabase, identifySqliteLibrary, mappedSqliteCandidates, processAlive, readEmbeddedSqliteVersion,
} from './processes.js';
export type { FindProcessesOptions, LeaseHolder, OpenProcess, SqliteLibrary } from './processes.js';
export { appendHealthHistory, defaultHistoryPath, evaluateHealth, evaluateNeighbours, resolveHealthThresholds, worseStatus, RECENT_ALERTS_MS } from './health.js';
export type { HealthWriter } from './health.js';
export { readMetricMinutes, readRecentAlerts, readRecordedLockHolders, readWalPin, readWriterRecord } from './writer-records.js';
export type { MetricMinute, RecordedLockHolder, StoredAlert, WalPin, WriterRecord } from './writer-records.js';
export * from './rollout/index.js';
export type { DatabaseAction, DatabaseRollback, RollbackStatus } from './rollback/index.js';
export * from './doctor/index.js';
