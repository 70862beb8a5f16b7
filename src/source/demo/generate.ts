/**
 * The demo league generator: pure functions of (seed, league id, season). A league has 10 to
 * 14 teams and a pool of a few hundred players (ids stable across its seasons); a season is a
 * chronological log of transactions played out on real rosters, so a drop always drops a
 * player the team holds and an add always adds a free agent.
 */
import type { RejectedRecord, TransactionRow } from '../../model/index.js';
import { FIRST_NAMES, LAST_NAMES, TEAM_NOUNS, TEAM_PREFIXES } from './names.js';
import { createRandom, hashString, mix32 } from './prng.js';
import type { Random } from './prng.js';
import type { Sport } from './game-keys.js';

/** Reason given for a commissioner move, which names no player and so yields no row: the Yahoo parser's words. */
function commishReason(transactionKey: string): string {
  return `commish transaction ${transactionKey} moves no players`;
}

export interface DemoLeague {
  teamNames: string[];
  /** Player ids as Yahoo gives them (decimal strings), parallel to `playerNames`. */
  playerIds: string[];
  playerNames: string[];
}

/**
 * One season of one league, oldest transaction first. The rows of transaction `i` are
 * `rows[rowStart[i] .. rowStart[i + 1])`; a commissioner move has none and one entry in
 * `rejected`.
 */
export interface DemoSeason {
  transactionCount: number;
  rows: TransactionRow[];
  rowStart: Int32Array;
  rejected: Map<number, RejectedRecord>;
}

export interface SeasonSpec {
  seedHash: number;
  leagueId: string;
  sport: Sport;
  season: number;
  /** The season's league key, `{game_key}.l.{league_id}`. */
  leagueKey: string;
  minTransactions: number;
  maxTransactions: number;
}

const POOL_MIN = 450;
const POOL_MAX = 560;
const PLAYER_ID_MIN = 2000;
const PLAYER_ID_SPAN = 40_000;
const DRAFTED_PER_TEAM = 13;
/** Adds stop at this roster size, drops at DROP_FLOOR; trades keep rosters within TRADE_MIN..TRADE_MAX. */
const ADD_CAP = 22;
const DROP_FLOOR = 9;
const TRADE_MIN = 5;
const TRADE_MAX = 30;
const ROSTER_SLOTS = 32;

/** Cumulative shares of the transaction types (the rest, 7%, are commissioner moves). */
const P_ADD_DROP = 0.36;
const P_ADD = 0.66;
const P_DROP = 0.90;
const P_TRADE = 0.93;
/** Share of transaction ids skipped, as the real API's ids have gaps. */
const P_ID_GAP = 0.05;

/** The player name of a player id: a function of the id alone, so it is the same in every league. */
function playerName(id: number): string {
  const h = mix32(Math.imul(id, 0x9e3779b1) ^ 0x5bd1e995);
  return `${FIRST_NAMES[h % FIRST_NAMES.length]} ${LAST_NAMES[mix32(h) % LAST_NAMES.length]}`;
}

/** The teams and player pool of a league (seeded by seed and league id). */
export function generateLeague(seedHash: number, leagueId: string): DemoLeague {
  const random = createRandom(seedHash, hashString(leagueId), 0x1ea6);
  const teamCount = 10 + Math.floor(random() * 5);
  const teamNames: string[] = [];
  const usedNames = new Set<string>();
  while (teamNames.length < teamCount) {
    const prefix = TEAM_PREFIXES[Math.floor(random() * TEAM_PREFIXES.length)];
    const noun = TEAM_NOUNS[Math.floor(random() * TEAM_NOUNS.length)];
    const name = `${prefix} ${noun}`;
    if (usedNames.has(name)) continue;
    usedNames.add(name);
    teamNames.push(name);
  }
  const poolSize = POOL_MIN + Math.floor(random() * (POOL_MAX - POOL_MIN + 1));
  const ids = new Set<number>();
  while (ids.size < poolSize) ids.add(PLAYER_ID_MIN + Math.floor(random() * PLAYER_ID_SPAN));
  const sorted = [...ids].sort((a, b) => a - b);
  return {
    teamNames,
    playerIds: sorted.map(String),
    playerNames: sorted.map(playerName),
  };
}

/** Unix seconds [start, end) of a season's transaction window: NFL late August to early January, NHL October to April. */
function seasonWindow(sport: Sport, season: number): [number, number] {
  return sport === 'nfl'
    ? [Date.UTC(season, 7, 26, 15) / 1000, Date.UTC(season + 1, 0, 7, 5) / 1000]
    : [Date.UTC(season, 9, 1, 15) / 1000, Date.UTC(season + 1, 3, 20, 5) / 1000];
}

/** Strictly increasing timestamps spread over the window (exponential gaps, scaled to fit). */
function timestamps(random: Random, count: number, [start, end]: [number, number]): Float64Array {
  const out = new Float64Array(count);
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const gap = -Math.log(1 - random());
    sum += gap;
    out[i] = sum;
  }
  // Leave one second per transaction so that floor() keeps them strictly increasing.
  const scale = sum > 0 ? Math.max(0, end - start - count - 1) / sum : 0;
  for (let i = 0; i < count; i++) out[i] = start + i + Math.floor(out[i]! * scale);
  return out;
}

/** Generates one season. Deterministic in (seed, league id, season, transaction range). */
export function generateSeason(league: DemoLeague, spec: SeasonSpec): DemoSeason {
  const random = createRandom(spec.seedHash, hashString(spec.leagueId), spec.season);
  const { minTransactions: min, maxTransactions: max, leagueKey } = spec;
  const count = min + Math.floor(random() * (max - min + 1));
  const { teamNames, playerIds, playerNames } = league;
  const teamCount = teamNames.length;
  const teamKeys = teamNames.map((_, t) => `${leagueKey}.t.${t + 1}`);

  // Rosters after the draft (which is not a transaction): a shuffled pool dealt round-robin.
  const poolSize = playerIds.length;
  const free = new Int32Array(poolSize);
  for (let i = 0; i < poolSize; i++) free[i] = i;
  for (let i = poolSize - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = free[i]!;
    free[i] = free[j]!;
    free[j] = swap;
  }
  const roster = new Int32Array(teamCount * ROSTER_SLOTS);
  const size = new Int32Array(teamCount);
  let freeCount = poolSize;
  for (let round = 0; round < DRAFTED_PER_TEAM; round++) {
    for (let t = 0; t < teamCount; t++) roster[t * ROSTER_SLOTS + size[t]!++] = free[--freeCount]!;
  }

  const takeFree = (): number => {
    const i = Math.floor(random() * freeCount);
    const player = free[i]!;
    free[i] = free[--freeCount]!;
    return player;
  };
  const putFree = (player: number): void => {
    free[freeCount++] = player;
  };
  const takeFromTeam = (t: number): number => {
    const base = t * ROSTER_SLOTS;
    const i = base + Math.floor(random() * size[t]!);
    const player = roster[i]!;
    roster[i] = roster[base + --size[t]!]!;
    return player;
  };
  const putOnTeam = (t: number, player: number): void => {
    roster[t * ROSTER_SLOTS + size[t]!++] = player;
  };
  /** A random team whose roster size passes the test, or -1. */
  const pickTeam = (minSize: number, maxSize: number): number => {
    const first = Math.floor(random() * teamCount);
    for (let k = 0; k < teamCount; k++) {
      const t = (first + k) % teamCount;
      if (size[t]! >= minSize && size[t]! <= maxSize) return t;
    }
    return -1;
  };

  const times = timestamps(random, count, seasonWindow(spec.sport, spec.season));
  const rows: TransactionRow[] = [];
  const rowStart = new Int32Array(count + 1);
  const rejected = new Map<number, RejectedRecord>();
  let transactionId = 0;

  const row = (
    transactionKey: string, id: number, type: string, timestamp: number, player: number,
    source: number, destination: number,
  ): void => {
    rows.push({
      transactionKey,
      transactionId: id,
      type,
      timestamp,
      status: 'successful',
      playerId: playerIds[player]!,
      playerName: playerNames[player]!,
      sourceTeamKey: source < 0 ? null : teamKeys[source]!,
      sourceTeamName: source < 0 ? null : teamNames[source]!,
      destinationTeamKey: destination < 0 ? null : teamKeys[destination]!,
      destinationTeamName: destination < 0 ? null : teamNames[destination]!,
      leagueKey,
    });
  };

  for (let i = 0; i < count; i++) {
    rowStart[i] = rows.length;
    transactionId += random() < P_ID_GAP ? 2 + Math.floor(random() * 3) : 1;
    const id = transactionId;
    const key = `${leagueKey}.tr.${id}`;
    const timestamp = times[i]!;
    const roll = random();

    if (roll >= P_TRADE) {
      rejected.set(i, {
        raw: `{"transaction":[{"transaction_key":"${key}","transaction_id":"${id}","type":"commish","status":"successful","timestamp":"${timestamp}"},[]]}`,
        reason: commishReason(key),
      });
      continue;
    }

    if (roll >= P_DROP) {
      const a = Math.floor(random() * teamCount);
      const b = (a + 1 + Math.floor(random() * (teamCount - 1))) % teamCount;
      const sizeRoll = random();
      const players = sizeRoll < 0.5 ? 2 : sizeRoll < 0.7 ? 3 : sizeRoll < 0.85 ? 4 : sizeRoll < 0.94 ? 5 : 6;
      let fromA = 1 + Math.floor(random() * (players - 1));
      let fromB = players - fromA;
      const afterA = size[a]! - fromA + fromB;
      const afterB = size[b]! - fromB + fromA;
      if (fromA > size[a]! || fromB > size[b]! || afterA < TRADE_MIN || afterA > TRADE_MAX
        || afterB < TRADE_MIN || afterB > TRADE_MAX) {
        fromA = 1;
        fromB = 1;
      }
      const movedA: number[] = [];
      const movedB: number[] = [];
      for (let k = 0; k < fromA; k++) movedA.push(takeFromTeam(a));
      for (let k = 0; k < fromB; k++) movedB.push(takeFromTeam(b));
      for (const player of movedA) {
        putOnTeam(b, player);
        row(key, id, 'trade', timestamp, player, a, b);
      }
      for (const player of movedB) {
        putOnTeam(a, player);
        row(key, id, 'trade', timestamp, player, b, a);
      }
      continue;
    }

    // add, drop or add/drop, falling back to another of the three when rosters forbid it.
    let type = roll < P_ADD_DROP ? 'add/drop' : roll < P_ADD ? 'add' : 'drop';
    let team = -1;
    if (type === 'add/drop' && freeCount === 0) type = 'drop';
    if (type === 'add') {
      team = freeCount > 0 ? pickTeam(0, ADD_CAP - 1) : -1;
      if (team < 0) type = freeCount > 0 ? 'add/drop' : 'drop';
    }
    if (type === 'drop') {
      team = pickTeam(DROP_FLOOR + 1, ROSTER_SLOTS);
      if (team < 0) type = 'add/drop';
    }
    if (type === 'add/drop') team = pickTeam(1, ROSTER_SLOTS);

    if (type === 'add') {
      const player = takeFree();
      putOnTeam(team, player);
      row(key, id, type, timestamp, player, -1, team);
    } else if (type === 'drop') {
      const player = takeFromTeam(team);
      putFree(player);
      row(key, id, type, timestamp, player, team, -1);
    } else {
      const added = takeFree();
      const dropped = takeFromTeam(team);
      putOnTeam(team, added);
      putFree(dropped);
      row(key, id, type, timestamp, added, -1, team);
      row(key, id, type, timestamp, dropped, team, -1);
    }
  }
  rowStart[count] = rows.length;
  return { transactionCount: count, rows, rowStart, rejected };
}
