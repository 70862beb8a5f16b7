/**
 * The writer's one interactive transaction (`serializable()`) and the ids of those that ended.
 * Every message of a session carries its id, so a statement that arrives after its session
 * timed out fails with ERR_TRANSACTION_CLOSED instead of running in the next caller's.
 */
import { BackfillError } from '../../errors.js';

/** Why a session ended is remembered for the last few, for the message a late call gets. */
const REMEMBERED = 16;

export class Sessions {
  #open: { id: number; end: () => void } | undefined;
  readonly #ended = new Map<number, string>();

  /** `end` resolves what the writer's message loop waits on while the session is open. */
  open(id: number, end: () => void): void {
    this.#open = { id, end };
  }

  /** Ends session `id` if it is the open one; false when it was not. */
  close(id: number, why: string): boolean {
    const session = this.#open;
    if (session?.id !== id) return false;
    this.#open = undefined;
    this.#ended.set(id, why);
    // The ids only grow: the oldest go first.
    for (const key of this.#ended.keys()) {
      if (this.#ended.size <= REMEMBERED) break;
      this.#ended.delete(key);
    }
    session.end();
    return true;
  }

  /** Throws ERR_TRANSACTION_CLOSED unless `id` is the open session and its transaction is still open. */
  assertOpen(id: number, inTransaction: boolean): void {
    if (this.#open?.id === id && inTransaction) return;
    const why = this.#ended.get(id) ?? 'it already ended';
    throw new BackfillError('ERR_TRANSACTION_CLOSED', `The serializable transaction ${id} is no longer open (${why}); nothing more runs in it, and it did not commit.`);
  }
}
