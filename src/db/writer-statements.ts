/**
 * The SQL the writer thread runs besides the rows themselves (those go through
 * writer/thread/staging.ts): their rejected records, each job's line in `job_log`, and the
 * writer's own records for other processes (per-minute figures, lock holders, alerts, state). Prepared once on the writer's connection; the readers of the same
 * tables are `job-log.ts` and `writer-records.ts`.
 */
import type { Database, Statement } from 'better-sqlite3';
import { WRITER_TABLES, type TableNames } from './schema.js';

export interface WriterStatements {
  insertRejected: Statement;
  getJob: Statement;
  otherSource: Statement;
  deleteJobRows: Statement;
  clearRejected: Statement;
  startJob: Statement;
  advanceJob: Statement;
  endJob: Statement;
  getOperations: Statement;
  addLocks: Statement;
  addMetrics: Statement;
  addHolder: Statement;
  addAlert: Statement;
  setState: Statement;
}

export function prepareWriterStatements(db: Database, t: TableNames): WriterStatements {
  return {
    insertRejected: db.prepare(`INSERT INTO ${t.rejectedRows} (job_id, raw, reason, rejected_at) VALUES (?, ?, ?, ?)`),
    getJob: db.prepare(`SELECT status, cursor, source FROM ${t.jobLog} WHERE job_id = ?`),
    // Jobs of the same league (its key across seasons) written from another source.
    otherSource: db.prepare(`SELECT source, count(*) AS jobs, sum(rows_inserted) AS rows FROM ${t.jobLog}
      WHERE league_key = ? AND source IS NOT NULL AND source <> ? AND rows_inserted > 0 GROUP BY source ORDER BY rows DESC LIMIT 1`),
    deleteJobRows: db.prepare(`DELETE FROM ${t.transactions} WHERE job_id = ?`),
    clearRejected: db.prepare(`DELETE FROM ${t.rejectedRows} WHERE job_id = ?`),
    startJob: db.prepare(`INSERT INTO ${t.jobLog} (job_id, job_type, league_key, season, source, status, cursor, runs, created_at, started_at, updated_at)
      VALUES (@jobId, 'transactions', @leagueKey, @season, @source, 'running', 0, 1, @now, @now, @now)
      ON CONFLICT (job_id) DO UPDATE SET status = 'running', runs = coalesce(runs, 0) + 1, error = NULL, finished_at = NULL,
        started_at = @now, updated_at = @now, league_key = @leagueKey, season = @season, source = @source,
        cursor = CASE WHEN @force THEN 0 ELSE coalesce(cursor, 0) END,
        pages_fetched = CASE WHEN @force THEN 0 ELSE pages_fetched END,
        rows_fetched = CASE WHEN @force THEN 0 ELSE rows_fetched END,
        rows_inserted = CASE WHEN @force THEN 0 ELSE rows_inserted END,
        rows_ignored = CASE WHEN @force THEN 0 ELSE rows_ignored END,
        rows_rejected = CASE WHEN @force THEN 0 ELSE rows_rejected END`),
    // The cursor only moves forward: a batch can never take a job back to an older page.
    advanceJob: db.prepare(`UPDATE ${t.jobLog} SET cursor = max(coalesce(cursor, 0), coalesce(@cursor, cursor, 0)), pages_fetched = pages_fetched + @pages,
      rows_fetched = rows_fetched + @fetched, rows_inserted = rows_inserted + @inserted, rows_ignored = rows_ignored + @ignored,
      rows_rejected = rows_rejected + @rejected,
      status = CASE WHEN @final THEN 'completed' ELSE status END,
      finished_at = CASE WHEN @final THEN @now ELSE finished_at END, updated_at = @now
      WHERE job_id = @jobId`),
    // Ending a job is idempotent, and a completed job stays completed.
    endJob: db.prepare(`UPDATE ${t.jobLog} SET status = @status, error = @error, finished_at = @now, updated_at = @now
      WHERE job_id = @jobId AND status <> 'completed'`),
    getOperations: db.prepare(`SELECT lock_operations FROM ${t.jobLog} WHERE job_id = ?`),
    addLocks: db.prepare(`UPDATE ${t.jobLog} SET lock_count = coalesce(lock_count, 0) + @count,
      max_retry_count = max(coalesce(max_retry_count, 0), @maxRetry), total_retry_time = coalesce(total_retry_time, 0) + @retrySeconds,
      lock_operations = @operations WHERE job_id = @jobId`),
    addMetrics: db.prepare(`INSERT INTO ${t.writerMetrics} (minute, transactions, batches, failed_batches, rows, locks, retries, lock_wait_ms, max_hold_ms,
        max_wal_bytes, checkpoints, checkpoints_blocked, yields, yield_ms, neighbour_commits)
      VALUES (@minute, CASE WHEN @batches > 0 THEN 1 ELSE 0 END, @batches, @failed, @rows, @locks, @retries, @lockWaitMs, @holdMs,
        @walBytes, @checkpoints, @blocked, @yields, @yieldMs, @neighbourCommits)
      ON CONFLICT (minute) DO UPDATE SET transactions = transactions + excluded.transactions, batches = batches + excluded.batches,
        failed_batches = failed_batches + excluded.failed_batches, rows = rows + excluded.rows, locks = locks + excluded.locks,
        retries = retries + excluded.retries, lock_wait_ms = lock_wait_ms + excluded.lock_wait_ms,
        max_hold_ms = max(max_hold_ms, excluded.max_hold_ms), max_wal_bytes = max(max_wal_bytes, excluded.max_wal_bytes),
        checkpoints = checkpoints + excluded.checkpoints, checkpoints_blocked = checkpoints_blocked + excluded.checkpoints_blocked,
        yields = yields + excluded.yields, yield_ms = yield_ms + excluded.yield_ms, neighbour_commits = neighbour_commits + excluded.neighbour_commits`),
    addHolder: db.prepare(`INSERT INTO ${WRITER_TABLES.lockHolders} (minute, pid, command, waits, wait_ms) VALUES (@minute, @pid, @command, @waits, @waitMs)
      ON CONFLICT (minute, pid) DO UPDATE SET waits = waits + excluded.waits, wait_ms = wait_ms + excluded.wait_ms, command = excluded.command`),
    addAlert: db.prepare(`INSERT INTO ${WRITER_TABLES.alerts} (at, level, message, figures) VALUES (?, ?, ?, ?)`),
    setState: db.prepare(`INSERT INTO ${WRITER_TABLES.state} (key, value, updated_at) VALUES (?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`),
  };
}
