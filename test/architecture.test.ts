/**
 * The house plan, checked: every import in src/ runs down the layers, and the CLI is a client
 * of the package's public entry only. See docs/architecture.md.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/**
 * The layers, lowest first; a file may import its own layer's folder and any lower layer.
 * This is the order cli -> index -> engine -> writer, queue, workers, distributed, server,
 * loadtest -> db, source, flags -> model, util, errors, with the groups that sit on each other
 * given ranks of their own: connections apply the flags (db on flags), the Redis transport
 * carries the fetch pool's tasks (distributed on workers), and the load test drives whole
 * engines (loadtest on engine). Peers of one rank do not import each other.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['errors', 'logger', 'util', 'model'],
  ['flags'],
  ['db', 'source'],
  ['writer', 'queue', 'workers', 'server'],
  ['distributed'],
  ['engine'],
  ['loadtest'],
  ['index'],
  ['cli'],
];

/**
 * Known violations, each with the change that removes it. An entry that no longer matches an
 * import fails the test too, so the list only shrinks.
 */
export const ALLOWED: readonly { from: string; to: string; why: string }[] = [];

/** A file's layer: its first folder under src/, or its own name for files at the top. */
export function layerOf(file: string): string {
  const [first, ...rest] = file.split('/');
  return rest.length === 0 ? first!.replace(/\.[jt]s$/, '') : first!;
}

function rankOf(layer: string): number {
  return LAYERS.findIndex((group) => group.includes(layer));
}

export interface ImportEdge {
  /** The importing file, relative to src/, with `/`. */
  from: string;
  /** The imported file, relative to src/, as written (`.js`) but resolved. */
  to: string;
  specifier: string;
}

/** Every relative `import`, `export ... from` and literal dynamic `import()` of one file. */
export function importsOf(file: string, text: string): ImportEdge[] {
  const info = ts.preProcessFile(text, true, true);
  return info.importedFiles
    .map((imported) => imported.fileName)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => ({ from: file, to: posix.normalize(posix.join(posix.dirname(file), specifier)), specifier }));
}

/** What is wrong with one import, or null when it runs the right way. */
export function violationOf(edge: ImportEdge): string | null {
  const fromLayer = layerOf(edge.from);
  const toLayer = layerOf(edge.to);
  if (fromLayer === 'cli') {
    if (edge.from.startsWith('cli/commands/') && (edge.to === 'cli/main.js' || edge.to.startsWith('cli/commands/'))) {
      return `${edge.from} imports '${edge.specifier}' (${edge.to}): commands import neither main.ts nor each other; move what they share into a CLI-local file (as exit-codes.ts) or the library`;
    }
    if (toLayer === 'cli' || edge.to === 'index.js') return null;
    return `${edge.from} imports '${edge.specifier}' (${edge.to}): a CLI file may import only the package entry ('../index.js' or '../../index.js') and files under src/cli/; export what it needs from src/index.ts`;
  }
  if (fromLayer === toLayer) return null;
  const fromRank = rankOf(fromLayer);
  const toRank = rankOf(toLayer);
  if (fromRank < 0) return `${edge.from} is in '${fromLayer}', which has no layer: add it to LAYERS in test/architecture.test.ts and to docs/architecture.md`;
  if (toRank < 0) return `${edge.from} imports ${edge.to}, in '${toLayer}', which has no layer: add it to LAYERS in test/architecture.test.ts and to docs/architecture.md`;
  if (toRank < fromRank) return null;
  const how = toRank === fromRank ? 'a peer of the same rank' : 'a higher layer';
  return `${edge.from} (${fromLayer}) imports '${edge.specifier}' (${toLayer}), ${how}: imports run ${LAYERS.map((group) => group.join(', ')).reverse().join(' -> ')}; move the shared part down into a lower layer`;
}

/** Every violation of the edges, less the allowed ones; plus allowed entries nothing matches. */
export function checkEdges(edges: readonly ImportEdge[], allowed: typeof ALLOWED = ALLOWED): string[] {
  const problems: string[] = [];
  const used = new Set<number>();
  for (const edge of edges) {
    const problem = violationOf(edge);
    if (!problem) continue;
    const index = allowed.findIndex((entry) => entry.from === edge.from && entry.to === edge.to);
    if (index >= 0) used.add(index);
    else problems.push(problem);
  }
  allowed.forEach((entry, index) => {
    if (!used.has(index)) problems.push(`ALLOWED lists ${entry.from} -> ${entry.to}, which is no longer a violation: remove the entry`);
  });
  return problems;
}

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

function projectEdges(): ImportEdge[] {
  return sourceFiles(SRC).flatMap((path) => importsOf(relative(SRC, path).split(sep).join('/'), readFileSync(path, 'utf8')));
}

describe('the house plan', () => {
  it('every import in src/ runs down the layers, and the CLI imports only the package entry', () => {
    const edges = projectEdges();
    expect(edges.length).toBeGreaterThan(100);
    expect(checkEdges(edges)).toEqual([]);
  });

  it('every file of src/ belongs to a layer', () => {
    const layers = new Set(sourceFiles(SRC).map((path) => layerOf(relative(SRC, path).split(sep).join('/'))));
    expect([...layers].filter((layer) => rankOf(layer) < 0)).toEqual([]);
  });

  it('reads static imports, re-exports, type imports and literal dynamic imports', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from '../model/b.js';",
      "export { c } from './c/index.js';",
      "export * from '../util/d.js';",
      "const e = await import('../writer/e.js');",
      "import { readFileSync } from 'node:fs';",
    ].join('\n');
    expect(importsOf('db/x.ts', text).map((edge) => edge.to)).toEqual(['db/a.js', 'model/b.js', 'db/c/index.js', 'util/d.js', 'writer/e.js']);
  });

  it('rejects an upward import, a peer import and a CLI import of an internal module, by file and specifier', () => {
    expect(violationOf({ from: 'db/open.ts', to: 'writer/protocol.js', specifier: '../writer/protocol.js' })).toMatch(/^db\/open\.ts \(db\) imports '\.\.\/writer\/protocol\.js' \(writer\), a higher layer/);
    expect(violationOf({ from: 'queue/job.ts', to: 'writer/protocol.js', specifier: '../writer/protocol.js' })).toMatch(/a peer of the same rank/);
    expect(violationOf({ from: 'cli/commands/jobs.ts', to: 'db/schema.js', specifier: '../../db/schema.js' })).toMatch(/a CLI file may import only the package entry/);
    expect(violationOf({ from: 'cli/commands/jobs.ts', to: 'index.js', specifier: '../../index.js' })).toBeNull();
    expect(violationOf({ from: 'cli/commands/jobs.ts', to: 'cli/main.js', specifier: '../main.js' })).toMatch(/commands import neither main\.ts nor each other/);
    expect(violationOf({ from: 'cli/commands/maintain.ts', to: 'cli/commands/backup.js', specifier: './backup.js' })).toMatch(/commands import neither main\.ts nor each other/);
    expect(violationOf({ from: 'cli/commands/jobs.ts', to: 'cli/output.js', specifier: '../output.js' })).toBeNull();
    expect(violationOf({ from: 'writer/writer.ts', to: 'db/open.js', specifier: '../db/open.js' })).toBeNull();
    expect(violationOf({ from: 'source/yahoo/source.ts', to: 'util/rate-limiter.js', specifier: '../../util/rate-limiter.js' })).toBeNull();
  });

  it('fails on an allowed entry that no longer matches an import, so the allow-list only shrinks', () => {
    const allowed = [{ from: 'db/gone.ts', to: 'writer/gone.js', why: 'moved' }];
    expect(checkEdges([], allowed)).toEqual(['ALLOWED lists db/gone.ts -> writer/gone.js, which is no longer a violation: remove the entry']);
  });
});
