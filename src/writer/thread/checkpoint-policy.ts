/**
 * The checkpoint policy: keeps the WAL bounded without ever holding the write lock longer
 * than a transaction may.
 *
 * - PASSIVE copies to the database every frame that no reader still needs. It takes no write
 *   lock, so other writers go on while it runs. Once every frame is copied, SQLite starts the
 *   WAL over at the next write, provided no reader is still reading from it.
 * - RESTART forces that start-over, but it waits for the readers while holding the write lock,
 *   so every other writer waits behind it. It is used only over the threshold, with a wait
 *   bounded by the lock budget, at most once per `restartEveryMs`, and never escalated.
 * - A reader that holds an old snapshot (a notebook with an open transaction) pins the WAL:
 *   nothing written after its snapshot can be copied, and the WAL cannot start over. Waiting it
 *   out would block everyone, so it is reported instead (an alert naming its process, and the
 *   `wal_pin` state that health and the dashboard read), and the WAL is reset soon after the
 *   reader lets go.
 * - While other processes use the file the writer checkpoints after each of its transactions,
 *   in the gap it leaves them anyway: otherwise their own automatic checkpoints (SQLite's
 *   default: after any commit that finds 1000 pages in the WAL) do the engine's copying inside
 *   their commits, and their commits get slow.
 * - The moment a pinning reader lets go, everything written behind its snapshot can be copied
 *   at once, and whoever checkpoints first does that copy. Left to chance, it is a neighbour's
 *   automatic checkpoint, inside its COMMIT: measured, a 530 ms commit of a legacy script after
 *   a 6 s pin of a 270 MB WAL, and none with the script's automatic checkpoint off. So while a
 *   reader holds the copy back the writer looks again every few milliseconds of the gaps it
 *   leaves (`inGap`), the only time a neighbour can commit: the copy is the writer's, and the
 *   neighbour's own checkpoint finds the checkpoint lock taken and returns at once.
 *
 * Pure over injected effects, so it is tested without threads or files.
 */
export interface CheckpointResult {
  /** The checkpoint could not finish: a reader (or another checkpointer) was in the way. */
  busy: boolean;
  /** Frames in the WAL, and frames copied to the database. */
  walFrames: number;
  checkpointedFrames: number;
}

export interface PinningReader {
  pid: number;
  command: string;
}

export interface WalPin {
  pid: number;
  command: string;
  since: string;
  walBytes: number;
}

export interface CheckpointEffects {
  /** Size of the WAL file (bytes); 0 when there is none. */
  walBytes(): number;
  /** `quiet`: a look that copies nothing is not reported as a checkpoint. */
  passive(quiet?: boolean): CheckpointResult;
  /** RESTART, waiting at most `waitMs` for readers; null when it could not get the lock. */
  restart(waitMs: number): CheckpointResult | null;
  /** Other processes reading from the WAL (a read lock on a read mark other than 0). */
  pinningReaders(): PinningReader[];
  alert(level: 'info' | 'warning', message: string, figures: Record<string, number | string>): void;
  /** Records the pin for other processes to read (null: no pin). */
  recordPin(pin: WalPin | null): void;
  now(): number;
  isoNow(): string;
}

export interface CheckpointPolicyOptions {
  /** WAL size above which the writer checkpoints (bytes). */
  thresholdBytes: number;
  /**
   * Bytes of one WAL frame (the page size and a 24-byte header). A RESTART is decided on the
   * frames the WAL holds, not on its file's size: a connection that starts the WAL over with no
   * `journal_size_limit` (a legacy script's, by default) leaves the file as large as it was.
   * Decided on the file, every transaction after a pin was followed by a RESTART, each holding
   * the write lock up to a budget while the file stayed at 332 MB with a few frames in it.
   */
  frameBytes: number;
  /** The most a RESTART may wait for readers while it holds the write lock (ms): the transaction budget. */
  restartWaitMs: number;
  /**
   * RESTART copies what PASSIVE left, and it does so holding the write lock: it runs only when
   * at most this many frames are left to copy (a reader a little behind), never after a pin with
   * the whole WAL still to copy. @default 512
   */
  restartMaxFrames?: number;
  /** RESTART at most this often (ms). @default 250 */
  restartEveryMs?: number;
  /** A reader that still pins the WAL this long after it was first seen is reported (ms). @default 1000 */
  pinAfterMs?: number;
  /** While pinned and no other process uses the file, look again this often (ms). @default 250 */
  pinCheckEveryMs?: number;
}

export interface CheckpointFigures {
  checkpoints: number;
  blocked: number;
  maxWalBytes: number;
}

export class CheckpointPolicy {
  readonly #options: Required<CheckpointPolicyOptions>;
  readonly #effects: CheckpointEffects;
  #pin: (WalPin & { checkpointed: number }) | null = null;
  /** Since when PASSIVE has been stuck at the same frame while the WAL grows: a reader's snapshot holds it there. */
  #stuck: { checkpointed: number; since: number; pids: Set<number> | null } | null = null;
  #lastPinCheck = Number.NEGATIVE_INFINITY;
  #lastRestart = Number.NEGATIVE_INFINITY;
  #committedSinceCheckpoint = false;
  #figures: CheckpointFigures = { checkpoints: 0, blocked: 0, maxWalBytes: 0 };

  constructor(options: CheckpointPolicyOptions, effects: CheckpointEffects) {
    this.#options = { restartEveryMs: 250, restartMaxFrames: 512, pinAfterMs: 1000, pinCheckEveryMs: 250, ...options };
    this.#effects = effects;
  }

  get pin(): WalPin | null {
    if (!this.#pin) return null;
    const { checkpointed: _checkpointed, ...pin } = this.#pin;
    return pin;
  }

  /** A reader holds the copy back: the writer then looks during its gaps too (`inGap`). */
  get watching(): boolean {
    return this.#pin !== null || (this.#stuck !== null && this.#effects.now() - this.#stuck.since >= this.#options.pinAfterMs / 2);
  }

  /**
   * Runs every few milliseconds of a gap the writer leaves its neighbours, while `watching`: a
   * look that copies nothing costs a few microseconds, and the look after the reader let go is
   * the one that copies what it held back.
   */
  inGap(): void {
    if (this.#pin) {
      this.#lookAtPin(this.#effects.now());
      return;
    }
    const stuck = this.#stuck;
    if (!stuck) return;
    const look = this.#effects.passive(true);
    if (complete(look) || look.checkpointedFrames !== stuck.checkpointed) {
      this.#count(look);
      this.#stuck = complete(look) ? null : { checkpointed: look.checkpointedFrames, since: this.#effects.now(), pids: null };
    }
  }

  /** Figures since the last call (for writer_metrics). */
  takeFigures(): CheckpointFigures {
    const figures = this.#figures;
    this.#figures = { checkpoints: 0, blocked: 0, maxWalBytes: 0 };
    return figures;
  }

  /**
   * Runs between transactions (never inside one). `neighbours`: other processes use the file,
   * and the writer is about to leave the lock free for them anyway.
   */
  afterTransaction(neighbours: boolean): void {
    this.#committedSinceCheckpoint = true;
    const walBytes = this.#effects.walBytes();
    this.#figures.maxWalBytes = Math.max(this.#figures.maxWalBytes, walBytes);
    const now = this.#effects.now();
    const overThreshold = walBytes >= this.#options.thresholdBytes;
    if (this.#pin) {
      // Pinned: nothing can be copied past the reader's snapshot, and a RESTART would only
      // hold the lock in vain. Look again (at once when neighbours may commit next, see inGap);
      // once the copy moves, the reader let go.
      if (!neighbours && now - this.#lastPinCheck < this.#options.pinCheckEveryMs) return;
      this.#lookAtPin(now);
      return;
    }
    if (!overThreshold && !neighbours) return;
    const passive = this.#passive();
    if (complete(passive) || passive.checkpointedFrames !== this.#stuck?.checkpointed) {
      this.#stuck = complete(passive) ? null : { checkpointed: passive.checkpointedFrames, since: now, pids: null };
    }
    // The frames never take more than the file, so this is over the threshold only if the file is.
    const logBytes = this.#logBytes(passive);
    if (logBytes < this.#options.thresholdBytes) return;
    // Over the threshold. Copied or not, the WAL starts over only when no reader is reading
    // from it at the moment of a write; readers that follow each other without pause (a
    // dashboard) may never leave such a moment. RESTART waits for them, holding the write lock,
    // so its wait is bounded by the transaction budget and it runs at most every restartEveryMs.
    // Half as much again over the threshold, the spacing goes: the WAL's bound matters more.
    if (this.#fewLeft(passive) && this.#restart(now, logBytes >= 1.5 * this.#options.thresholdBytes)) return;
    // The copy has not moved for a while although the WAL grew: one reader has kept the same
    // old snapshot open all along (a notebook's open transaction). Report it; never wait for it.
    // Readers that come and go (a dashboard's queries) are in some looks and not in others; the
    // one that pins is in every look, so the suspects are narrowed to those seen each time.
    if (!this.#stuck) return;
    const seen = new Map(this.#effects.pinningReaders().map((reader) => [reader.pid, reader] as const));
    this.#stuck.pids = this.#stuck.pids === null ? new Set(seen.keys()) : new Set([...this.#stuck.pids].filter((pid) => seen.has(pid)));
    if (now - this.#stuck.since >= this.#options.pinAfterMs) {
      // Readers come in the order of the frames they hold back, most first.
      const suspects = this.#stuck.pids;
      const first = [...seen.values()].find((reader) => suspects.has(reader.pid));
      this.#reportPin(walBytes, now, first);
    }
  }

  /** One look at a pinned WAL; once the copy moved, the pin is cleared and the WAL reset when it can be. */
  #lookAtPin(now: number): void {
    const pin = this.#pin!;
    this.#lastPinCheck = now;
    const look = this.#effects.passive(true);
    if (!complete(look) && look.checkpointedFrames === pin.checkpointed) return;
    this.#count(look);
    const walBytes = this.#effects.walBytes();
    this.#clearPin(walBytes);
    this.#lastRestart = Number.NEGATIVE_INFINITY;
    if (this.#logBytes(look) >= this.#options.thresholdBytes && this.#fewLeft(look)) this.#restart(now);
  }

  /** Counts a quiet look that did copy frames as the checkpoint it was. */
  #count(look: CheckpointResult): void {
    this.#figures.checkpoints++;
    if (!complete(look)) this.#figures.blocked++;
  }

  /** What the WAL's frames take (bytes), whatever the size of its file. */
  #logBytes(result: CheckpointResult): number {
    return result.walFrames * this.#options.frameBytes;
  }

  #fewLeft(passive: CheckpointResult): boolean {
    return passive.walFrames - passive.checkpointedFrames <= this.#options.restartMaxFrames;
  }

  #passive(): CheckpointResult {
    this.#figures.checkpoints++;
    this.#committedSinceCheckpoint = false;
    const passive = this.#effects.passive();
    if (!complete(passive)) this.#figures.blocked++;
    return passive;
  }

  /** A bounded RESTART, at most every restartEveryMs; true when the WAL will start over. */
  #restart(now: number, urgent = false): boolean {
    if (!urgent && now - this.#lastRestart < this.#options.restartEveryMs) return false;
    this.#lastRestart = now;
    this.#figures.checkpoints++;
    const restart = this.#effects.restart(this.#options.restartWaitMs);
    if (restart !== null && !restart.busy) {
      this.#stuck = null;
      return true;
    }
    this.#figures.blocked++;
    return false;
  }

  #reportPin(walBytes: number, now: number, first: PinningReader | undefined): void {
    const stuck = this.#stuck!;
    const seconds = Math.round((now - stuck.since) / 1000);
    this.#pin = { pid: first?.pid ?? 0, command: first?.command ?? '', since: this.#effects.isoNow(), walBytes, checkpointed: stuck.checkpointed };
    this.#lastPinCheck = now;
    this.#effects.recordPin(this.pin);
    const who = first === undefined ? 'a reader (its process could not be found)' : `pid ${first.pid}${first.command ? ` (${first.command})` : ''}`;
    this.#effects.alert('warning',
      `the WAL is pinned: ${who} has kept one read transaction open for over ${seconds} s, so the WAL (${walBytes} bytes) cannot be ` +
      'checkpointed past it or reset; it is not waited for. End that transaction (commit, or close the connection) and the WAL is reset soon after',
      { pid: first?.pid ?? 0, command: first?.command ?? '', walBytes });
  }

  #clearPin(walBytes: number): void {
    const pin = this.#pin;
    this.#stuck = null;
    if (!pin) return;
    this.#pin = null;
    this.#effects.recordPin(null);
    this.#effects.alert('info', `the WAL is no longer pinned (pid ${pin.pid} let go); it was ${walBytes} bytes and is checkpointed now`, { pid: pin.pid, walBytes });
  }
}

function complete(result: CheckpointResult): boolean {
  return !result.busy && result.checkpointedFrames >= result.walFrames;
}
