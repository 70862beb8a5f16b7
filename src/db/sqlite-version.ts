/**
 * SQLite versions: parsing, comparing, and the WAL-reset bug guard.
 *
 * SQLite 3.7.0 (the first with WAL) through 3.51.2 have a bug in resetting the WAL: with WAL
 * and two connections writing and checkpointing at the same moment, committed transactions can
 * be lost. It is fixed in 3.51.3 and the fix was backported to 3.50.7 and 3.44.6, so 3.44.6 to
 * 3.44.x and 3.50.7 to 3.50.x are fixed too. The engine's own (bundled) SQLite is checked at
 * start, by `validate`, `health` and `doctor`; other processes that have the database open are
 * checked where the library they mapped can be identified (see processes.ts).
 */
import BetterSqlite3 from 'better-sqlite3';
import { BackfillError, InvalidOptionError } from '../errors.js';

/** A parsed SQLite version: 3.51.3 is `{ major: 3, minor: 51, patch: 3 }`. */
export interface SqliteVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** The text as parsed, e.g. `3.51.3`. */
  readonly text: string;
}

const VERSION_PATTERN = /^\s*(\d{1,3})\.(\d{1,3})(?:\.(\d{1,3}))?(?:\.\d+)?\s*$/;

/**
 * Parses `3.51.3` (a fourth part, as in `3.7.17.1`-style branch releases, is ignored; a missing
 * patch is 0). Returns null for anything else; `parseSqliteVersionStrict` throws instead.
 */
export function parseSqliteVersion(text: string): SqliteVersion | null {
  if (typeof text !== 'string') return null;
  const match = VERSION_PATTERN.exec(text);
  if (!match) return null;
  const major = Number(match[1]);
  const minor = Number(match[2]);
  const patch = Number(match[3] ?? 0);
  return { major, minor, patch, text: `${major}.${minor}.${patch}` };
}

/** `parseSqliteVersion`, throwing an `InvalidOptionError` naming `option` for text that is not a version. */
export function parseSqliteVersionStrict(text: string, option = 'sqliteVersion'): SqliteVersion {
  const parsed = parseSqliteVersion(text);
  if (parsed === null) throw new InvalidOptionError(option, 'a SQLite version such as 3.51.3', text);
  return parsed;
}

function asVersion(value: string | SqliteVersion, option: string): SqliteVersion {
  return typeof value === 'string' ? parseSqliteVersionStrict(value, option) : value;
}

/** Negative when `a` is older than `b`, 0 when equal, positive when newer. */
export function compareSqliteVersions(a: string | SqliteVersion, b: string | SqliteVersion): number {
  const x = asVersion(a, 'a');
  const y = asVersion(b, 'b');
  return x.major - y.major || x.minor - y.minor || x.patch - y.patch;
}

/** The first version with WAL, the fixed release, and the fixed patch releases of older branches. */
export const WAL_RESET_BUG = Object.freeze({
  firstAffected: '3.7.0',
  fixedIn: '3.51.3',
  /** Branch (major.minor) -> first fixed patch release of that branch. */
  backports: Object.freeze({ '3.44': '3.44.6', '3.50': '3.50.7' }) as Readonly<Record<string, string>>,
});

/**
 * True for a version that has the WAL-reset bug: 3.7.0 through 3.51.2, except 3.44.6+ within
 * 3.44.x and 3.50.7+ within 3.50.x. Versions before 3.7.0 have no WAL, so no such bug.
 */
export function isAffectedByWalResetBug(version: string | SqliteVersion): boolean {
  const v = asVersion(version, 'version');
  if (compareSqliteVersions(v, WAL_RESET_BUG.firstAffected) < 0) return false;
  if (compareSqliteVersions(v, WAL_RESET_BUG.fixedIn) >= 0) return false;
  const backport = WAL_RESET_BUG.backports[`${v.major}.${v.minor}`];
  return backport === undefined || compareSqliteVersions(v, backport) < 0;
}

/** The version a fixed release of the same branch would be: what to upgrade to. */
export function walResetFixFor(version: string | SqliteVersion): string {
  const v = asVersion(version, 'version');
  return WAL_RESET_BUG.backports[`${v.major}.${v.minor}`] ?? WAL_RESET_BUG.fixedIn;
}

/** One sentence about a version and the bug, for reports. */
export function describeWalResetStatus(version: string | SqliteVersion): string {
  const v = asVersion(version, 'version');
  if (!isAffectedByWalResetBug(v)) {
    return compareSqliteVersions(v, WAL_RESET_BUG.firstAffected) < 0
      ? `SQLite ${v.text} predates WAL (3.7.0), so it cannot use WAL mode at all`
      : `SQLite ${v.text} is not affected by the WAL-reset bug (fixed in ${WAL_RESET_BUG.fixedIn}, backported to 3.50.7 and 3.44.6)`;
  }
  return `SQLite ${v.text} has the WAL-reset bug (3.7.0 through 3.51.2; fixed in ${WAL_RESET_BUG.fixedIn}, backported to 3.50.7 and 3.44.6): ` +
    `with WAL on and two connections writing and checkpointing at the same moment, committed writes can be lost; upgrade to ${walResetFixFor(v)} or later`;
}

let bundled: string | undefined;

/** The SQLite compiled into better-sqlite3, the one the engine runs on. */
export function bundledSqliteVersion(): string {
  if (bundled === undefined) {
    const probe = new BetterSqlite3(':memory:');
    try {
      bundled = String(probe.prepare('SELECT sqlite_version()').pluck().get());
    } finally {
      probe.close();
    }
  }
  return bundled;
}

export interface SqliteVersionGuardOptions {
  /** Whether WAL will be used (the `wal_mode` flag as it takes effect). */
  readonly walMode: boolean;
  /** The version to judge. @default the bundled SQLite (`bundledSqliteVersion()`) */
  readonly version?: string;
}

const GUARD_OPTIONS = new Set(['walMode', 'version']);

/**
 * Throws when the SQLite in use has the WAL-reset bug and WAL is on; returns the version
 * otherwise. Meant for the engine's start, so that no engine runs WAL on an affected library.
 * The error has code `ERR_VALIDATION` (a pre-deployment check failed).
 *
 * @example
 * assertSqliteVersionSafe({ walMode: settings.effectiveFlags.wal_mode });
 */
export function assertSqliteVersionSafe(options: SqliteVersionGuardOptions): string {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object with walMode and optionally version', options);
  for (const key of Object.keys(options)) {
    if (!GUARD_OPTIONS.has(key)) throw new InvalidOptionError(key, `not set: the version guard's options are ${[...GUARD_OPTIONS].join(', ')}`, (options as unknown as Record<string, unknown>)[key]);
  }
  if (typeof options.walMode !== 'boolean') throw new InvalidOptionError('walMode', 'true or false', options.walMode);
  const text = options.version ?? bundledSqliteVersion();
  const version = parseSqliteVersionStrict(text, 'version');
  if (options.walMode && isAffectedByWalResetBug(version)) {
    throw new BackfillError('ERR_VALIDATION',
      `${describeWalResetStatus(version)}. The engine does not start with wal_mode on over this library: ` +
      `reinstall better-sqlite3 built with SQLite ${walResetFixFor(version)} or later, or turn WAL off with \`league-backfill flags disable wal_mode\``);
  }
  return version.text;
}
