/**
 * No token or secret is ever written to Redis: the source a task carries is stripped of its
 * credentials, and each worker reads its own from its environment (YAHOO_*, docs/yahoo.md).
 */
import { BackfillError } from '../errors.js';
import type { SourceSpec } from '../source/types.js';

/** Options of a source that hold credentials: never sent. */
export const CREDENTIAL_OPTIONS: readonly string[] = ['accessToken', 'clientId', 'clientSecret', 'refreshToken'];

/** Values shorter than this are not searched for (they would match ordinary text). */
const MIN_SECRET_LENGTH = 6;

export interface StrippedSource {
  /** The source as it may be written to Redis. */
  spec: SourceSpec;
  /** The credential values taken out, to check that none is written anyway. */
  secrets: string[];
}

/** The source without its credentials (only yahoo has any; demo and file pass unchanged). */
export function stripCredentials(source: SourceSpec): StrippedSource {
  const options: Record<string, unknown> = { ...source.options };
  const secrets: string[] = [];
  for (const name of CREDENTIAL_OPTIONS) {
    const value = options[name];
    if (typeof value === 'string' && value.length >= MIN_SECRET_LENGTH) secrets.push(value);
    delete options[name];
  }
  return { spec: { kind: source.kind, options } as SourceSpec, secrets };
}

/**
 * Throws before anything is sent when the text to be written holds one of the secrets (in
 * another option, say): the last line of defence, cheap next to a network round trip.
 */
export function assertNoSecrets(text: string, secrets: readonly string[]): void {
  for (const secret of secrets) {
    if (text.includes(secret) || text.includes(JSON.stringify(secret).slice(1, -1))) {
      throw new BackfillError('ERR_INTERNAL',
        'A fetch task still held a credential after the credentials were removed; nothing was written to Redis. This is a bug: please report it.');
    }
  }
}
