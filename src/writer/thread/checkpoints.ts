/**
 * The checkpoint statements the writer runs for its policy (checkpoint-policy.ts decides when):
 * the WAL's size, a checkpoint in any mode reported as `CheckpointInfo`, and a RESTART whose
 * wait for readers, under the write lock, is bounded.
 */
import { statSync } from 'node:fs';
import type { Database } from 'better-sqlite3';
import { isLockError } from '../../errors.js';
import type { CheckpointInfo, CheckpointMode } from '../protocol.js';
import type { CheckpointResult } from './checkpoint-policy.js';

/** Bytes of one WAL frame of the connection's database: its page and the frame's 24-byte header. */
export function walFrameBytes(db: Database): number {
  return Number(db.pragma('page_size', { simple: true })) + 24;
}

/** Size of the WAL file (bytes); 0 when there is none. */
export function walBytes(walPath: string): number {
  try {
    return statSync(walPath).size;
  } catch {
    return 0;
  }
}

export function runCheckpoint(db: Database, walPath: string, mode: CheckpointMode): CheckpointInfo {
  const walBytesBefore = walBytes(walPath);
  const started = performance.now();
  const [result] = db.pragma(`wal_checkpoint(${mode})`) as Array<{ busy: number; log: number; checkpointed: number }>;
  return {
    mode,
    busy: (result?.busy ?? 0) !== 0,
    walPages: result?.log ?? 0,
    checkpointedPages: result?.checkpointed ?? 0,
    walBytesBefore,
    durationMs: performance.now() - started,
  };
}

/**
 * Runs `step` (a RESTART, a BEGIN) with busy_timeout set to `waitMs` (0: no wait at all); null
 * when it met a lock it could not have in time.
 */
export function withBoundedWait<T>(db: Database, waitMs: number, step: () => T): T | null {
  const busyTimeout = Number(db.pragma('busy_timeout', { simple: true }));
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(waitMs))}`);
  try {
    return step();
  } catch (error) {
    if (isLockError(error)) return null;
    throw error;
  } finally {
    db.pragma(`busy_timeout = ${busyTimeout}`);
  }
}

export function toResult(info: CheckpointInfo): CheckpointResult {
  return { busy: info.busy, walFrames: info.walPages, checkpointedFrames: info.checkpointedPages };
}
