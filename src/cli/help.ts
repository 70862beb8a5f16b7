/**
 * Help text that every command shows the same way: examples, exit codes, and option defaults.
 * For the command modules under commands/:
 *
 *   addExamples(command, [
 *     ['league-backfill jobs', 'every job, newest first'],
 *     'league-backfill jobs --status failed --json',
 *   ]);
 *   addExitCodes(command);                                 // 0, 1, 2, 130: the standard meanings
 *   addExitCodes(command, [[0, 'OK'], [1, 'WARNING']]);    // or the command's own
 *   command.option('--db <path>', `database file${withDefault('data/league_analytics.db')}`);
 */
import type { Command } from 'commander';

/** A command line, or a command line and what it does. */
export type Example = string | readonly [commandLine: string, comment: string];
export type ExitCodeDoc = readonly [code: number, meaning: string];

const COMMENT_COLUMN = 56;

/** What the exit codes mean for every command that follows the common convention (DESIGN section 6). */
export const STANDARD_EXIT_CODES: readonly ExitCodeDoc[] = [
  [0, 'success'],
  [1, 'the work failed (run the same command again to resume)'],
  [2, 'bad usage or bad input: nothing was changed'],
  [130, 'stopped by Ctrl-C (SIGINT) or SIGTERM after a clean stop'],
];

/** Appends an "Examples:" section to the command's help, comments aligned. */
export function addExamples(command: Command, examples: readonly Example[]): Command {
  return command.addHelpText('after', `\n${formatExamples(examples)}`);
}

/** Appends an "Exit codes:" section to the command's help. */
export function addExitCodes(command: Command, codes: readonly ExitCodeDoc[] = STANDARD_EXIT_CODES): Command {
  return command.addHelpText('after', `\n${formatExitCodes(codes)}`);
}

export function formatExamples(examples: readonly Example[]): string {
  const rows = examples.map((example) => (typeof example === 'string' ? [example, ''] as const : example));
  // Comments beside their commands when every one fits on a line, else each on the line above its command.
  const beside = rows.every(([line, comment]) => comment === '' || line.length <= COMMENT_COLUMN);
  const width = Math.max(0, ...rows.filter(([, comment]) => comment !== '').map(([line]) => line.length));
  const lines = rows.map(([line, comment]) => {
    if (comment === '') return `  ${line}`;
    return beside ? `  ${line.padEnd(width)}  # ${comment}` : `  # ${comment}\n  ${line}`;
  });
  return `Examples:\n${lines.join('\n')}`;
}

export function formatExitCodes(codes: readonly ExitCodeDoc[]): string {
  const width = Math.max(...codes.map(([code]) => String(code).length));
  const sorted = [...codes].sort(([a], [b]) => a - b);
  return `Exit codes:\n${sorted.map(([code, meaning]) => `  ${String(code).padStart(width)}  ${meaning}`).join('\n')}`;
}

/**
 * ` (default: VALUE)` for an option description, in commander's own wording, for a default
 * that commander cannot apply itself: one that also comes from an environment variable, or
 * that depends on other options.
 */
export function withDefault(value: string | number, environmentVariable?: string): string {
  return environmentVariable ? ` (default: ${value}; env ${environmentVariable})` : ` (default: ${value})`;
}
