/** The rollback log: one JSON line per rollback, synced, beside the flags file. */
import { mkdir, open } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import type { Logger } from '../../logger.js';
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
    await mkdir(path.dirname(file), { recursive: true });
    const handle = await open(file, 'a');
    try {
      await handle.write(`${JSON.stringify(result)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    logger.error({ logFile: file, err: (error as Error).message }, 'could not write the rollback log');
    throw new RollbackError('ERR_INTERNAL',
      `The rollback ended with status ${result.status}, but its log line could not be written to ${file}: ${(error as Error).message}`, result, { cause: error });
  }
}
