/** Yahoo's keys: the league a transaction or team key belongs to, and `renew` references. */

/** `403.l.17457.tr.12`, `396.l.49770.pt.1`, `257.l.193.w.c.2_6390` -> the league key before the marker. */
const TRANSACTION_KEY = /^([^.]+\.l\.[^.]+)\.(?:tr|pt|w\.c)\.[^.]/;
/** `411.l.1239.t.1` -> `411.l.1239`. */
const TEAM_KEY = /^([^.]+\.l\.[^.]+)\.t\.[^.]+$/;
/** `396_5194` (the form of `renew`/`renewed`) -> game key and league id. */
const RENEW_REFERENCE = /^([^_.]+)_([^_.]+)$/;

export function leagueKeyOfTransactionKey(transactionKey: string): string | null {
  return TRANSACTION_KEY.exec(transactionKey)?.[1] ?? null;
}

export function leagueKeyOfTeamKey(teamKey: string): string | null {
  return TEAM_KEY.exec(teamKey)?.[1] ?? null;
}

/** Turns a `renew`/`renewed` reference (`396_5194`) into a league key (`396.l.5194`); null for anything else. */
export function leagueKeyFromRenew(reference: string): string | null {
  const match = RENEW_REFERENCE.exec(reference);
  return match ? `${match[1]}.l.${match[2]}` : null;
}
