/**
 * An NDJSON input read once per process. `planFileJobs()` reads and indexes the file in the
 * calling thread; without this each fetch worker then read and indexed it again before its
 * first page (for 303,719 rows, about a second each, while the writer waited), and kept its own
 * copy of the bytes. So planning puts the bytes and the line index in shared memory, and
 * `fileSource()` made afterwards for the same, unchanged file carries them to the workers
 * (a SharedArrayBuffer crosses postMessage without a copy). A description that lost them on the
 * way (JSON through Redis, a file changed since) makes the worker read the file itself.
 */
import { statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import type { NdjsonLine } from './ndjson.js';

export interface SharedNdjson {
  /** Size, modification time and inode of the file when it was read. */
  readonly identity: string;
  /** The file's bytes. */
  readonly bytes: SharedArrayBuffer;
  /** Per non-blank line: start, end, line number, index of its league in `leagueKeys` (-1: none), as float64. */
  readonly lines: SharedArrayBuffer;
  /** UTF-8 JSON of the league keys the lines name. */
  readonly leagueKeys: SharedArrayBuffer;
}

const FIELDS = 4;

/** The inputs planned in this thread: the latest one only, so memory does not grow with the inputs planned. */
let latest: { path: string; share: SharedNdjson } | undefined;

export function identityOf(info: Pick<Stats, 'size' | 'mtimeMs' | 'ino'>): string {
  return `${info.size}:${info.mtimeMs}:${info.ino}`;
}

function currentIdentity(path: string): string | null {
  try {
    return identityOf(statSync(path));
  } catch {
    return null;
  }
}

/** Puts an indexed file in shared memory and keeps it as the one `fileSource()` hands out for `path`. */
export function shareNdjson(path: string, identity: string, bytes: Buffer, lines: readonly NdjsonLine[]): void {
  if (!(bytes.buffer instanceof SharedArrayBuffer) || bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength) return;
  const keys: string[] = [];
  const keyIndex = new Map<string, number>();
  const index = new Float64Array(new SharedArrayBuffer(lines.length * FIELDS * Float64Array.BYTES_PER_ELEMENT));
  lines.forEach((line, i) => {
    let key = -1;
    if (line.leagueKey !== null) {
      key = keyIndex.get(line.leagueKey) ?? -1;
      if (key < 0) {
        key = keys.push(line.leagueKey) - 1;
        keyIndex.set(line.leagueKey, key);
      }
    }
    index.set([line.start, line.end, line.lineNumber, key], i * FIELDS);
  });
  const keyText = Buffer.from(JSON.stringify(keys));
  const leagueKeys = new SharedArrayBuffer(keyText.length);
  keyText.copy(Buffer.from(leagueKeys));
  latest = { path, share: { identity, bytes: bytes.buffer, lines: index.buffer as SharedArrayBuffer, leagueKeys } };
}

/** The shared copy of `path` planned in this thread, if the file has not changed since. */
export function plannedShare(path: string): SharedNdjson | undefined {
  if (latest?.path !== path) return undefined;
  return currentIdentity(path) === latest.share.identity ? latest.share : undefined;
}

export function isSharedNdjson(value: unknown): value is SharedNdjson {
  if (typeof value !== 'object' || value === null) return false;
  const share = value as Partial<SharedNdjson>;
  return typeof share.identity === 'string' && share.bytes instanceof SharedArrayBuffer
    && share.lines instanceof SharedArrayBuffer && share.leagueKeys instanceof SharedArrayBuffer;
}

/** The lines of a shared copy of `path`, or null when the file is no longer the one that was shared. */
export function linesOfShare(path: string, share: SharedNdjson): NdjsonLine[] | null {
  if (currentIdentity(path) !== share.identity) return null;
  const bytes = Buffer.from(share.bytes);
  const keys = JSON.parse(Buffer.from(share.leagueKeys).toString('utf8')) as string[];
  const index = new Float64Array(share.lines);
  const lines: NdjsonLine[] = [];
  for (let i = 0; i < index.length; i += FIELDS) {
    const key = index[i + 3]!;
    lines.push({ kind: 'ndjson-line', leagueKey: key < 0 ? null : keys[key]!, bytes, start: index[i]!, end: index[i + 1]!, lineNumber: index[i + 2]! });
  }
  return lines;
}

/** Reads a whole file into shared memory. */
export async function readIntoSharedMemory(path: string, size: number): Promise<Buffer> {
  const { open } = await import('node:fs/promises');
  const handle = await open(path, 'r');
  try {
    const bytes = Buffer.from(new SharedArrayBuffer(size));
    for (let offset = 0; offset < size;) {
      const { bytesRead } = await handle.read(bytes, offset, size - offset, offset);
      // The file shrank since its size was read: what is there is the file.
      if (bytesRead === 0) return bytes.subarray(0, offset);
      offset += bytesRead;
    }
    return bytes;
  } finally {
    await handle.close();
  }
}
