/**
 * The package's version, read from its package.json at run time: the file sits two folders up
 * from src/util in the sources and three from dist/src/util in the build, so it is looked for
 * upwards rather than at a fixed path. `--version` prints it; a distributed fetch task carries it.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'league-backfill';

export function packageVersion(from: string = fileURLToPath(import.meta.url)): string {
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
