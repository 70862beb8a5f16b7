/**
 * The WAL index (`-shm` file) header, read as a plain file: how many frames the WAL holds, how
 * many a checkpoint has copied into the database, and the five read marks (the WAL frame each
 * reader slot's snapshot ends at). With the read locks from /proc/locks (which slot each
 * reader holds), this says which reader keeps a checkpoint from finishing, and by how many
 * frames, without running a checkpoint.
 *
 * Layout (SQLite wal.c, native byte order; format 3007000):
 *   0   WalIndexHdr copy 1 (48 bytes): iVersion u32 @0, iChange u32 @8, isInit u8 @12,
 *       bigEndCksum u8 @13, szPage u16 @14, mxFrame u32 @16, nPage u32 @20, ...
 *   48  WalIndexHdr copy 2 (identical when no writer is mid-update)
 *   96  WalCkptInfo: nBackfill u32 @96, aReadMark[5] u32 @100..119, lock bytes @120..127,
 *       nBackfillAttempted u32 @128
 * A read mark of 0xffffffff is an unused slot. Slot 0 means "reading the database file only"
 * and, held, blocks every backfill.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';

export const WAL_INDEX_VERSION = 3007000;
export const READMARK_NOT_USED = 0xffffffff;

export interface WalIndexHeader {
  /** Frames in the WAL (the last committed frame). */
  mxFrame: number;
  /** Frames already copied into the database by checkpoints. */
  nBackfill: number;
  /** Frames a checkpoint has tried to copy. */
  nBackfillAttempted: number;
  /** The snapshot end of each reader slot (null for an unused slot). */
  readMarks: Array<number | null>;
  /** Page size in bytes. */
  pageSize: number;
  /** Pages in the database as of the last commit. */
  pages: number;
}

/** Reads of a header caught mid-update (its two copies differ) before giving up. */
const HEADER_READS = 3;

/**
 * Reads the header of `<database>-shm`; null when there is none, it is too short, it is not a
 * WAL index, or a writer kept updating it through every read.
 */
export function readWalIndex(databasePath: string): WalIndexHeader | null {
  let fd: number;
  try {
    fd = openSync(`${databasePath}-shm`, 'r');
  } catch {
    return null;
  }
  try {
    const buffer = Buffer.alloc(136);
    // A writer updates copy 2, then copy 1 (wal.c walIndexWriteHdr): copies that differ were
    // read in between, and SQLite's own readers then read again too.
    let consistent = false;
    for (let read = 0; read < HEADER_READS && !consistent; read++) {
      if (readSync(fd, buffer, 0, 136, 0) < 136) return null;
      consistent = buffer.subarray(0, 48).equals(buffer.subarray(48, 96));
    }
    if (!consistent) return null;
    const little = endianness() === 'LE';
    const u32 = (offset: number): number => (little ? buffer.readUInt32LE(offset) : buffer.readUInt32BE(offset));
    const u16 = (offset: number): number => (little ? buffer.readUInt16LE(offset) : buffer.readUInt16BE(offset));
    if (u32(0) !== WAL_INDEX_VERSION || buffer[12] !== 1) return null;
    const rawPage = u16(14);
    const readMarks: Array<number | null> = [];
    for (let slot = 0; slot < 5; slot++) {
      const mark = u32(100 + slot * 4);
      readMarks.push(mark === READMARK_NOT_USED ? null : mark);
    }
    return {
      mxFrame: u32(16),
      nBackfill: u32(96),
      nBackfillAttempted: u32(128),
      readMarks,
      // 65536 does not fit in a u16: SQLite stores it as 1.
      pageSize: rawPage === 1 ? 65536 : rawPage,
      pages: u32(20),
    };
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/**
 * Bytes of the WAL that no checkpoint has copied into the database yet: what a growing WAL
 * means. The -wal file itself may be far larger and hold nothing to copy: SQLite writes a WAL
 * that started over from the file's start, and only a connection with `journal_size_limit`
 * set cuts the file when it starts the WAL over (a legacy script's, by default, never does).
 */
export function uncheckpointedBytes(header: WalIndexHeader): number {
  return Math.max(0, header.mxFrame - header.nBackfill) * (header.pageSize + 24);
}

/**
 * The bytes of a `-wal` file of `walFileBytes` not yet checkpointed, as `header` says: 0 without
 * a file, null without a header (the index could not be read).
 */
export function walNotCheckpointed(header: WalIndexHeader | null, walFileBytes: number): number | null {
  if (walFileBytes === 0) return 0;
  return header === null ? null : Math.min(walFileBytes, uncheckpointedBytes(header));
}

/** The same, reading `<database>-shm` only when there is a WAL file to judge. */
export function readWalNotCheckpointed(databasePath: string, walFileBytes: number): number | null {
  return walNotCheckpointed(walFileBytes === 0 ? null : readWalIndex(databasePath), walFileBytes);
}

/**
 * The frames a reader holding slot `slot` keeps a checkpoint from copying: for slot 0 (reading
 * the database file only) every frame not yet copied; for the others, the frames after its
 * snapshot. 0 when it pins nothing.
 */
export function pinnedFrames(header: WalIndexHeader, slot: number): number {
  if (slot === 0) return Math.max(0, header.mxFrame - header.nBackfill);
  const mark = header.readMarks[slot];
  if (mark === null || mark === undefined) return 0;
  return Math.max(0, header.mxFrame - Math.max(mark, header.nBackfill));
}
