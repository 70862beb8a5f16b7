/**
 * Whether a database path still names the file a run opened. SQLite keeps writing into a file
 * that is deleted or replaced under an open connection: the rows then go to a file nobody can
 * open again, and a replacement is left beside a -wal written for the old file. One check for
 * every caller: the writer before each group of batches, and a long-running command between.
 */
import { statSync } from 'node:fs';

/** The file a path names: its device and inode. */
export interface FileIdentity {
  dev: number;
  ino: number;
}

/** The file `path` names now, or null when there is none (or the path is `:memory:`). */
export function fileIdentity(path: string): FileIdentity | null {
  if (path === ':memory:' || path === '') return null;
  try {
    const stats = statSync(path);
    return { dev: stats.dev, ino: stats.ino };
  } catch {
    return null;
  }
}

/** Whether two identities name the same file (two missing files are the same: nothing). */
export function sameFile(a: FileIdentity | null, b: FileIdentity | null): boolean {
  return a === null || b === null ? a === b : a.dev === b.dev && a.ino === b.ino;
}

/** A sentence saying what happened to the database file since `opened`, or null when it is the same file. */
export function databaseFileChange(path: string, opened: FileIdentity): string | null {
  const now = fileIdentity(path);
  if (now === null) {
    return `Database ${path} was deleted while the backfill ran, so the backfill stopped: its rows went to the deleted file and are lost with it. ` +
      'Run the backfill again to write them to a new file';
  }
  if (!sameFile(now, opened)) {
    return `Database ${path} was replaced by another file while the backfill ran, so the backfill stopped: its rows went to the old file. ` +
      `The ${path}-wal and ${path}-shm files beside the new file belong to the old one: move them away before anything opens ${path}, ` +
      'or it will read the new file as corrupt. Then run the backfill again';
  }
  return null;
}
