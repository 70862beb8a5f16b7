/** How a backup reads to a person: the lines `backup` and `maintain` print, for any caller. */
import type { BackupResult } from './backup.js';
import { describeLockWaits } from './locking/operation-lock.js';
import { formatBytes } from './validate.js';

/** The lines that describe a backup: the copy, what was verified, the rows, any lock waits. */
export function describeBackup(result: BackupResult): string[] {
  const counted = result.verification.rowCounts === 'same-snapshot'
    ? 'rows equal to the source in the snapshot the copy was made from'
    : 'rows between the source counts before and after the copy (another process wrote meanwhile)';
  return [
    `copy: ${result.path} (${formatBytes(result.sizeBytes)}, ${result.method}${result.replaced ? ', replaced the file that was there' : ''})`,
    `verified: integrity_check ok, journal mode delete, no -wal or -shm; ${counted}`,
    `rows: ${formatRows(result.rows)}`,
    // A backup only reads: it waits only where another process's commit blocks readers (rollback-journal mode).
    ...(result.lockWaits.count > 0 ? [describeLockWaits(result.lockWaits, 'a lock')] : []),
  ];
}

/** Rows per table, as `transactions 1,234, job_log 5`. */
export function formatRows(rows: Record<string, number>): string {
  const entries = Object.entries(rows);
  return entries.length === 0 ? 'no tables' : entries.map(([table, count]) => `${table} ${count.toLocaleString('en-US')}`).join(', ');
}
