export {
  DEFAULT_FLAGS,
  FLAG_DESCRIPTIONS,
  FLAG_NAMES,
  PROFILES,
  assertFlagName,
  describeFlags,
  effectiveFlags,
  flagsStatus,
  isFlagName,
} from './definitions.js';
export type { FlagName, FlagSource, FlagStatus, Flags, FlagsState, ProfileName } from './definitions.js';
export {
  DEFAULT_FLAGS_FILE_NAME,
  FLAGS_PATH_ENV,
  formatFlags,
  loadFlags,
  loadFlagsSync,
  parseFlagsText,
  resolveFlagsPath,
  saveFlags,
  setWorkload,
  updateFlags,
  WORKLOAD_KEY,
} from './file.js';
export type { FlagsChange, ResolveFlagsPathOptions, SaveFlagsOptions } from './file.js';
export {
  DEFAULT_WORKLOAD,
  WORKLOAD_DESCRIPTIONS,
  WORKLOAD_NAMES,
  applyWorkloadPragmas,
  assertWorkloadName,
  isWorkloadName,
  planWorkload,
} from './workload.js';
export type { AppliedWorkload, ApplyWorkloadOptions, WorkloadContext, WorkloadName, WorkloadPlan, WorkloadPragma } from './workload.js';
