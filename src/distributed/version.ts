/**
 * The package version a fetch task carries, read from the package's own package.json at run
 * time (two folders up in the sources, three in the build, so it is looked for upwards). A
 * worker serves only tasks of exactly its own version: a task is a contract between the
 * writer and the worker, and a worker of another version may read it differently.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'league-backfill';

function readPackageVersion(from: string): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === PACKAGE_NAME && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // no package.json here, or not ours: keep looking upwards
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

/** This installation's version of league-backfill. */
export const PACKAGE_VERSION: string = readPackageVersion(fileURLToPath(import.meta.url));
