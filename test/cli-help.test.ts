/**
 * What `--help` and `--version` tell a new user: the version of the installed package, and
 * for every command examples, exit codes and the default of every option that has one.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';

const PACKAGE = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** Option name -> its description, from commander's help layout (descriptions wrap onto indented lines). */
function optionsOf(help: string): Map<string, string> {
  const section = help.slice(help.indexOf('Options:'));
  const options = new Map<string, string>();
  let current: string | undefined;
  for (const line of section.split('\n').slice(1)) {
    if (line.trim() === '' || !line.startsWith(' ')) break;
    const match = /^ {2}(?:-\w, )?(--[\w-]+)(?: <[^>]+>| \[[^\]]+\])?\s+(.*)$/.exec(line);
    if (match) {
      current = match[1]!;
      options.set(current, match[2]!);
    } else if (current) {
      options.set(current, `${options.get(current)} ${line.trim()}`);
    }
  }
  return options;
}

const COMMON_WITH_DEFAULTS = ['--db', '--env', '--flags', '--log-level', '--log-format'];
/** Options that have no default: switches, and values that are absent unless given. */
const NO_DEFAULT = new Set(['--json', '--help', '--force', '--replace-source', '--metrics-port', '--league', '--input', '--no-progress', '--status',
  '--skip-backup', '--skip-analyze', '--skip-reindex', '--skip-vacuum']);

const OWN_COMMANDS: Array<{ command: string; withDefaults: string[] }> = [
  {
    command: 'backfill',
    withDefaults: ['--neighbour-gap', '--redis', '--queue-prefix', '--source', '--seasons', '--workers', '--rate', '--batch-size', '--leagues', '--seed', '--latency', '--failure-rate',
      '--api-base', '--token-url', '--busy-timeout', '--lock-wait', '--transaction-budget'],
  },
  { command: 'jobs', withDefaults: ['--limit'] },
  { command: 'maintain', withDefaults: ['--backup-to', '--backup-method'] },
  { command: 'backup', withDefaults: ['--method'] },
];

describe('--version', () => {
  it('prints the version of package.json, with --version and -V, and exits 0', async () => {
    for (const flag of ['--version', '-V']) {
      const result = await runCli([flag]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe(`${PACKAGE.version}\n`);
      expect(result.stderr).toBe('');
    }
  });
});

describe('--help', () => {
  it('lists every command with examples and the exit codes, and exits 0', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/-V, --version +print the version/);
    expect(result.stdout).toMatch(/Examples:\n(?: {2}# .+\n)? {2}league-backfill backfill\n/);
    expect(result.stdout).toMatch(/Exit codes:\n {4}0 {2}success\n {4}1 {2}.+\n {4}2 {2}.+\n {4}3 {2}health only.+\n {2}130 {2}/);
  });

  it.for(OWN_COMMANDS)('$command --help: examples, exit codes, and the default of every option that has one', async ({ command, withDefaults }) => {
    const result = await runCli([command, '--help']);
    expect(result.code, result.stderr).toBe(0);
    const help = result.stdout;
    expect(help).toMatch(new RegExp(`Examples:\\n(?: {2}# .+\\n)? {2}league-backfill ${command}`));
    expect(help).toMatch(/Exit codes:\n(?: +\d+ {2}.+\n?)+/);
    for (const code of ['0', '2']) expect(help).toMatch(new RegExp(`\\n +${code} {2}\\S`));
    const options = optionsOf(help);
    for (const option of [...COMMON_WITH_DEFAULTS, ...withDefaults]) {
      expect(options.get(option), `${command} ${option}`).toMatch(/\(default: [^)]+\)/);
    }
    // Every other option is one that has no default; a new option must say its default or be listed here.
    for (const [option, description] of options) {
      if (!description.includes('(default:')) expect(NO_DEFAULT.has(option), `${command} ${option}: ${description}`).toBe(true);
    }
  });

  it('shows the common defaults as they apply: --env production, --log-level info, logs pretty on a terminal', async () => {
    const options = optionsOf((await runCli(['jobs', '--help'])).stdout);
    expect(options.get('--env')).toContain('(default: production; env LEAGUE_BACKFILL_ENV)');
    expect(options.get('--log-level')).toContain('(default: info; env LEAGUE_BACKFILL_LOG_LEVEL)');
    expect(options.get('--log-format')).toMatch(/json or pretty \(default: pretty on a terminal, json elsewhere or with --json; env LEAGUE_BACKFILL_LOG_FORMAT\)/);
  });
});
