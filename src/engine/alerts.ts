/**
 * The engine's alerts: the lock-rate window and the slow-operation rule as pure functions of
 * their state and the time, and the effects (log, store, emit) injected, so the rules are
 * tested without threads or a database.
 */
import type { OperationInfo } from '../writer/protocol.js';
import type { Alert, AlertLevel } from './events.js';

const WINDOW_MS = 60_000;
/** Locks per minute above which the rate is a warning, and above which it is critical. */
export const LOCK_RATE_LIMITS = { warning: 5, critical: 10 } as const;
/** Attempts of one operation above which it is worth an info alert. */
export const SLOW_OPERATION_ATTEMPTS = 3;

/** The locks of the last minute, and the last rate alert raised. Never mutated: each step returns the next. */
export interface LockWindow {
  readonly locks: readonly number[];
  readonly lastAlert: { readonly level: AlertLevel; readonly at: number } | undefined;
}

export const EMPTY_LOCK_WINDOW: LockWindow = { locks: [], lastAlert: undefined };

/**
 * One lock at `now` (ms): the window after it, and the alert it raises, if any. One alert per
 * level per minute: a lock storm must not become an alert storm; a warning may still be
 * followed by a critical within the minute.
 */
export function lockRateStep(window: LockWindow, now: number): { window: LockWindow; alert: Alert | null } {
  const locks = [...window.locks, now].filter((at) => at >= now - WINDOW_MS);
  const perMinute = locks.length;
  const level: AlertLevel | null = perMinute > LOCK_RATE_LIMITS.critical ? 'critical' : perMinute > LOCK_RATE_LIMITS.warning ? 'warning' : null;
  const last = window.lastAlert;
  if (!level || (last && last.at >= now - WINDOW_MS && !(last.level === 'warning' && level === 'critical'))) {
    return { window: { locks, lastAlert: last }, alert: null };
  }
  return {
    window: { locks, lastAlert: { level, at: now } },
    alert: {
      level,
      message: `${perMinute} locks in the last minute (warning above ${LOCK_RATE_LIMITS.warning}, critical above ${LOCK_RATE_LIMITS.critical})`,
      figures: { locksPerMinute: perMinute },
    },
  };
}

/** The alert an operation that met a lock raises once it is over: only one that needed many attempts. */
export function operationAlert(info: OperationInfo): Alert | null {
  if (info.attempts <= SLOW_OPERATION_ATTEMPTS) return null;
  return {
    level: 'info',
    message: `${info.operation} needed ${info.attempts} attempts to get the write lock${info.ok ? '' : ' and then failed'}`,
    figures: { operation: info.operation, attempts: info.attempts, waitMs: Math.round(info.waitMs) },
  };
}

/** What raising an alert does; the engine gives its logger, the writer's alert table and its events. */
export interface AlertEffects {
  now(): number;
  log(level: 'info' | 'warn' | 'error', figures: Record<string, unknown>, message: string): void;
  /** Keeps the alert (the writer's alerts table); a failure to keep it is not the caller's. */
  store(alert: Alert): void;
  emit(alert: Alert): void;
}

/** The engine's alerts over its effects: locks and operations go in, alerts come out. */
export class Alerts {
  readonly #effects: AlertEffects;
  #window: LockWindow = EMPTY_LOCK_WINDOW;

  constructor(effects: AlertEffects) {
    this.#effects = effects;
  }

  /** Locks in the window now (for the curious and for tests). */
  get locksInWindow(): number {
    return this.#window.locks.length;
  }

  onLock(): void {
    const { window, alert } = lockRateStep(this.#window, this.#effects.now());
    this.#window = window;
    if (alert) this.raise(alert);
  }

  onOperation(info: OperationInfo): void {
    const alert = operationAlert(info);
    if (alert) this.raise(alert);
  }

  /** Logs, stores (unless the writer raised and stored it already) and emits one alert. */
  raise(alert: Alert, store = true): void {
    const log = alert.level === 'info' ? 'info' : alert.level === 'warning' ? 'warn' : 'error';
    this.#effects.log(log, { alert: alert.level, ...alert.figures }, alert.message);
    if (store) this.#effects.store(alert);
    this.#effects.emit(alert);
  }
}
