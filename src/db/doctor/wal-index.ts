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

/** Reads the header of `<database>-shm`; null when there is none, it is too short, or it is not a WAL index. */
export function readWalIndex(databasePath: string): WalIndexHeader | null {
  let fd: number;
  try {
    fd = openSync(`${databasePath}-shm`, 'r');
  } catch {
    return null;
  }
  try {
    const buffer = Buffer.alloc(136);
    if (readSync(fd, buffer, 0, 136, 0) < 136) return null;
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
