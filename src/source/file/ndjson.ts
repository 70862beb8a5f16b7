/**
 * NDJSON inputs kept as bytes. Parsed into row objects, a bulk file of 303,719 rows ran a
 * fetch worker out of its heap (256 MB by default), and every worker holds its own copy of the
 * input. So the file stays one Buffer (outside the JavaScript heap) and each line keeps its
 * byte range and its league, which is all that grouping needs; a line is checked and becomes a
 * row when its page is read. Indexing parses each line once but checks nothing else, and is
 * done before the first page (by the planning thread and by each fetch worker), so it is kept
 * to that.
 */
import type { InputRecord } from './records.js';
import { ndjsonLineLeague, readNdjsonLine } from './records.js';

/** A non-blank line of an NDJSON input: where it is, and what grouping needs to know of it. */
export interface NdjsonLine {
  readonly kind: 'ndjson-line';
  readonly leagueKey: string | null;
  readonly bytes: Buffer;
  readonly start: number;
  readonly end: number;
  /** 1-based, counting blank lines, for the reasons of rejected lines. */
  readonly lineNumber: number;
}

/**
 * The non-blank lines of `bytes`, with the league each one's record is filed under
 * (`ndjsonLineLeague`, the same as `readNdjsonLine` gives). Lines end at `\n`, and a `\r` before it is not part of the line
 * (`text.split(/\r?\n/)`'s lines, without building them all at once).
 */
export function indexNdjson(bytes: Buffer): NdjsonLine[] {
  const lines: NdjsonLine[] = [];
  // One string per league, not one per line: 300,000 lines name a few hundred leagues.
  const leagueKeys = new Map<string, string>();
  let lineNumber = 0;
  for (let start = 0; start <= bytes.length;) {
    const newline = bytes.indexOf(0x0a, start);
    const end = newline < 0 ? bytes.length : newline > start && bytes[newline - 1] === 0x0d ? newline - 1 : newline;
    lineNumber++;
    let leagueKey = ndjsonLineLeague(bytes.toString('utf8', start, end));
    if (leagueKey !== undefined) {
      if (leagueKey !== null) {
        const known = leagueKeys.get(leagueKey);
        if (known === undefined) leagueKeys.set(leagueKey, leagueKey);
        else leagueKey = known;
      }
      lines.push({ kind: 'ndjson-line', leagueKey, bytes, start, end, lineNumber });
    }
    if (newline < 0) break;
    start = newline + 1;
  }
  return lines;
}

/** The record of an indexed line, parsed again: a fresh object the caller may change. */
export function readIndexedLine(line: NdjsonLine): InputRecord {
  const record = readNdjsonLine(line.bytes.toString('utf8', line.start, line.end), line.lineNumber);
  // The line was not blank when it was indexed, and the bytes are the same.
  return record!;
}
