/**
 * What the writer records for other processes (health, doctor, the dashboard, rollout): the
 * current minute's figures, alerts and the WAL-pin state. They are written inside the writer's
 * next transaction, so they commit or roll back with it: rolled back, they wait for the one
 * after. The writer's own state (its pid, command and start) is written on its own, at start
 * and at close.
 */
import type { Database } from 'better-sqlite3';
import type { WriterStatements } from '../../db/writer-statements.js';
import { isLockError } from '../../errors.js';
import type { AlertRecord } from '../protocol.js';
import type { CheckpointFigures, WalPin } from './checkpoint-policy.js';
import { copyMinute, emptyMinute, subtractMinute, type MinuteFigures } from './lock-accounting.js';

/** What a write in the current transaction leaves to do once it ends. */
export interface PendingWrite {
  committed(): void;
  rolledBack(): void;
}

export class WriterRecords {
  readonly #db: Database;
  readonly #statements: WriterStatements;
  /** The current minute's figures, counted as they happen and written with the next transaction. */
  readonly minute: MinuteFigures = emptyMinute();
  #alerts: Array<AlertRecord & { at: string }> = [];
  #pin: { value: WalPin | null } | undefined;

  constructor(db: Database, statements: WriterStatements) {
    this.#db = db;
    this.#statements = statements;
  }

  alert(alert: AlertRecord): void {
    this.#alerts.push({ ...alert, at: new Date().toISOString() });
  }

  /** The WAL-pin state for other processes to read (null: no pin). */
  pin(value: WalPin | null): void {
    this.#pin = { value };
  }

  /** Anything that a last small transaction at close should still write. */
  get pending(): boolean {
    return this.#alerts.length > 0 || this.#pin !== undefined || this.minute.locks > 0 || this.minute.yields > 0;
  }

  /** Writes the minute's figures, alerts and pin state inside the current transaction. */
  write(batches: number, rows: number, holdMs: number, checkpoints: CheckpointFigures): PendingWrite {
    const minute = Math.floor(Date.now() / 60_000);
    const written = copyMinute(this.minute);
    const s = this.#statements;
    s.addMetrics.run({
      minute, batches, rows, failed: 0, locks: written.locks, retries: written.retries, lockWaitMs: written.lockWaitMs, holdMs,
      walBytes: checkpoints.maxWalBytes, checkpoints: checkpoints.checkpoints, blocked: checkpoints.blocked,
      yields: written.yields, yieldMs: written.yieldMs, neighbourCommits: written.neighbourCommits,
    });
    for (const [pid, holder] of written.holders) s.addHolder.run({ minute, pid, command: holder.command, waits: holder.waits, waitMs: holder.waitMs });
    const alerts = this.#alerts.splice(0);
    for (const alert of alerts) s.addAlert.run(alert.at, alert.level, alert.message, JSON.stringify(alert.figures));
    const pin = this.#pin;
    this.#pin = undefined;
    if (pin) s.setState.run('wal_pin', JSON.stringify(pin.value), new Date().toISOString());
    return {
      committed: () => subtractMinute(this.minute, written),
      // Rolled back: the alerts and the pin go with the next transaction.
      rolledBack: () => {
        this.#alerts.unshift(...alerts);
        this.#pin ??= pin;
      },
    };
  }

  /** A failed batch is counted in its own small transaction; if even that is locked out, the count is lost (best effort). */
  recordFailedBatches(count: number): void {
    if (count === 0) return;
    try {
      const minute = Math.floor(Date.now() / 60_000);
      this.#db.transaction(() => {
        this.#statements.addMetrics.run({
          minute, batches: 0, rows: 0, failed: count, locks: 0, retries: 0, lockWaitMs: 0, holdMs: 0,
          walBytes: 0, checkpoints: 0, blocked: 0, yields: 0, yieldMs: 0, neighbourCommits: 0,
        });
      }).immediate();
    } catch {
      // Metrics are best effort; the batch failure itself reaches the caller.
    }
  }

  /** The writer's own state: who runs it and since when, or null once it closed. */
  recordWriterState(value: Record<string, unknown> | null): void {
    try {
      this.#db.transaction(() => this.#statements.setState.run('writer', JSON.stringify(value), new Date().toISOString())).immediate();
    } catch (error) {
      if (!isLockError(error)) throw error;
      // Informational: another process held the lock past busy_timeout at start or close.
    }
  }
}
