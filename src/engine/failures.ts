/** How the engine turns what failed (a thrown value, a batch the writer refused) into a typed error. */
import { BackfillError, DatabaseLockedError, deserializeError, type SerializedError } from '../errors.js';

export function toBackfillError(error: unknown): BackfillError {
  if (error instanceof BackfillError) return error;
  if (error instanceof Error && error.name === 'AbortError') return new BackfillError('ERR_ABORTED', error.message, { cause: error });
  return new BackfillError('ERR_INTERNAL', error instanceof Error ? error.message : String(error), { cause: error });
}

/** A batch the writer rolled back, as the job that sent it sees it. */
export function commitError(serialized: SerializedError): BackfillError {
  const error = deserializeError(serialized);
  if (error.code === 'ERR_DATABASE_LOCKED') return new DatabaseLockedError(serialized.message, { cause: error });
  return new BackfillError(error.code === 'ERR_INTERNAL' ? 'ERR_DATABASE_WRITE' : error.code,
    `the batch could not be written (${serialized.message}); it was rolled back, nothing half-written`, { cause: error });
}
