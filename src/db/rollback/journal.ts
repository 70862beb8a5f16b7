/** The journal-mode switch, made with every lock held, and its undoing when a later database refuses. */
import { rmSync } from 'node:fs';
import { BackfillError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { readMode, type Target } from './target.js';

/**
 * Sets `journal_mode = DELETE` on every locked database, in order, reading it back. A database
 * that refuses has the ones switched before it switched back; the error says which are stuck.
 */
export function switchToDelete(locking: Target[], logger: Logger): { status: 'failed' | 'partial'; error: BackfillError } | null {
  const switched: Target[] = [];
  for (const target of locking) {
    const db = target.db!;
    if (target.report.journalModeBefore === 'delete') {
      // It was busy when first looked at, and turned out to need nothing.
      target.report.action = 'unchanged';
      continue;
    }
    let answer: string;
    try {
      answer = String(db.pragma('journal_mode = DELETE', { simple: true }));
    } catch (error) {
      answer = `error: ${(error as Error).message}`;
    }
    target.report.journalModeAfter = readMode(db);
    if (target.report.journalModeAfter !== 'delete') {
      const undone = revert(switched, logger);
      const problem = `Database ${target.report.path} refused journal_mode = DELETE (SQLite answered ${answer}; the mode is ${target.report.journalModeAfter})`;
      if (undone.length === switched.length) {
        const back = switched.length === 0 ? 'no database was changed' : `${switched.map((t) => t.report.path).join(', ')} ${switched.length === 1 ? 'was' : 'were'} switched back`;
        return { status: 'failed', error: new BackfillError('ERR_DATABASE_WRITE', `${problem}; ${back}. The flags were not changed.`) };
      }
      const stuck = switched.filter((t) => !undone.includes(t)).map((t) => `${t.report.path} (now ${t.report.journalModeAfter})`).join(', ');
      return {
        status: 'partial',
        error: new BackfillError('ERR_DATABASE_WRITE', `${problem}, and switching back failed for ${stuck}. The flags were not changed; run the rollback again once the cause is fixed.`),
      };
    }
    target.report.action = 'switched';
    switched.push(target);
    // With the exclusive locking mode SQLite kept its WAL index in memory, so a `-shm` file
    // left by the processes before is still there. Nobody has it mapped (the lock proves it)
    // and the header now says DELETE, so no one will: it goes, while the lock is still held.
    rmSync(`${target.report.path}-shm`, { force: true });
    logger.info({ database: target.report.path, from: target.report.journalModeBefore }, 'journal mode set to DELETE');
  }
  return null;
}

/** Switches databases back to the mode they had; returns the ones that made it. */
function revert(switched: Target[], logger: Logger): Target[] {
  const undone: Target[] = [];
  for (const target of switched) {
    try {
      const mode = String(target.db!.pragma(`journal_mode = ${target.report.journalModeBefore}`, { simple: true }));
      target.report.journalModeAfter = mode;
      if (mode === target.report.journalModeBefore) {
        target.report.action = 'reverted';
        undone.push(target);
      }
    } catch (error) {
      logger.error({ database: target.report.path, err: (error as Error).message }, 'could not switch the journal mode back');
    }
  }
  return undone;
}
