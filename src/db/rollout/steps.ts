/**
 * The gradual rollout's steps: from the legacy behaviour (every flag off) one stability
 * measure at a time, in the order the plan gives: the pragmas, explicit transactions, WAL,
 * retries, then the rest one by one (`aggressive_caching` last: its memory cost depends on
 * the machine, which is why the recommended profile leaves it out).
 */
import { FLAG_NAMES, type FlagName, type Flags } from '../../flags/index.js';

export const ROLLOUT_STEPS = [
  'baseline',
  'pragma_optimizations',
  'explicit_transactions',
  'wal_mode',
  'retry_logic',
  'connection_pooling',
  'isolation_levels',
  'aggressive_caching',
] as const;

export type RolloutStepName = (typeof ROLLOUT_STEPS)[number];

/** The flags in force at step `index`: every flag of the steps up to it on, the rest off. */
export function flagsAtStep(index: number): Flags {
  const on = new Set<string>(ROLLOUT_STEPS.slice(1, index + 1));
  return Object.freeze(Object.fromEntries(FLAG_NAMES.map((name) => [name, on.has(name)])) as Record<FlagName, boolean>);
}

export function stepIndex(name: RolloutStepName): number {
  return ROLLOUT_STEPS.indexOf(name);
}

/** The flags that differ between two sets, as `name: from -> to`. */
export function flagDifferences(actual: Flags, expected: Flags): Array<{ name: FlagName; actual: boolean; expected: boolean }> {
  return FLAG_NAMES.filter((name) => actual[name] !== expected[name]).map((name) => ({ name, actual: actual[name], expected: expected[name] }));
}
