/** The BullMQ transport and the `worker` process: the package's distributed mode. Re-exports only. */
export {};
