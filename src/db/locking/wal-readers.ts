/**
 * Which other processes hold the WAL back. A reader in a read transaction holds a read lock on
 * one of the five read-mark slots of the -shm file; which slot comes from /proc/locks, where
 * that slot's snapshot ends from the WAL index header. A notebook's old snapshot holds back more
 * than a dashboard's fresh one, so it comes first and is the one named. Slot 0 counts too: its
 * reader reads the database file itself, which no checkpoint may overwrite under it.
 */
import { pinnedFrames, readWalIndex } from '../doctor/wal-index.js';
import { findLockHolders } from './lock-holders.js';

export interface WalReader {
  pid: number;
  command: string;
}

/** Other processes in a read transaction on `path`, the one that holds back the most frames first. */
export function walReaders(path: string): WalReader[] {
  const header = readWalIndex(path);
  const best = new Map<number, { reader: WalReader; frames: number }>();
  for (const holder of findLockHolders(path)) {
    if (holder.self || holder.file !== 'shm' || holder.type !== 'READ') continue;
    const end = Math.min(holder.end ?? 127, 127);
    for (let byte = Math.max(holder.start, 123); byte <= end; byte++) {
      const frames = header === null ? 0 : pinnedFrames(header, byte - 123);
      const known = best.get(holder.pid);
      if (!known || frames > known.frames) best.set(holder.pid, { reader: { pid: holder.pid, command: holder.command }, frames });
    }
  }
  return [...best.values()].sort((a, b) => b.frames - a.frames).map((entry) => entry.reader);
}
