/** The largest the database's `-wal` file grew over a run, sampled from the file system. */
import { statSync } from 'node:fs';

export class WalSampler {
  readonly #path: string;
  #maxBytes = 0;
  readonly #timer: NodeJS.Timeout;

  /** Samples `<database>-wal` every `intervalMs`: the file's size, whoever wrote it. */
  constructor(database: string, intervalMs = 50) {
    this.#path = `${database}-wal`;
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  sample(): void {
    try {
      this.#maxBytes = Math.max(this.#maxBytes, statSync(this.#path).size);
    } catch {
      // no WAL file (rollback journal, or not created yet)
    }
  }

  /** Stops sampling; returns the largest size seen, in bytes. */
  stop(): number {
    this.sample();
    clearInterval(this.#timer);
    return this.#maxBytes;
  }
}
