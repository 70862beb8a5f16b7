/**
 * The command line's output layer: one place that writes to the terminal, so that a progress
 * bar, log lines and messages such as "SIGINT received" never overwrite each other, and one
 * place that decides what a closed pipe (`league-backfill jobs | head -1`) means.
 */
import type { Writable } from 'node:stream';

export type OutputStream = Writable & { isTTY?: boolean; columns?: number };

const CLEAR_LINE = '\r\u001b[2K';

/**
 * The lines written to one stream, with at most one status line (the progress bar) kept at the
 * bottom on a terminal: every other line is written above it, and it is redrawn below.
 */
export class TerminalLines {
  readonly #stream: OutputStream;
  #status: string | null = null;

  constructor(stream: OutputStream) {
    this.#stream = stream;
  }

  /** True when the stream is a terminal (only then is there a status line). */
  get isTerminal(): boolean {
    return this.#stream.isTTY === true;
  }

  /** Width available to a status line; a line as wide as the terminal would wrap and break the redraw. */
  get columns(): number {
    const columns = this.#stream.columns;
    return typeof columns === 'number' && columns > 0 ? columns : 80;
  }

  /**
   * Writes whole lines (a missing final newline is added), above the status line if one is
   * shown. On a terminal the line is cleared first: every write here ends with a newline, so
   * what the cursor sits after is only the terminal's own echo, such as the `^C` of a Ctrl-C.
   */
  write(chunk: string): void {
    const text = chunk.endsWith('\n') ? chunk : `${chunk}\n`;
    if (this.#status !== null) this.#raw(`${CLEAR_LINE}${text}${this.#status}`);
    else this.#raw(this.isTerminal ? `${CLEAR_LINE}${text}` : text);
  }

  /** Draws (or redraws) the status line. Ignored when the stream is not a terminal. */
  status(text: string): void {
    if (!this.isTerminal) return;
    this.#status = fit(text, this.columns - 1);
    this.#raw(`${CLEAR_LINE}${this.#status}`);
  }

  /** Ends the status line: `keep` leaves its last state on screen as an ordinary line; otherwise it is erased. */
  endStatus(keep: boolean): void {
    if (this.#status === null) return;
    this.#raw(keep ? '\n' : CLEAR_LINE);
    this.#status = null;
  }

  #raw(text: string): void {
    try {
      this.#stream.write(text);
    } catch (error) {
      // A stream closed under us (EPIPE) is handled by guardOutput; a log line is not worth a crash.
      if (!isBrokenPipe(error)) throw error;
    }
  }
}

const registry = new WeakMap<OutputStream, TerminalLines>();

/** The one TerminalLines of a stream: the executable, the logger and the progress bar share it. */
export function terminalLines(stream: OutputStream): TerminalLines {
  let lines = registry.get(stream);
  if (!lines) {
    lines = new TerminalLines(stream);
    registry.set(stream, lines);
  }
  return lines;
}

/** Shortens a single line to `width` characters (without counting ANSI colour codes). */
function fit(text: string, width: number): string {
  const plain = text.replace(/\u001b\[[0-9;]*m/g, '');
  if (plain.length <= width || width < 2) return text;
  return `${plain.slice(0, width - 1)}…`;
}

export function isBrokenPipe(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED';
}

export interface GuardOutputOptions {
  /** Called once for a write error that is not a closed pipe (a full disk, say), with the stream's name. */
  onError?: (name: string, error: Error) => void;
}

/**
 * Makes a closed pipe on stdout or stderr an ordinary end of output: the reader (head, less, a
 * pager quit early) has what it wanted, so the command goes on quietly and keeps its exit code,
 * like git and gh. Without this Node throws `Error: write EPIPE` from the stream, which ends the
 * process with a stack trace and exit 1.
 */
export function guardOutput(streams: Record<string, OutputStream>, options: GuardOutputOptions = {}): void {
  for (const [name, stream] of Object.entries(streams)) {
    let reported = false;
    stream.on('error', (error: Error) => {
      if (isBrokenPipe(error) || reported) return;
      reported = true;
      options.onError?.(name, error);
    });
  }
}
