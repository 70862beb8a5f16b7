/** The dashboard page and the Prometheus `/metrics` endpoint. Re-exports only. */
export {};
