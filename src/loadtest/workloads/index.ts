/** `loadtest --workloads`: the workload profiles compared under contention. */
export { planWorkloadRuns, runWorkloadComparison, WORKLOAD_NOISE_FLOOR } from './run.js';
export type { MixNoise, PlannedRun, WorkloadComparisonOptions, WorkloadComparisonReport, WorkloadProgress } from './run.js';
export { CONTENTION_MIX_NAMES, CONTENTION_MIXES, WORKLOAD_FIGURES, mixLeagues } from './mixes.js';
export type { ContentionMix, ContentionMixName, WorkloadFigure, WorkloadFigureName } from './mixes.js';
export { combineRuns, spreadOf } from './cells.js';
export type { WorkloadCell, WorkloadRunFigures } from './cells.js';
export { advantage, recommendWorkload } from './verdict.js';
export type { WorkloadVerdict } from './verdict.js';
export { formatWorkloadTable } from './table.js';
