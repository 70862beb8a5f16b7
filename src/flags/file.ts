import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { FlagsFileError, InvalidOptionError, describe } from '../errors.js';
import { DEFAULT_FLAGS, FLAG_NAMES, assertFlagName, closestFlagName, isFlagName } from './definitions.js';
import type { FlagName, FlagSource, Flags, FlagsState } from './definitions.js';
import { DEFAULT_WORKLOAD, WORKLOAD_NAMES, isWorkloadName, type WorkloadName } from './workload.js';

/** The environment variable that names the flags file when `--flags` is not given. */
export const FLAGS_PATH_ENV = 'LEAGUE_BACKFILL_FLAGS';

/** The flags file's name when it sits beside the database. */
export const DEFAULT_FLAGS_FILE_NAME = 'feature_flags.json';

const VALID_NAMES = `valid flags are ${FLAG_NAMES.join(', ')}, and "workload" (${WORKLOAD_NAMES.join(', ')})`;

/** The one key of a flags file that is not a flag: the workload profile (workload.ts). */
export const WORKLOAD_KEY = 'workload';

/**
 * Validates the text of a flags file and merges it with the defaults. Pure: the same text
 * gives the same result, and every problem is a `FlagsFileError` naming `file`.
 */
export function parseFlagsText(
  text: string,
  file: string,
): { flags: Flags; sources: Record<FlagName, FlagSource>; workload: WorkloadName; workloadSource: FlagSource } {
  // Editors on Windows save UTF-8 with a byte-order mark, which JSON.parse rejects.
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  if (body.trim() === '') {
    throw new FlagsFileError(file, 'the file is empty; expected a JSON object of flag names to true or false');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    throw new FlagsFileError(file, `the file is not valid JSON (${(error as Error).message})`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new FlagsFileError(file, `expected a JSON object of flag names to true or false, got ${describe(parsed)}`);
  }
  const { [WORKLOAD_KEY]: workloadValue, ...rest } = parsed as Record<string, unknown>;
  const hasWorkload = Object.hasOwn(parsed, WORKLOAD_KEY);
  if (hasWorkload && !isWorkloadName(workloadValue)) {
    throw new FlagsFileError(file, `"workload" must be one of ${WORKLOAD_NAMES.join(', ')}, got ${describe(workloadValue)}`);
  }
  const entries = Object.entries(rest);
  const unknown = entries.map(([name]) => name).filter((name) => !isFlagName(name));
  if (unknown.length > 0) {
    const first = unknown[0] ?? '';
    const suggestion = unknown.length === 1 ? closestFlagName(first) : undefined;
    throw new FlagsFileError(
      file,
      `unknown flag ${unknown.map((name) => JSON.stringify(name)).join(', ')}` +
        `${suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`}; ${VALID_NAMES}`,
    );
  }
  const values = parsed as Partial<Record<FlagName, unknown>>;
  for (const [name, value] of entries) {
    if (typeof value !== 'boolean') {
      throw new FlagsFileError(file, `flag ${name} must be true or false, got ${describe(value)}`);
    }
  }
  const flags = {} as Record<FlagName, boolean>;
  const sources = {} as Record<FlagName, FlagSource>;
  for (const name of FLAG_NAMES) {
    const value = values[name];
    // Files written before a flag existed lack it: it gets the default, and status says so.
    flags[name] = typeof value === 'boolean' ? value : DEFAULT_FLAGS[name];
    sources[name] = typeof value === 'boolean' ? 'file' : 'default';
  }
  return {
    flags: Object.freeze(flags),
    sources,
    workload: hasWorkload ? (workloadValue as WorkloadName) : DEFAULT_WORKLOAD,
    workloadSource: hasWorkload ? 'file' : 'default',
  };
}

/**
 * Reads a flags file. A missing file means the defaults; any other problem (unreadable,
 * not JSON, unknown flag, non-boolean value) throws a `FlagsFileError`, so nothing starts
 * on flags the operator did not write.
 */
export async function loadFlags(file: string): Promise<FlagsState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    return stateFromReadError(file, error);
  }
  return stateFromText(file, text);
}

/** `loadFlags` for threads that read their flags before any event loop work. */
export function loadFlagsSync(file: string): FlagsState {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return stateFromReadError(file, error);
  }
  return stateFromText(file, text);
}

function stateFromText(file: string, text: string): FlagsState {
  const { flags, sources, workload, workloadSource } = parseFlagsText(text, file);
  return { path: file, exists: true, flags, sources: Object.freeze(sources), workload, workloadSource };
}

function stateFromReadError(file: string, error: unknown): FlagsState {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') {
    return { path: file, exists: false, flags: DEFAULT_FLAGS, sources: allSources('default'), workload: DEFAULT_WORKLOAD, workloadSource: 'default' };
  }
  const detail = error instanceof Error ? error.message : String(error);
  const problem =
    code === 'EISDIR'
      ? 'the path is a directory, not a file'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied while reading the file'
        : 'the file cannot be read';
  throw new FlagsFileError(file, `${problem} (${detail})`, { cause: error });
}

function allSources(source: FlagSource): Readonly<Record<FlagName, FlagSource>> {
  return Object.freeze(Object.fromEntries(FLAG_NAMES.map((name) => [name, source])) as Record<FlagName, FlagSource>);
}

/**
 * The file's text: every flag, in `FLAG_NAMES` order, so diffs between saves stay small, then
 * the workload when it is not the default (files of the seven flags alone stay as they were).
 */
export function formatFlags(flags: Flags, workload: WorkloadName = DEFAULT_WORKLOAD): string {
  const ordered: Record<string, unknown> = Object.fromEntries(FLAG_NAMES.map((name) => [name, flags[name]]));
  if (workload !== DEFAULT_WORKLOAD) ordered[WORKLOAD_KEY] = workload;
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

export interface SaveFlagsOptions {
  /** The workload profile to write with the flags. @default 'mixed' (not written) */
  readonly workload?: WorkloadName;
}

/**
 * Writes every flag to `file` atomically: readers (other processes, threads starting up) see
 * the old file or the new one, never half of one. Creates the parent folder if needed.
 */
export async function saveFlags(file: string, flags: Flags, options: SaveFlagsOptions = {}): Promise<void> {
  const workload = options.workload ?? DEFAULT_WORKLOAD;
  if (!isWorkloadName(workload)) throw new InvalidOptionError('workload', `one of ${WORKLOAD_NAMES.join(', ')}`, workload);
  const text = formatFlags(checkFlags(flags), workload);
  const directory = path.dirname(file);
  // Same folder as the target, so the rename cannot cross file systems.
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  let handle: FileHandle | undefined;
  try {
    await mkdir(directory, { recursive: true });
    handle = await open(temporary, 'wx');
    await handle.writeFile(text, 'utf8');
    // Without this, a crash soon after the rename can leave an empty file under the real name.
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temporary, file);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    const detail = error instanceof Error ? error.message : String(error);
    throw new FlagsFileError(file, `the file could not be saved (${detail})`, { cause: error });
  }
  await syncDirectory(directory);
}

/** Makes the rename itself durable. Some platforms cannot open a folder; the rename still stands. */
async function syncDirectory(directory: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(directory, 'r');
    await handle.sync();
  } catch {
    // Best effort only.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** A change to some flags, or a function from the current flags to the new ones. */
export type FlagsChange = Partial<Record<FlagName, boolean>> | ((current: Flags) => Flags);

// Two updates of one file in the same process would otherwise both read the old file and the
// second save would drop the first change.
const pendingUpdates = new Map<string, Promise<unknown>>();

/**
 * Reads the file, applies `change` and saves the result. A file that does not load (not JSON,
 * unknown flag, ...) makes this throw before anything is written, so it is never overwritten.
 * Entries of `change` that are `undefined` leave their flag as it is.
 */
export async function updateFlags(file: string, change: FlagsChange): Promise<FlagsState> {
  return serialized(file, () => applyUpdate(file, change));
}

/**
 * Sets the workload profile in the flags file, keeping every flag as it is. Like `updateFlags`,
 * a file that does not load is never overwritten.
 */
export async function setWorkload(file: string, workload: WorkloadName): Promise<FlagsState> {
  if (!isWorkloadName(workload)) throw new InvalidOptionError('workload', `one of ${WORKLOAD_NAMES.join(', ')}`, workload);
  return serialized(file, async () => {
    const current = await loadFlags(file);
    await saveFlags(file, current.flags, { workload });
    return { path: file, exists: true, flags: current.flags, sources: allSources('file'), workload, workloadSource: workload === DEFAULT_WORKLOAD ? 'default' : 'file' };
  });
}

function serialized(file: string, body: () => Promise<FlagsState>): Promise<FlagsState> {
  const key = path.resolve(file);
  const previous = pendingUpdates.get(key) ?? Promise.resolve();
  const run = previous.then(body, body);
  const settled = run.catch(() => undefined);
  pendingUpdates.set(key, settled);
  void settled.then(() => {
    if (pendingUpdates.get(key) === settled) pendingUpdates.delete(key);
  });
  return run;
}

async function applyUpdate(file: string, change: FlagsChange): Promise<FlagsState> {
  const current = await loadFlags(file);
  const next = typeof change === 'function' ? checkFlags(change(current.flags)) : applyPartial(current.flags, change);
  // The workload is not a flag: a change of flags keeps it.
  await saveFlags(file, next, { workload: current.workload });
  return {
    path: file,
    exists: true,
    flags: next,
    sources: allSources('file'),
    workload: current.workload,
    workloadSource: current.workload === DEFAULT_WORKLOAD ? 'default' : 'file',
  };
}

function applyPartial(current: Flags, change: Partial<Record<FlagName, boolean>>): Flags {
  if (typeof change !== 'object' || change === null || Array.isArray(change)) {
    throw new InvalidOptionError('change', 'an object of flag names to true or false, or a function', change);
  }
  const next: Record<FlagName, boolean> = { ...current };
  for (const [name, value] of Object.entries(change) as Array<[string, unknown]>) {
    const flag = assertFlagName(name);
    if (value === undefined) continue;
    if (typeof value !== 'boolean') throw new InvalidOptionError(`change.${flag}`, 'true or false', value);
    next[flag] = value;
  }
  return Object.freeze(next);
}

/** Flags from callers are checked like a file's: the types do not bind plain JavaScript. */
function checkFlags(flags: Flags): Flags {
  if (typeof flags !== 'object' || flags === null || Array.isArray(flags)) {
    throw new InvalidOptionError('flags', 'an object with true or false for every flag', flags);
  }
  for (const name of Object.keys(flags)) assertFlagName(name);
  const checked = {} as Record<FlagName, boolean>;
  for (const name of FLAG_NAMES) {
    const value: unknown = flags[name];
    if (typeof value !== 'boolean') throw new InvalidOptionError(`flags.${name}`, 'true or false', value);
    checked[name] = value;
  }
  return Object.freeze(checked);
}

export interface ResolveFlagsPathOptions {
  /** The `--flags PATH` option; wins over everything else when given. */
  flagsPath?: string | undefined;
  /** The database the flags apply to; without other choices the file sits beside it. */
  databasePath: string;
  /** Where `LEAGUE_BACKFILL_FLAGS` is looked up. @default process.env */
  env?: NodeJS.ProcessEnv;
}

/** Where the flags file is: `--flags`, then `LEAGUE_BACKFILL_FLAGS`, then beside the database. */
export function resolveFlagsPath(options: ResolveFlagsPathOptions): string {
  const { flagsPath, databasePath } = options;
  if (flagsPath !== undefined) {
    if (typeof flagsPath !== 'string' || flagsPath.trim() === '') {
      throw new InvalidOptionError('flagsPath', 'a non-empty file path', flagsPath);
    }
    return flagsPath;
  }
  // An empty variable is how shells spell "unset" in one-off commands: fall through.
  const fromEnv = (options.env ?? process.env)[FLAGS_PATH_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return fromEnv;
  if (typeof databasePath !== 'string' || databasePath === '') {
    throw new InvalidOptionError('databasePath', 'a non-empty file path', databasePath);
  }
  return path.join(path.dirname(databasePath), DEFAULT_FLAGS_FILE_NAME);
}
