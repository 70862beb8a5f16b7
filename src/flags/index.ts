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
  updateFlags,
} from './file.js';
export type { FlagsChange, ResolveFlagsPathOptions } from './file.js';
