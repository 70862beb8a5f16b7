/**
 * The recommendation for one contention mix, from the measured cells only. A profile that lost
 * rows, made a neighbour fail, kept the neighbour writer waiting past 1 s for the lock (in the median run), or whose
 * pragmas did not take, is never
 * recommended. Among the rest: the most rows committed, then the fewest lock errors reaching
 * the caller, then the mix's deciding figure; and a difference in that figure no larger than
 * the run's noise is said to be noise, not turned into a pick.
 */
import { DEFAULT_WORKLOAD, type WorkloadName } from '../../flags/index.js';
import type { WorkloadCell } from './cells.js';
import { WORKLOAD_FIGURES, type ContentionMix, type WorkloadFigureName } from './mixes.js';

export interface WorkloadVerdict {
  mix: string;
  /** The profile the figures support, or null: none qualifies, or the difference is within the noise. */
  recommended: WorkloadName | null;
  /** Why, in one sentence or two, with the figures. */
  recommendation: string;
  /** What decided: a count (`rows` committed, `lockErrors`), the mix's figure, or nothing (`none`). */
  decidedBy: 'rows' | 'lockErrors' | WorkloadFigureName | 'none';
  /** The best profile by the deciding figure, and the one it was held against. */
  best: WorkloadName | null;
  against: WorkloadName | null;
  /** How much better `best` was than `against` in the deciding figure (0.12 = 12 %), when a figure decided. */
  margin: number | null;
  /** The noise used for the deciding figure (0.1 = 10 %). */
  noise: number;
  withinNoise: boolean;
}

const percent = (value: number): string => `${Math.round(value * 100)} %`;

/** How much better `a` is than `b` in a figure, as a fraction of `b` (negative when worse). */
export function advantage(figure: WorkloadFigureName, a: number, b: number): number {
  if (b === 0) return a === 0 ? 0 : WORKLOAD_FIGURES[figure].higherIsBetter ? 1 : -1;
  return WORKLOAD_FIGURES[figure].higherIsBetter ? a / b - 1 : (b - a) / b;
}

function reasonsAgainst(cell: WorkloadCell): string[] {
  return [
    ...(cell.rowsLost > 0 ? [`${cell.rowsLost} rows lost`] : []),
    ...cell.problems,
    ...cell.pragmaProblems,
  ];
}

export function recommendWorkload(mix: ContentionMix, cells: readonly WorkloadCell[], noise: number): WorkloadVerdict {
  const base = { mix: mix.name, noise, best: null, against: null, margin: null, withinNoise: false } as const;
  const figure = mix.decidingFigure;
  const { label, format } = WORKLOAD_FIGURES[figure];
  if (cells.length === 0) return { ...base, recommended: null, decidedBy: 'none', recommendation: 'no profile ran' };
  const eligible = cells.filter((cell) => reasonsAgainst(cell).length === 0);
  if (eligible.length === 0) {
    return {
      ...base,
      recommended: null,
      decidedBy: 'none',
      recommendation: `none: every profile lost rows, made a neighbour fail, kept the neighbour writer waiting past 1 s in the median run, or did not get its pragmas (${cells.map((cell) => `${cell.profile}: ${reasonsAgainst(cell).join('; ')}`).join('. ')})`,
    };
  }
  const excluded = cells.filter((cell) => !eligible.includes(cell));
  const excludedNote = excluded.length > 0 ? ` Not considered: ${excluded.map((cell) => `${cell.profile} (${reasonsAgainst(cell).join('; ')})`).join(', ')}.` : '';
  if (eligible.length === 1) {
    const only = eligible[0]!;
    return {
      ...base,
      recommended: only.profile,
      decidedBy: 'none',
      best: only.profile,
      recommendation: cells.length === 1
        ? `${only.profile}: the only profile measured, so nothing to compare it with (${label} ${format(only[figure])})`
        : `${only.profile}: the only profile with no rows lost, no neighbour failing, the neighbour writer's longest wait under 1 s in the median run, and its pragmas in force.${excludedNote}`,
    };
  }
  // Counted, not timed: a difference in rows committed or lock errors is never noise.
  const byCounts = [...eligible].sort((a, b) => b.successRate - a.successRate || a.lockErrors - b.lockErrors);
  const top = byCounts.filter((cell) => cell.successRate === byCounts[0]!.successRate && cell.lockErrors === byCounts[0]!.lockErrors);
  if (top.length === 1) {
    const winner = top[0]!;
    const next = byCounts[1]!;
    const rows = winner.successRate !== next.successRate;
    return {
      ...base,
      recommended: winner.profile,
      decidedBy: rows ? 'rows' : 'lockErrors',
      best: winner.profile,
      against: next.profile,
      recommendation: rows
        ? `${winner.profile}, by rows committed: ${percent(winner.successRate)} of the workload against ${percent(next.successRate)} for ${next.profile} (a count, not noise).${excludedNote}`
        : `${winner.profile}, by lock errors reaching the caller: ${winner.lockErrors} against ${next.lockErrors} for ${next.profile} (a count, not noise).${excludedNote}`,
    };
  }
  const ranked = [...top].sort((a, b) => advantage(figure, b[figure], a[figure]));
  const best = ranked[0]!;
  const reference = best.profile !== DEFAULT_WORKLOAD && top.some((cell) => cell.profile === DEFAULT_WORKLOAD)
    ? top.find((cell) => cell.profile === DEFAULT_WORKLOAD)!
    : ranked[1]!;
  const margin = advantage(figure, best[figure], reference[figure]);
  const second = mix.secondFigure;
  const secondNote = `; ${WORKLOAD_FIGURES[second].label}: ${format2(second, best)} against ${format2(second, reference)}`;
  const versus = `${format(best[figure])} for ${best.profile} against ${format(reference[figure])} for ${reference.profile}`;
  const defaultNote = reference.profile === DEFAULT_WORKLOAD ? ' (the default)' : '';
  const shared = { ...base, best: best.profile, against: reference.profile, margin: Number(margin.toFixed(3)), decidedBy: figure } as const;
  if (margin > noise) {
    return {
      ...shared,
      recommended: best.profile,
      recommendation: `${best.profile}, by ${label}: ${versus}${defaultNote}, ${percent(margin)} better, beyond this run's noise of ${percent(noise)}${secondNote}.${excludedNote}`,
    };
  }
  return {
    ...shared,
    withinNoise: true,
    recommended: null,
    recommendation: `no profile is measurably better under this mix: by ${label}, ${versus}${defaultNote}, ${percent(Math.max(0, margin))} apart, ` +
      `within this run's noise of ${percent(noise)}${secondNote}. ${top.some((cell) => cell.profile === DEFAULT_WORKLOAD) ? `Keep ${DEFAULT_WORKLOAD} (the default)` : 'Either will do'} unless more runs (--runs) separate them.${excludedNote}`,
  };
}

function format2(figure: WorkloadFigureName, cell: WorkloadCell): string {
  return WORKLOAD_FIGURES[figure].format(cell[figure]);
}
