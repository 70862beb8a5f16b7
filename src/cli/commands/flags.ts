import type { Command } from 'commander';
import { InvalidOptionError } from '../../errors.js';
import {
  FLAG_NAMES, PROFILES, assertFlagName, flagsStatus, loadFlags, updateFlags, type FlagName, type FlagsState, type ProfileName,
} from '../../flags/index.js';
import { printJson, type CliContext } from '../context.js';
import { EXIT } from '../main.js';

const ACTIONS = ['list', 'enable', 'disable', 'profile', 'reset'] as const;

export function describe(command: Command): void {
  command
    .argument('[action]', `one of ${ACTIONS.join(', ')}`, 'list')
    .argument('[names...]', 'flag names (enable, disable) or a profile name (profile)')
    .addHelpText('after', `
Flags: ${FLAG_NAMES.join(', ')}
Profiles: ${Object.keys(PROFILES).join(', ')} (reset = recommended)

Examples:
  league-backfill flags list
  league-backfill flags enable wal_mode retry_logic
  league-backfill flags profile baseline`);
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
      if (name === undefined || rest.length > 0 || !Object.hasOwn(PROFILES, name)) {
        throw new InvalidOptionError('flags profile', `one profile name: ${Object.keys(PROFILES).join(', ')}`, names.join(' '));
      }
      state = await updateFlags(context.flagsPath, () => PROFILES[name as ProfileName]);
      break;
    }
    case 'reset':
      if (names.length > 0) throw new InvalidOptionError('flags reset', 'no further arguments', names.join(' '));
      state = await updateFlags(context.flagsPath, () => PROFILES.recommended);
      break;
    default:
      throw new InvalidOptionError('flags action', `one of ${ACTIONS.join(', ')}`, action);
  }
  const status = flagsStatus(state);
  if (context.json) {
    printJson(context, { file: state.path, exists: state.exists, flags: state.flags, status });
  } else {
    const width = Math.max(...FLAG_NAMES.map((name) => name.length));
    context.stdout.write(`Flags file: ${state.path}${state.exists ? '' : ' (not created yet: defaults apply)'}\n`);
    for (const flag of status) {
      context.stdout.write(`  ${flag.name.padEnd(width)}  ${flag.enabled ? 'on ' : 'off'}  (${flag.source})  ${flag.description}\n`);
    }
  }
  return EXIT.ok;
}
