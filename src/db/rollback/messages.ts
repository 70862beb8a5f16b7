/** What the rollback says when it cannot finish: typed errors, and who to stop when a database is busy. */
import { BackfillError, isLockError } from '../../errors.js';
import { describeHolders, findLockHolders } from '../locking/lock-holders.js';
import type { DatabaseRollback } from './result.js';

export function asBackfillError(error: unknown): BackfillError {
  if (error instanceof BackfillError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (isLockError(error)) return new BackfillError('ERR_DATABASE_LOCKED', message, { cause: error });
  if (error instanceof Error && error.name === 'AbortError') {
    return new BackfillError('ERR_ABORTED', 'The rollback was stopped while waiting for the databases; nothing was changed', { cause: error });
  }
  return new BackfillError('ERR_DATABASE_WRITE', `The rollback failed: ${message}`, { cause: error });
}

export function describeDatabases(databases: DatabaseRollback[]): string {
  return databases.map((d) => `${d.path} ${d.journalModeBefore} -> ${d.journalModeAfter}`).join(', ');
}

/**
 * Who to stop, as precisely as this machine can tell: the processes that hold locks on the files
 * (Linux /proc/locks), otherwise the command that lists the processes that have them open.
 */
export function busyMessage(paths: string[], waitSeconds: number): string {
  const holders: string[] = [];
  for (const file of paths) {
    const found = findHolders(file);
    if (found !== null) holders.push(`${file}: ${found}`);
  }
  const files = paths.join(' and ');
  const what = `Database ${files} ${paths.length === 1 ? 'is' : 'are'} in use by another process (an open connection in WAL mode, or a lock), ` +
    `and ${paths.length === 1 ? 'it was' : 'they were'} still busy after waiting ${waitSeconds} s. Nothing was changed: the flags, the journal modes and the data are as they were.`;
  const stop = holders.length > 0
    ? ` Stop these processes, then run the rollback again: ${holders.join('; ')}. (\`fuser ${paths.map(shellQuote).join(' ')}\` lists every process that has ${paths.length === 1 ? 'it' : 'them'} open.)`
    : ` Stop the processes that have it open (backfills, dashboards, notebooks, sqlite3 shells), e.g. \`fuser ${paths.map(shellQuote).join(' ')}\` lists them, then run the rollback again (or give it longer with --wait-seconds).`;
  return `${what}${stop}`;
}

/** The processes that hold a lock on the database or its WAL index, in one sentence; null when none are found. */
function findHolders(file: string): string | null {
  // Our own connections were all closed before this is asked: any holder is another connection.
  const holders = findLockHolders(file);
  return holders.length === 0 ? null : describeHolders(holders);
}

function shellQuote(text: string): string {
  return /^[\w./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}
