export { DEFAULT_FINDING_THRESHOLDS, runDoctor } from './doctor.js';
export type { DoctorOptions, DoctorReport } from './doctor.js';
export { judgeEnvironment, pinningReaders } from './findings.js';
export type { DoctorFinding, FindingId, FindingThresholds } from './findings.js';
export type { DoctorEnvironment, EngineSettings, LockWaiter, RecentMetrics, SampledLock } from './environment.js';
export { pinnedFrames, readWalIndex, readWalNotCheckpointed, uncheckpointedBytes, walNotCheckpointed } from './wal-index.js';
export type { WalIndexHeader } from './wal-index.js';
