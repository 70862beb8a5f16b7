import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openDatabase } from '../../src/db/open.js';
import { DEFAULT_FLAGS } from '../../src/flags/index.js';

const HELPERS = fileURLToPath(new URL('.', import.meta.url));

/**
 * A database with the real schema (as a backfill leaves it: WAL, migrated) and `rows` rows in
 * `transactions`, written in one transaction. Closed on return, so the WAL is checkpointed
 * into the file.
 */
export function seedTransactions(path: string, rows: number, options: { journalMode?: 'wal' | 'delete' } = {}): void {
  const { db } = openDatabase({ path, flags: DEFAULT_FLAGS });
  try {
    const insert = db.prepare(`INSERT INTO transactions (transaction_key, transaction_id, type, timestamp, status, player_id, player_name,
      source_team_key, source_team_name, destination_team_key, destination_team_name, league_key, job_id)
      VALUES (?, ?, 'add/drop', ?, 'successful', ?, ?, '423.l.1.t.1', 'Team One', '423.l.1.t.2', 'Team Two', '423.l.1', 'seed')`);
    db.transaction(() => {
      for (let i = 0; i < rows; i++) insert.run(`423.l.1.tr.${i}`, i, 1_600_000_000 + i, `423.p.${i % 997}`, `Player ${i % 997}`);
    })();
    if (options.journalMode === 'delete') db.pragma('journal_mode = DELETE');
  } finally {
    db.close();
  }
}

/** Runs `sql` on its own connection and closes it (the WAL is checkpointed on close). */
export function execute(path: string, sql: string): void {
  const db = new Database(path);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

/** Sorted `transaction_key|player_id` of every row. */
export function transactionKeys(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare("SELECT transaction_key || '|' || player_id FROM transactions ORDER BY 1").pluck().all() as string[];
  } finally {
    db.close();
  }
}

export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export interface ContinuousWriterReport {
  transactions: number;
  rows: number;
  lockErrors: number;
  maxCommitMs: number;
}

export interface ContinuousWriter {
  /** Resolves once the writer has committed its first transaction. */
  writing: Promise<void>;
  /** Stops the writer (SIGTERM) and resolves with what it wrote. */
  stop(): Promise<ContinuousWriterReport>;
}

/** Starts a second process that commits small transactions back to back for at most `maxMs`. */
export function startContinuousWriter(path: string, maxMs: number, rowsPerTransaction = 5): ContinuousWriter {
  const child = spawn(process.execPath, [`${HELPERS}continuous-writer.mjs`, path, String(maxMs), String(rowsPerTransaction)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  const report = new Promise<ContinuousWriterReport>((resolve, reject) => {
    child.on('close', (code) => {
      const line = stdout.split('\n').find((candidate) => candidate.startsWith('{'));
      if (code !== 0 || line === undefined) reject(new Error(`continuous writer exited ${code}: ${stderr}`));
      else resolve(JSON.parse(line) as ContinuousWriterReport);
    });
  });
  const writing = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.includes('writing')) resolve();
    });
    report.catch(reject);
  });
  return {
    writing,
    stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return report;
    },
  };
}
