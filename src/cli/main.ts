/**
 * The command line: parses arguments, calls the public API, prints, and maps error codes to
 * exit codes. One file per command under commands/.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import type { CliContext, CliIo, CommonOptions } from './context.js';
import { EXIT } from './exit-codes.js';
import { addExamples, addExitCodes, STANDARD_EXIT_CODES, withDefault } from './help.js';

/**
 * The package entry, loaded only once a command runs (or the version or an error is asked
 * for): it loads SQLite, the thread pools and every module of the library, which --help and
 * the listing of commands do not need. Command modules import it themselves.
 */
const library = (): Promise<typeof import('../index.js')> => import('../index.js');

/** What every module under commands/ exports. */
export interface CommandModule {
  /** Adds the command's own arguments, options and help text. */
  describe(command: Command): void;
  /** Runs the command and returns its exit code. */
  run(context: CliContext, options: Record<string, unknown>, args: string[]): Promise<number>;
  /** The exit code for bad usage, where the command follows another convention (health: 3, UNKNOWN). @default 2 */
  USAGE_EXIT_CODE?: number;
}

const COMMANDS: ReadonlyArray<{ name: string; summary: string }> = [
  { name: 'backfill', summary: 'fetch league transactions and write them to the database (resumes unfinished jobs)' },
  { name: 'jobs', summary: 'show the job log, optionally filtered by status' },
  { name: 'flags', summary: 'list, enable, disable or reset the feature flags, or apply a profile' },
  { name: 'validate', summary: 'check this machine and the database folder before enabling settings' },
  { name: 'health', summary: 'report WAL size, lock rate, failure rate and latency against thresholds (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)' },
  { name: 'maintain', summary: 'integrity check, statistics, a verified backup, then ANALYZE, REINDEX and VACUUM' },
  { name: 'backup', summary: 'a consistent, verified copy of the database, even while another process writes' },
  { name: 'rollback', summary: 'emergency rollback: every flag off, WAL checkpointed, journal mode back to DELETE, and a log of it' },
  { name: 'loadtest', summary: 'run every configuration under real contention and report what each setting does' },
  { name: 'doctor', summary: 'check the live database and this machine for known problems and print the fix for each' },
  { name: 'rollout', summary: 'walk the gradual rollout of the flags one step at a time, each step gated by measured criteria' },
  { name: 'dashboard', summary: 'serve a live page of a backfill and Prometheus /metrics on 127.0.0.1' },
  { name: 'worker', summary: 'run fetch workers for a distributed backfill, taking tasks from Redis' },
];

/** Loads a command's module; a command whose module is not part of this build is left out. */
async function loadCommand(spec: (typeof COMMANDS)[number]): Promise<CommandModule | null> {
  try {
    // A computed path: command modules are loaded by name, each in its own file.
    return (await import(`./commands/${spec.name}.js`)) as CommandModule;
  } catch (error) {
    const message = String((error as Error).message);
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && message.includes(`commands/${spec.name}.js`)) return null;
    // The same, as vite words it when the sources run in-process under vitest.
    if (message.startsWith('Unknown variable dynamic import:') && message.includes(`commands/${spec.name}.js`)) return null;
    throw error;
  }
}

/** Whether a command's module is part of this build (compiled, or the sources under vitest), without loading it. */
function commandIsBuilt(name: string): boolean {
  return ['js', 'ts'].some((ext) => existsSync(fileURLToPath(new URL(`./commands/${name}.${ext}`, import.meta.url))));
}

function addCommonOptions(command: Command): Command {
  return command
    .option('--db <path>', `database file${withDefault('data/league_analytics.db, or data/league_analytics_test.db with --env test', 'LEAGUE_BACKFILL_DB')}`)
    .addOption(new Option('--env <name>', `environment: production or test${withDefault('production', 'LEAGUE_BACKFILL_ENV')}`))
    .option('--flags <path>', `feature flags file${withDefault('feature_flags.json beside the database', 'LEAGUE_BACKFILL_FLAGS')}`)
    .option('--json', 'print one JSON object on stdout; logs stay on stderr, as JSON lines')
    .option('--log-level <level>', `fatal, error, warn, info, debug, trace or silent${withDefault('info', 'LEAGUE_BACKFILL_LOG_LEVEL')}`)
    .option('--log-format <format>', `json or pretty${withDefault('pretty on a terminal, json elsewhere or with --json', 'LEAGUE_BACKFILL_LOG_FORMAT')}`);
}

/**
 * Runs the command line and returns the exit code. Never calls process.exit, so tests can
 * call it in-process and the caller decides when the process ends.
 */
export async function main(argv: string[], io: CliIo): Promise<number> {
  // The version is printed only for -V or --version, so only then is the library loaded for it.
  const version = argv.includes('-V') || argv.includes('--version') ? (await library()).packageVersion() : '';
  const program = new Command('league-backfill')
    .description('Backfill fantasy-league transactions into SQLite with one writer: parallel fetches, serial commits, no "database is locked".')
    .version(version, '-V, --version', 'print the version of league-backfill and exit')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });
  let chosen: { module: CommandModule; options: Record<string, unknown>; args: string[] } | undefined;
  // Only the command asked for is loaded (with `help NAME`, the one named): the others are
  // listed by name and summary, so --version and --help do not pay for loading every command.
  const wanted = argv[0] === 'help' ? argv[1] : argv[0];
  let module: CommandModule | null = null;
  for (const spec of COMMANDS) {
    if (spec.name === wanted) module = await loadCommand(spec);
    else if (!commandIsBuilt(spec.name)) continue;
    const command = addCommonOptions(program.command(spec.name).description(spec.summary));
    if (spec.name !== wanted || !module) continue;
    const chosenModule = module;
    chosenModule.describe(command);
    command.action((...params: unknown[]) => {
      const self = params.at(-1) as Command;
      chosen = { module: chosenModule, options: self.opts(), args: self.args };
    });
  }
  addExamples(program, [
    ['league-backfill backfill', 'the built-in demo leagues into data/league_analytics.db'],
    ['league-backfill backfill --source yahoo --league 423.l.12345 --seasons 2019-2023', 'a real league'],
    ['league-backfill jobs --status failed', 'what is left to resume'],
    ['league-backfill health --json', 'for monitoring'],
  ]);
  addExitCodes(program, [...STANDARD_EXIT_CODES, [3, 'health only: UNKNOWN (health follows the monitoring convention: 0 OK, 1 WARNING, 2 CRITICAL)']]);
  program.addHelpText('after', '\nRun `league-backfill <command> --help` for the options, examples and exit codes of a command.');
  const usageExit = (argv[0] === wanted ? module?.USAGE_EXIT_CODE : undefined) ?? EXIT.usage;

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help asked for is success; help shown because no command was given is bad usage.
      if (error.exitCode === 0) return EXIT.ok;
      if (argv.includes('--json')) io.stdout.write(`${JSON.stringify({ error: { code: 'ERR_INVALID_OPTION', message: error.message } })}\n`);
      return usageExit; // commander already printed the message and the usage hint
    }
    return await reportError(error, io, argv.includes('--json'), usageExit);
  }
  if (!chosen) {
    program.outputHelp();
    return EXIT.usage;
  }
  let context: CliContext | undefined;
  try {
    const { resolveContext } = await import('./context.js');
    context = resolveContext(chosen.options as CommonOptions, io);
    return await chosen.module.run(context, chosen.options, chosen.args);
  } catch (error) {
    return await reportError(error, io, context?.json ?? argv.includes('--json'), usageExit);
  }
}

/** Prints one clear line (and, with --json, one JSON object) and returns the exit code for the error. */
export async function reportError(error: unknown, io: CliIo, json: boolean, usageExit: number = EXIT.usage): Promise<number> {
  const { BackfillError, USAGE_ERROR_CODES } = await library();
  const isBackfillError = error instanceof BackfillError;
  const code = isBackfillError ? error.code : 'ERR_INTERNAL';
  const message = error instanceof Error ? error.message : String(error);
  const exitCode = isBackfillError
    ? USAGE_ERROR_CODES.has(error.code) ? usageExit : error.code === 'ERR_ABORTED' ? EXIT.interrupted : EXIT.failed
    : EXIT.failed;
  io.stderr.write(`league-backfill: ${message}\n`);
  if (!isBackfillError && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
  if (json) io.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
  return exitCode;
}
