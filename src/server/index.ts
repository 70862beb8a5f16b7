/** The dashboard page and the Prometheus `/metrics` endpoint. Re-exports only. */
export { startDashboard, serveEngineMetrics, resolveDashboardOptions, isLoopback, DEFAULT_DASHBOARD_PORT } from './http.js';
export type { DashboardOptions, DashboardServer, EngineMetricsServer, EngineMetricsServerOptions, ListeningServer, ResolvedDashboardOptions } from './http.js';
export { databaseMetrics, engineMetrics, LOCK_WAIT_BUCKETS } from './metrics.js';
export type { DatabaseMetrics, EngineMetricsOptions, MetricsEngine, MetricsEngineTotals } from './metrics.js';
export { readSnapshot, SchemaCache } from './snapshot.js';
export type { AlertRow, DashboardSnapshot, JobRow, JobTotals, LockHolderFigures, MinuteFigures, WalPinState, WriterLease, WriterTotals } from './snapshot.js';
export type { DashboardState, LivePoint } from './sampler.js';
