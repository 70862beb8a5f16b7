/**
 * Workload profiles: the tuning guide's settings by workload, on top of the seven flags.
 *
 * - `mixed` (the default): what the flags set, nothing more.
 * - `read-heavy`: a larger page cache, memory-mapped reads and temp tables in memory, for
 *   dashboards and analytics that scan more than the backfill writes.
 * - `write-heavy`: WAL with `synchronous = NORMAL` (one fsync per checkpoint, not per commit),
 *   a cache large enough for the index pages every insert touches, and fewer, larger automatic
 *   checkpoints where a connection leaves them to SQLite.
 *
 * A workload only tunes what `pragma_optimizations` turns on: with that flag off the legacy
 * defaults apply whatever the workload (so `baseline` and the emergency rollback stay the
 * legacy behaviour), and `write-heavy` never turns WAL on by itself (that is `wal_mode`'s job).
 * Every pragma is read back, and one that did not take is a warning, as for the flags.
 *
 * The numbers are starting points from SQLite's documentation, not measurements of this
 * machine: `loadtest` measures what each does under contention.
 */
import type { Database } from 'better-sqlite3';
import { InvalidOptionError } from '../errors.js';
import { effectiveFlags, type Flags } from './definitions.js';

export const WORKLOAD_NAMES = ['mixed', 'read-heavy', 'write-heavy'] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

/** No `workload` in the flags file means this. */
export const DEFAULT_WORKLOAD: WorkloadName = 'mixed';

export const WORKLOAD_DESCRIPTIONS: Readonly<Record<WorkloadName, string>> = Object.freeze({
  mixed: 'The flags\' settings only (the default).',
  'read-heavy': 'Page cache 64 MiB, mmap_size = 1 GiB, temp_store = MEMORY: for files that are read far more than written.',
  'write-heavy': 'WAL with synchronous = NORMAL, page cache 32 MiB, wal_autocheckpoint = 4000 pages where SQLite checkpoints by itself: for long write runs.',
});

export function isWorkloadName(name: unknown): name is WorkloadName {
  return typeof name === 'string' && (WORKLOAD_NAMES as readonly string[]).includes(name);
}

/** Returns `name` as a workload, or throws an `InvalidOptionError` listing the valid ones. */
export function assertWorkloadName(name: unknown, option = 'workload'): WorkloadName {
  if (isWorkloadName(name)) return name;
  throw new InvalidOptionError(option, `one of ${WORKLOAD_NAMES.join(', ')}`, name);
}

/** One pragma a workload sets: the value asked for and why. */
export interface WorkloadPragma {
  name: 'cache_size' | 'mmap_size' | 'temp_store' | 'synchronous' | 'wal_autocheckpoint';
  value: number;
  why: string;
}

export interface WorkloadPlan {
  workload: WorkloadName;
  pragmas: WorkloadPragma[];
  /** Why something the workload asks for is not applied (flag off, WAL refused...). */
  warnings: string[];
}

const MIB = 1024 * 1024;

export interface WorkloadContext {
  /** The flags in force (`effectiveFlags` is applied here). */
  readonly flags: Flags;
  /** Whether the connection is in WAL mode (after open.ts tried to set it). */
  readonly walOn: boolean;
  /** A read-only connection: no pragma about writing or checkpoints. @default false */
  readonly readonly?: boolean;
  /**
   * The connection's `wal_autocheckpoint` before the workload: 0 means the connection runs its
   * own checkpoints (the engine's writer does, between transactions) and keeps doing so.
   * @default 1000 (SQLite's default)
   */
  readonly walAutocheckpoint?: number;
}

/**
 * The pragmas a workload asks of one connection, given the flags in force, before anything is
 * set. Pure, so the plan can be shown (`flags list`, `doctor`) and tested without a database.
 */
export function planWorkload(workload: WorkloadName, context: WorkloadContext): WorkloadPlan {
  assertWorkloadName(workload);
  const flags = effectiveFlags(context.flags);
  const plan: WorkloadPlan = { workload, pragmas: [], warnings: [] };
  if (workload === 'mixed') return plan;
  if (!flags.pragma_optimizations) {
    plan.warnings.push(`workload ${workload} is not applied: it tunes what pragma_optimizations sets, and pragma_optimizations is off (the legacy defaults apply). Turn it on with \`league-backfill flags enable pragma_optimizations\``);
    return plan;
  }
  // Never smaller than what aggressive_caching already asks for.
  const flagCacheKib = flags.aggressive_caching ? 65536 : 16384;
  const flagMmap = flags.aggressive_caching ? 256 * MIB : 0;
  if (workload === 'read-heavy') {
    plan.pragmas.push(
      { name: 'cache_size', value: -Math.max(65536, flagCacheKib), why: '64 MiB of page cache keeps the indexes analytics queries use in memory' },
      { name: 'mmap_size', value: Math.max(1024 * MIB, flagMmap), why: 'memory-mapped reads skip a copy per page' },
      { name: 'temp_store', value: 2, why: 'sorts and temporary tables of large queries in memory' },
    );
    return plan;
  }
  // write-heavy
  if (!context.walOn) {
    plan.warnings.push(`workload write-heavy wants WAL, and this connection is not in WAL mode${flags.wal_mode ? ' (SQLite refused it: see the warning above)' : ' (wal_mode is off: `league-backfill flags enable wal_mode`)'}; only its cache size is applied`);
  }
  plan.pragmas.push({ name: 'cache_size', value: -Math.max(32768, flagCacheKib), why: '32 MiB of page cache for the index pages every insert updates' });
  if (context.walOn && !context.readonly) {
    plan.pragmas.push({ name: 'synchronous', value: 1, why: 'NORMAL: in WAL mode durable across process crashes, one fsync per checkpoint instead of per commit' });
    const current = context.walAutocheckpoint ?? 1000;
    if (current > 0) plan.pragmas.push({ name: 'wal_autocheckpoint', value: 4000, why: 'fewer, larger automatic checkpoints (about 16 MiB of WAL at 4 KiB pages)' });
  }
  return plan;
}

export interface AppliedWorkload {
  workload: WorkloadName;
  /** Each pragma set, with what SQLite reports back. */
  pragmas: Array<WorkloadPragma & { readBack: number }>;
  warnings: string[];
}

export interface ApplyWorkloadOptions {
  readonly workload: WorkloadName;
  readonly flags: Flags;
  /** @default false */
  readonly readonly?: boolean;
}

const APPLY_OPTIONS = new Set(['workload', 'flags', 'readonly']);

/**
 * Sets a workload's pragmas on an open connection and reads each one back. Meant to run in
 * `openDatabase` right after the flags' pragmas (so the journal mode is settled). Returns the
 * warnings for the caller to log with the others; never throws for a pragma that did not take.
 *
 * @example
 * const workload = applyWorkloadPragmas(db, { workload: 'read-heavy', flags, readonly });
 * warnings.push(...workload.warnings);
 */
export function applyWorkloadPragmas(db: Database, options: ApplyWorkloadOptions): AppliedWorkload {
  for (const key of Object.keys(options)) {
    if (!APPLY_OPTIONS.has(key)) throw new InvalidOptionError(key, `not set: the workload options are ${[...APPLY_OPTIONS].join(', ')}`, (options as unknown as Record<string, unknown>)[key]);
  }
  const workload = assertWorkloadName(options.workload);
  const walOn = String(db.pragma('journal_mode', { simple: true })).toLowerCase() === 'wal';
  const plan = planWorkload(workload, {
    flags: options.flags,
    walOn,
    readonly: options.readonly ?? false,
    walAutocheckpoint: Number(db.pragma('wal_autocheckpoint', { simple: true })),
  });
  const applied: AppliedWorkload = { workload, pragmas: [], warnings: [...plan.warnings] };
  for (const pragma of plan.pragmas) {
    db.pragma(`${pragma.name} = ${pragma.value}`);
    const readBack = Number(db.pragma(pragma.name, { simple: true }) ?? 0);
    applied.pragmas.push({ ...pragma, readBack });
    if (readBack !== pragma.value) {
      applied.warnings.push(`PRAGMA ${pragma.name} for workload ${workload} did not take: asked for ${pragma.value}, SQLite reports ${readBack}`);
    }
  }
  return applied;
}
