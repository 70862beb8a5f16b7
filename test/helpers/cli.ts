import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built command line (npm test builds first: worker threads need JavaScript). */
export const BIN = fileURLToPath(new URL('../../dist/src/cli/bin.js', import.meta.url));

/**
 * Whether a user other than the checkout's owner can run the built command line: every folder
 * above it lets others through. Permission cases run as nobody when the tests run as root (root
 * ignores permissions); a checkout in a private folder (`mktemp -d` makes them 0700) can not be
 * run by nobody at all, and those cases are skipped there with this reason.
 */
export const OTHERS_CAN_RUN_CLI = ((): boolean => {
  for (let folder = dirname(BIN); ; folder = dirname(folder)) {
    if ((statSync(folder).mode & 0o001) === 0) return false;
    if (dirname(folder) === folder) return true;
  }
})();
export const NOT_RUNNABLE_BY_OTHERS = 'the checkout is in a folder other users can not enter, so the command line can not run as nobody';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Run as another user (root only): to test permissions, which root ignores. */
  uid?: number;
  gid?: number;
}

/** Runs `league-backfill ...args` in a real child process and collects its output. */
export function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  const child = startCli(args, options);
  return collect(child, options.timeoutMs ?? 60_000);
}

export function startCli(args: string[], options: RunOptions = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, LEAGUE_BACKFILL_LOG_LEVEL: 'warn', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.uid !== undefined ? { uid: options.uid } : {}),
    ...(options.gid !== undefined ? { gid: options.gid } : {}),
  });
}

export function collect(child: ChildProcess, timeoutMs = 60_000): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
