/**
 * What a person sees on a terminal: the command line runs under a real pseudo-terminal (a
 * python3 pty driver: stdin, stdout and stderr of the CLI are the pty's slave side, and the
 * test reads what the terminal would show), and the same commands run with pipes for the
 * machine side. The raw bytes are replayed through a tiny screen model (carriage return,
 * erase line, colours dropped), so "on its own line" means what it means on a screen.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, runCli } from './helpers/cli.js';
import { readTable } from './helpers/processes.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();

/**
 * Starts argv on a new pty (its own session, the pty as controlling terminal, so a 0x03
 * written to the master is a real Ctrl-C), copies the terminal's output to stdout, and
 * turns a line "ctrl-c" on its stdin into that keystroke. PTY_STDOUT sends the CLI's stdout
 * to a file instead, as in `league-backfill backfill --json > out.json` typed at a terminal.
 */
const PTY_DRIVER = String.raw`
import os, sys, pty, select, fcntl, termios, struct, subprocess
master, slave = pty.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 40, int(os.environ.get('PTY_COLUMNS', '120')), 0, 0))
out = os.environ.get('PTY_STDOUT')
stdout = open(out, 'wb') if out else slave
def controlling_tty():
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
child = subprocess.Popen(sys.argv[1:], stdin=slave, stdout=stdout, stderr=slave, start_new_session=True, preexec_fn=controlling_tty, close_fds=True)
os.close(slave)
inputs = [sys.stdin.fileno()]
while True:
    ready, _, _ = select.select([master] + inputs, [], [], 0.05)
    if master in ready:
        try:
            data = os.read(master, 65536)
        except OSError:
            data = b''
        if not data:
            break
        os.write(1, data)
    if inputs and inputs[0] in ready:
        line = sys.stdin.readline()
        if line == '':
            inputs = []
        elif line.strip() == 'ctrl-c':
            os.write(master, b'\x03')
sys.exit(child.wait())
`;

interface PtyRun {
  code: number | null;
  /** What the terminal shows at the end, line by line. */
  screen: string[];
  /** The bytes as written, for checks on escape sequences. */
  raw: string;
}

interface PtyOptions {
  env?: NodeJS.ProcessEnv;
  stdoutFile?: string;
  /** Sends Ctrl-C once the terminal has shown text matching this. */
  ctrlCWhen?: RegExp;
  timeoutMs?: number;
}

function runInPty(args: string[], options: PtyOptions = {}): Promise<PtyRun> {
  const child = spawn('python3', ['-c', PTY_DRIVER, process.execPath, BIN, ...args], {
    env: {
      ...process.env, LEAGUE_BACKFILL_LOG_LEVEL: 'info', TERM: 'xterm', PTY_COLUMNS: '120',
      ...(options.stdoutFile ? { PTY_STDOUT: options.stdoutFile } : {}), ...options.env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let raw = '';
  let errors = '';
  let sent = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    raw += chunk;
    if (options.ctrlCWhen && !sent && options.ctrlCWhen.test(screenOf(raw).join('\n'))) {
      sent = true;
      child.stdin.write('ctrl-c\n');
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { errors += chunk; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pty run did not finish in time\n${screenOf(raw).join('\n')}\n${errors}`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (errors !== '') reject(new Error(`pty driver: ${errors}`));
      else resolve({ code, screen: screenOf(raw), raw });
    });
  });
}

/** The lines a terminal shows after these bytes: \r returns, \n moves down, ESC[2K and ESC[K erase, colours are dropped. */
function screenOf(raw: string): string[] {
  const lines: string[][] = [[]];
  let row = 0;
  let col = 0;
  for (let i = 0; i < raw.length; i++) {
    const char = raw[i]!;
    if (char === '\u001b') {
      const match = /^\u001b\[([0-9;?]*)([A-Za-z])/.exec(raw.slice(i));
      if (match) {
        if (match[2] === 'K') {
          if (match[1] === '2') lines[row] = [];
          else lines[row] = lines[row]!.slice(0, col);
        }
        i += match[0].length - 1;
      }
      continue;
    }
    if (char === '\r') col = 0;
    else if (char === '\n') {
      row++;
      col = 0;
      lines[row] ??= [];
    } else {
      const line = lines[row]!;
      while (line.length < col) line.push(' ');
      line[col++] = char;
    }
  }
  return lines.map((line) => line.join('').trimEnd()).filter((line, index, all) => line !== '' || index < all.length - 1);
}

const SMALL = ['--leagues', '2', '--seasons', '2020-2023', '--seed', '3'];
const TIME_LEVEL = /^\d\d:\d\d:\d\d\.\d{3} (INFO|WARN|ERROR|DEBUG) /;

function barLines(screen: string[]): string[] {
  return screen.filter((line) => line.startsWith('backfill '));
}

describe('the command line on a terminal', () => {
  it('prints logs as human lines, not JSON, and ends the bar at 100 % with the jobs of the summary', async () => {
    const dir = tempDir();
    const run = await runInPty(['backfill', '--db', join(dir, 'a.db'), ...SMALL]);
    expect(run.code, run.screen.join('\n')).toBe(0);
    expect(run.screen.some((line) => line.startsWith('{'))).toBe(false);
    const starting = run.screen.find((line) => line.includes('backfill starting'));
    expect(starting, run.screen.join('\n')).toMatch(TIME_LEVEL);
    expect(starting).toMatch(/INFO  backfill starting  database=\S+a\.db jobs=8 source=demo flags=\[/);
    const bars = barLines(run.screen);
    expect(bars, run.screen.join('\n')).toHaveLength(1); // redrawn in place: one line on screen
    expect(bars[0]).toMatch(/100 % 8\/8 jobs done \|/);
    expect(run.screen.some((line) => /^Backfill finished in .*: 8 jobs \(8 completed, 0 already complete, 0 failed, 0 cancelled\)$/.test(line))).toBe(true);
    // The bar is redrawn with carriage returns, never by scrolling.
    expect(run.raw).toContain('\r\u001b[2Kbackfill ');
  });

  it('counts jobs that were already complete as done: a resumed run ends at 100 % and agrees with the summary', async () => {
    const dir = tempDir();
    const db = join(dir, 'resume.db');
    const first = await runCli(['backfill', '--db', db, '--leagues', '2', '--seasons', '2020-2021', '--seed', '3', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const run = await runInPty(['backfill', '--db', db, ...SMALL]);
    expect(run.code, run.screen.join('\n')).toBe(0);
    const bars = barLines(run.screen);
    expect(bars, run.screen.join('\n')).toHaveLength(1);
    expect(bars[0]).toMatch(/100 % 8\/8 jobs done \(4 already complete\) \|/);
    expect(run.screen.some((line) => line.includes('8 jobs (4 completed, 4 already complete, 0 failed, 0 cancelled)'))).toBe(true);
    expect(readTable(db).statuses).toEqual({ completed: 8 });
  });

  it('prints the Ctrl-C message on its own line, and the bar ends with the cancelled jobs of the summary', async () => {
    const dir = tempDir();
    const db = join(dir, 'ctrl-c.db');
    const run = await runInPty(['backfill', '--db', db, '--leagues', '3', '--seasons', '2015-2025', '--latency', '20'], {
      ctrlCWhen: /backfill .*[1-9][\d,]* rows,/,
    });
    expect(run.code, run.screen.join('\n')).toBe(130);
    const message = 'league-backfill: SIGINT received, finishing cleanly (press Ctrl-C again to exit at once)';
    // The terminal echoes ^C where the cursor was; the message itself starts a line and has it to itself.
    expect(run.screen.filter((line) => line === message), run.screen.join('\n')).toHaveLength(1);
    const bars = barLines(run.screen);
    const summary = run.screen.find((line) => line.startsWith('Backfill interrupted'));
    const [, jobs, completed, cancelled] = /: (\d+) jobs \((\d+) completed, 0 already complete, 0 failed, (\d+) cancelled\)/.exec(summary ?? '') ?? [];
    expect(Number(cancelled), run.screen.join('\n')).toBeGreaterThan(0);
    const last = bars.at(-1)!;
    expect(last).toContain(` ${completed}/${jobs} jobs done`);
    expect(last).toContain(`| ${cancelled} cancelled |`);
    // The bar after the message is the last state; nothing overwrote the message.
    expect(run.screen.indexOf(message)).toBeLessThan(run.screen.indexOf(last));
  });

  it('draws no bar with --no-progress, and logs JSON lines on a terminal with --json or when asked', async () => {
    const dir = tempDir();
    const quiet = await runInPty(['backfill', '--db', join(dir, 'a.db'), ...SMALL, '--no-progress']);
    expect(quiet.code).toBe(0);
    expect(barLines(quiet.screen)).toEqual([]);
    expect(quiet.screen.find((line) => line.includes('backfill starting'))).toMatch(TIME_LEVEL);

    const out = join(dir, 'summary.json');
    const json = await runInPty(['backfill', '--db', join(dir, 'b.db'), ...SMALL, '--json'], { stdoutFile: out });
    expect(json.code).toBe(0);
    expect(barLines(json.screen)).toEqual([]);
    const logged = json.screen.filter((line) => line !== '');
    expect(logged.length).toBeGreaterThan(0);
    for (const line of logged) expect(JSON.parse(line)).toHaveProperty('msg');

    for (const asked of [['--log-format', 'json'], []]) {
      const run = await runInPty(['backfill', '--db', join(dir, `c${asked.length}.db`), ...SMALL, '--no-progress', ...asked], {
        env: asked.length === 0 ? { LEAGUE_BACKFILL_LOG_FORMAT: 'json' } : {},
      });
      expect(run.code).toBe(0);
      const starting = run.screen.find((line) => line.includes('backfill starting'))!;
      expect((JSON.parse(starting) as { msg: string }).msg).toBe('backfill starting');
    }
  });
});

describe('the command line without a terminal', () => {
  it('logs JSON lines on a pipe, and human lines when asked with --log-format pretty', async () => {
    const dir = tempDir();
    const piped = await runCli(['backfill', '--db', join(dir, 'a.db'), ...SMALL], { env: { LEAGUE_BACKFILL_LOG_LEVEL: 'info' } });
    expect(piped.code, piped.stderr).toBe(0);
    const lines = piped.stderr.trim().split('\n');
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toContain('backfill starting');
    expect(piped.stderr).not.toContain('\u001b['); // no bar and no colours on a pipe

    const pretty = await runCli(['backfill', '--db', join(dir, 'b.db'), ...SMALL, '--log-format', 'pretty'], { env: { LEAGUE_BACKFILL_LOG_LEVEL: 'info' } });
    expect(pretty.code, pretty.stderr).toBe(0);
    expect(pretty.stderr).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  backfill starting  database=/m);
    expect(pretty.stderr).not.toContain('{"level"');
    expect(pretty.stderr).not.toContain('\u001b['); // colours only on a terminal
  });

  it('refuses an unknown log format, from the option or the environment, before creating anything', async () => {
    const cwd = tempDir();
    const flag = await runCli(['backfill', '--log-format', 'yaml'], { cwd });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('Expected `--log-format` to be one of json, pretty, got "yaml"');
    const variable = await runCli(['jobs'], { cwd, env: { LEAGUE_BACKFILL_LOG_FORMAT: 'xml' } });
    expect(variable.code).toBe(2);
    expect(variable.stderr).toContain('Expected `LEAGUE_BACKFILL_LOG_FORMAT` to be one of json, pretty, got "xml"');
    expect(readdirSync(cwd)).toEqual([]);
  });
});
