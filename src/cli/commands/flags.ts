import type { Command } from 'commander';
import {
  FLAG_NAMES, InvalidOptionError, PROFILES, WORKLOAD_DESCRIPTIONS, WORKLOAD_NAMES, assertFlagName, flagsStatus, isWorkloadName, loadFlags,
  setWorkload, updateFlags, type FlagName, type FlagsState, type ProfileName,
} from '../../index.js';
import { printJson, type CliContext } from '../context.js';
import { EXIT } from '../exit-codes.js';

const ACTIONS = ['list', 'enable', 'disable', 'profile', 'reset'] as const;

/** Profile names `flags profile` takes: the flag profiles, then the workload profiles. */
const PROFILE_NAMES: readonly string[] = [...Object.keys(PROFILES), ...WORKLOAD_NAMES];

export function describe(command: Command): void {
  command
    .argument('[action]', `one of ${ACTIONS.join(', ')}`, 'list')
    .argument('[names...]', 'flag names (enable, disable) or a profile name (profile)')
    .addHelpText('after', `
Flags: ${FLAG_NAMES.join(', ')}
Flag profiles: ${Object.keys(PROFILES).join(', ')} (reset = recommended, workload mixed)
Workload profiles (tune what pragma_optimizations sets; the flags stay as they are):
${WORKLOAD_NAMES.map((name) => `  ${name.padEnd(11)}  ${WORKLOAD_DESCRIPTIONS[name]}`).join('\n')}

Examples:
  league-backfill flags list
  league-backfill flags enable wal_mode retry_logic
  league-backfill flags profile baseline
  league-backfill flags profile read-heavy`);
}

export async function run(context: CliContext, _options: Record<string, unknown>, args: string[]): Promise<number> {
  const [action = 'list', ...names] = args;
  let state: FlagsState;
  switch (action) {
    case 'list':
      if (names.length > 0) throw new InvalidOptionError('flags list', 'no further arguments', names.join(' '));
      state = await loadFlags(context.flagsPath);
      break;
    case 'enable':
    case 'disable': {
      if (names.length === 0) throw new InvalidOptionError(`flags ${action}`, `one or more flag names (${FLAG_NAMES.join(', ')})`, '');
      // Every name is checked before the file is touched: one typo changes nothing.
      const flags: FlagName[] = names.map((name) => assertFlagName(name));
      state = await updateFlags(context.flagsPath, Object.fromEntries(flags.map((name) => [name, action === 'enable'])));
      break;
    }
    case 'profile': {
      const [name, ...rest] = names;
      if (name === undefined || rest.length > 0 || !PROFILE_NAMES.includes(name)) {
        throw new InvalidOptionError('flags profile', `one profile name: ${PROFILE_NAMES.join(', ')}`, names.join(' '));
      }
      state = isWorkloadName(name)
        ? await setWorkload(context.flagsPath, name)
        : await updateFlags(context.flagsPath, () => PROFILES[name as ProfileName]);
      break;
    }
    case 'reset':
      if (names.length > 0) throw new InvalidOptionError('flags reset', 'no further arguments', names.join(' '));
      state = await updateFlags(context.flagsPath, () => PROFILES.recommended);
      if (state.workload !== 'mixed') state = await setWorkload(context.flagsPath, 'mixed');
      break;
    default:
      throw new InvalidOptionError('flags action', `one of ${ACTIONS.join(', ')}`, action);
  }
  const status = flagsStatus(state);
  if (context.json) {
    printJson(context, { file: state.path, exists: state.exists, flags: state.flags, status, workload: state.workload, workloadSource: state.workloadSource });
  } else {
    const width = Math.max(...FLAG_NAMES.map((name) => name.length));
    context.stdout.write(`Flags file: ${state.path}${state.exists ? '' : ' (not created yet: defaults apply)'}\n`);
    for (const flag of status) {
      context.stdout.write(`  ${flag.name.padEnd(width)}  ${flag.enabled ? 'on ' : 'off'}  (${flag.source})  ${flag.description}\n`);
    }
    context.stdout.write(`  ${'workload'.padEnd(width)}  ${state.workload}  (${state.workloadSource})  ${WORKLOAD_DESCRIPTIONS[state.workload]}` +
      `${state.workload !== 'mixed' && !state.flags.pragma_optimizations ? ' Not applied while pragma_optimizations is off.' : ''}\n`);
  }
  return EXIT.ok;
}
