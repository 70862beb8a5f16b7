/** The exit codes every command shares (health follows the monitoring convention instead). */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;
