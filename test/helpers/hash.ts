import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * What a folder holds: every entry under it (files, folders, links), by path relative to the
 * folder, with the SHA-256 of each file's bytes and its mode. Two snapshots are equal when no
 * file was created, removed, changed or had its permissions changed.
 */
export type FolderSnapshot = Record<string, string>;

export function snapshotFolder(folder: string): FolderSnapshot {
  const snapshot: FolderSnapshot = {};
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const key = relative(folder, path);
      const stats = lstatSync(path);
      const mode = (stats.mode & 0o7777).toString(8);
      if (stats.isDirectory()) {
        snapshot[`${key}/`] = `dir ${mode}`;
        walk(path);
      } else if (stats.isFile()) {
        snapshot[key] = `file ${mode} ${stats.size} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
      } else {
        snapshot[key] = `other ${mode}`;
      }
    }
  };
  walk(folder);
  return snapshot;
}

/** The entries that differ between two snapshots: created (+), removed (-) or changed (~). */
export function diffSnapshots(before: FolderSnapshot, after: FolderSnapshot): string[] {
  const changes: string[] = [];
  for (const key of Object.keys(after)) {
    if (!(key in before)) changes.push(`+ ${key}`);
    else if (before[key] !== after[key]) changes.push(`~ ${key}`);
  }
  for (const key of Object.keys(before)) if (!(key in after)) changes.push(`- ${key}`);
  return changes.sort();
}
