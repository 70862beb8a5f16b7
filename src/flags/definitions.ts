import { InvalidOptionError } from '../errors.js';
import type { WorkloadName } from './workload.js';

/** The seven flags, in the order files are written and status is shown. */
export const FLAG_NAMES = [
  'pragma_optimizations',
  'aggressive_caching',
  'wal_mode',
  'explicit_transactions',
  'retry_logic',
  'connection_pooling',
  'isolation_levels',
] as const;

export type FlagName = (typeof FLAG_NAMES)[number];

/** A value for every flag. */
export type Flags = Readonly<Record<FlagName, boolean>>;

/** Where a flag's value came from: the flags file, or the defaults because the file lacks it. */
export type FlagSource = 'file' | 'default';

/** What each flag does when it is on. */
export const FLAG_DESCRIPTIONS: Readonly<Record<FlagName, string>> = Object.freeze({
  pragma_optimizations: 'Sets busy_timeout = 5000, synchronous = NORMAL and a 16 MB page cache on every connection.',
  aggressive_caching:
    'Raises the page cache to 64 MB with temp_store = MEMORY and mmap_size = 256 MB (only with pragma_optimizations).',
  wal_mode:
    'Switches the database to journal_mode = WAL after a compatibility check, turning the flag off with a warning if SQLite refuses.',
  explicit_transactions:
    'Wraps every batch in BEGIN IMMEDIATE ... COMMIT and rolls it back on any error, instead of the legacy deferred transaction.',
  retry_logic:
    'Retries lock errors up to 5 attempts with exponential backoff (100 ms first delay, factor 2, 5 s cap, jitter 0.5 to 1.5) instead of failing the batch on the first one.',
  connection_pooling:
    'Serves reads (health, jobs, the query API) from a pool of read-only connections with limits, acquire timeout, health checks and stats.',
  isolation_levels:
    'Lets operations choose deferred, immediate or exclusive transactions, runs serializable() in an EXCLUSIVE transaction and sets query_only on read-only connections.',
});

function profile(on: (name: FlagName) => boolean): Flags {
  return Object.freeze(Object.fromEntries(FLAG_NAMES.map((name) => [name, on(name)])) as Record<FlagName, boolean>);
}

/**
 * Named sets of flags. `baseline` is the legacy behaviour a gradual rollout starts from;
 * `recommended` leaves out `aggressive_caching`, whose memory cost depends on the machine.
 */
export const PROFILES: Readonly<{ baseline: Flags; recommended: Flags; full: Flags }> = Object.freeze({
  baseline: profile(() => false),
  recommended: profile((name) => name !== 'aggressive_caching'),
  full: profile(() => true),
});

export type ProfileName = keyof typeof PROFILES;

/** What a missing flags file means, and what a file written before a flag existed gets for it. */
export const DEFAULT_FLAGS: Flags = PROFILES.recommended;

const FLAG_NAME_SET: ReadonlySet<string> = new Set(FLAG_NAMES);

export function isFlagName(name: string): name is FlagName {
  return typeof name === 'string' && FLAG_NAME_SET.has(name);
}

/** Returns `name` as a flag name, or throws an `InvalidOptionError` listing the valid names. */
export function assertFlagName(name: string): FlagName {
  if (isFlagName(name)) return name;
  const suggestion = typeof name === 'string' ? closestFlagName(name) : undefined;
  throw new InvalidOptionError(
    'flag',
    `one of ${FLAG_NAMES.join(', ')}`,
    name,
    suggestion === undefined ? undefined : `Did you mean ${suggestion}?`,
  );
}

/**
 * The flag a mistyped name most likely meant, if any: the same name with other case or
 * separators, a name it is a fragment of (`wal` for `wal_mode`), or one a few edits away.
 */
export function closestFlagName(input: string): FlagName | undefined {
  const wanted = input.trim().toLowerCase().replace(/[-\s]+/g, '_');
  if (wanted.length === 0) return undefined;
  if (isFlagName(wanted)) return wanted;
  let best: FlagName | undefined;
  let bestDistance = Infinity;
  for (const name of FLAG_NAMES) {
    const distance = editDistance(wanted, name);
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  if (best !== undefined && bestDistance <= Math.max(2, Math.floor(wanted.length / 3))) return best;
  // A fragment is only a good guess when it is long enough and points at a single flag.
  if (wanted.length >= 3) {
    const containing = FLAG_NAMES.filter((name) => name.includes(wanted));
    if (containing.length === 1) return containing[0];
  }
  return undefined;
}

/** Levenshtein distance; the strings here are a few dozen characters, so the plain table is enough. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The flags as they take effect: `aggressive_caching` only enlarges a cache that
 * `pragma_optimizations` configures, so without it there is nothing to enlarge.
 */
export function effectiveFlags(flags: Flags): Flags {
  return Object.freeze({ ...flags, aggressive_caching: flags.aggressive_caching && flags.pragma_optimizations });
}

/** One line for logs and start-up messages, e.g. `wal_mode, retry_logic on; aggressive_caching off`. */
export function describeFlags(flags: Flags): string {
  const on = FLAG_NAMES.filter((name) => flags[name]);
  const off = FLAG_NAMES.filter((name) => !flags[name]);
  if (off.length === 0) return 'all on';
  if (on.length === 0) return 'all off';
  return `${on.join(', ')} on; ${off.join(', ')} off`;
}

/** The flags read from one file, and where each value came from. */
export interface FlagsState {
  /** The flags file this state was read from or written to. */
  path: string;
  /** False when there is no file and every flag has its default. */
  exists: boolean;
  flags: Flags;
  sources: Readonly<Record<FlagName, FlagSource>>;
  /** The workload profile (`workload` in the file): `mixed`, `read-heavy` or `write-heavy`. */
  workload: WorkloadName;
  /** `file` when the file names a workload, `default` when it does not (mixed). */
  workloadSource: FlagSource;
}

export interface FlagStatus {
  name: FlagName;
  enabled: boolean;
  source: FlagSource;
  description: string;
}

/** One row per flag, in `FLAG_NAMES` order, for `flags status` and the API. */
export function flagsStatus(state: FlagsState): FlagStatus[] {
  return FLAG_NAMES.map((name) => ({
    name,
    enabled: state.flags[name],
    source: state.sources[name],
    description: FLAG_DESCRIPTIONS[name],
  }));
}
