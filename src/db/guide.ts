/** The operator's guide as code: gradual rollout, doctor, workload profiles, the SQLite version guard. Re-exports only. */
export {};
