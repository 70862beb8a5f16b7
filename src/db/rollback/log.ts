/** The rollback log: one JSON line per rollback, synced, beside the flags file. */
import { userInfo } from 'node:os';
import type { Logger } from '../../logger.js';
import { appendJsonLine } from '../../util/json-lines.js';
import { RollbackError, type RollbackResult } from './result.js';

export function currentUser(): string | null {
  try {
    return userInfo().username;
  } catch {
    return null;
  }
}

/** Appends one line and syncs it: the log is what an operator reads after an incident. */
export async function appendLog(file: string, result: RollbackResult, logger: Logger): Promise<void> {
  try {
    await appendJsonLine(file, result);
  } catch (error) {
    logger.error({ logFile: file, err: (error as Error).message }, 'could not write the rollback log');
    throw new RollbackError('ERR_INTERNAL',
      `The rollback ended with status ${result.status}, but its log line could not be written to ${file}: ${(error as Error).message}`, result, { cause: error });
  }
}
