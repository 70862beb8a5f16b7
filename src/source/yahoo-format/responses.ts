/** Whole transactions responses, in every scope (league, leagues, team, teams, transactions). */
import type { ParsedPage } from '../../model/index.js';
import { collectionEntries, field, isCollection, mergeFields, nonEmptyString, reject, shown, subResource } from './json.js';
import { leagueKeyOfTeamKey } from './keys.js';
import { parseTransactionRecord } from './records.js';

/**
 * Parses one transactions response in any of its scopes: `league/{k}/transactions`,
 * `leagues;league_keys=…/transactions` (several leagues), `team/{k}/transactions`,
 * `teams;team_keys=…/transactions` and `transactions;transaction_keys=…`.
 * `leagueKey` is the league the response is about (the first one in a `leagues` response),
 * or null when it names none.
 */
export function parseTransactionsResponse(body: unknown): ParsedPage & { leagueKey: string | null } {
  const page: ParsedPage & { leagueKey: string | null } = { rows: [], rejected: [], recordCount: 0, leagueKey: null };
  const content = field(body, 'fantasy_content');
  for (const scope of findScopes(content)) {
    page.leagueKey ??= scope.leagueKey;
    if (scope.transactions === undefined) continue;
    if (!isCollection(scope.transactions)) {
      page.rejected.push(reject(scope.transactions, `transactions is ${shown(scope.transactions)}, not a collection`));
      continue;
    }
    for (const [, record] of collectionEntries(scope.transactions)) {
      page.recordCount += 1;
      const result = parseTransactionRecord(record, scope.leagueKey);
      page.rows.push(...result.rows);
      page.rejected.push(...result.rejected);
    }
  }
  return page;
}

/** One league or team of a response, with its transactions collection when it has one. */
interface Scope {
  leagueKey: string | null;
  transactions: unknown;
}

/** Finds the transactions collections wherever the URL scope put them (FORMAT.md section 3). */
function findScopes(content: unknown): Scope[] {
  const scopes: Scope[] = [];
  const league = field(content, 'league');
  if (league !== undefined) scopes.push(leagueScope(league));
  for (const [, entry] of collectionEntries(field(content, 'leagues'))) scopes.push(leagueScope(field(entry, 'league')));
  const team = field(content, 'team');
  if (team !== undefined) scopes.push(teamScope(team));
  for (const [, entry] of collectionEntries(field(content, 'teams'))) scopes.push(teamScope(field(entry, 'team')));
  const transactions = field(content, 'transactions');
  if (transactions !== undefined) scopes.push({ leagueKey: null, transactions });
  return scopes;
}

/** A league resource is `[metadata, {sub-resource}, …]`. */
function leagueScope(resource: unknown): Scope {
  if (!Array.isArray(resource)) return { leagueKey: null, transactions: undefined };
  return {
    leagueKey: nonEmptyString(field(mergeFields(resource[0]), 'league_key')),
    transactions: subResource(resource, 'transactions'),
  };
}

/** A team resource is `[[{team_key}, {team_id}, [], …], {sub-resource}, …]`; its league is part of the team key. */
function teamScope(resource: unknown): Scope {
  if (!Array.isArray(resource)) return { leagueKey: null, transactions: undefined };
  const teamKey = nonEmptyString(field(mergeFields(resource[0]), 'team_key'));
  return {
    leagueKey: teamKey === null ? null : leagueKeyOfTeamKey(teamKey),
    transactions: subResource(resource, 'transactions'),
  };
}
