/** The engine's alert rules, as pure functions and over fake effects: no threads, no database. */
import { describe, expect, it } from 'vitest';
import { Alerts, EMPTY_LOCK_WINDOW, lockRateStep, operationAlert, type AlertEffects, type LockWindow } from '../src/engine/alerts.js';
import type { Alert } from '../src/engine/index.js';

function locksAt(times: number[], window: LockWindow = EMPTY_LOCK_WINDOW): { window: LockWindow; alerts: Alert[] } {
  const alerts: Alert[] = [];
  for (const at of times) {
    const step = lockRateStep(window, at);
    window = step.window;
    if (step.alert) alerts.push(step.alert);
  }
  return { window, alerts };
}

describe('the lock-rate window', () => {
  it('raises nothing for up to 5 locks a minute, a warning at the 6th, a critical at the 11th', () => {
    const { alerts } = locksAt(Array.from({ length: 11 }, (_, i) => 1000 + i * 100));
    expect(alerts).toEqual([
      { level: 'warning', message: '6 locks in the last minute (warning above 5, critical above 10)', figures: { locksPerMinute: 6 } },
      { level: 'critical', message: '11 locks in the last minute (warning above 5, critical above 10)', figures: { locksPerMinute: 11 } },
    ]);
  });

  it('raises one alert per level per minute: a lock storm is not an alert storm', () => {
    const { alerts } = locksAt(Array.from({ length: 200 }, (_, i) => i * 10));
    expect(alerts.map((alert) => alert.level)).toEqual(['warning', 'critical']);
  });

  it('raises the same level again once a minute has passed since the last alert', () => {
    const storm = Array.from({ length: 8 }, (_, i) => i * 10);
    const later = Array.from({ length: 8 }, (_, i) => 61_000 + i * 10);
    const { alerts } = locksAt([...storm, ...later]);
    expect(alerts.map((alert) => [alert.level, alert.figures.locksPerMinute])).toEqual([['warning', 6], ['warning', 6]]);
  });

  it('forgets locks older than a minute', () => {
    const { window } = locksAt([0, 10_000, 59_999, 70_000]);
    expect(window.locks).toEqual([10_000, 59_999, 70_000]);
  });

  it('never changes the window it was given', () => {
    const before = locksAt([0, 1, 2]).window;
    const copy = structuredClone(before);
    lockRateStep(before, 3);
    expect(before).toEqual(copy);
  });
});

describe('the slow-operation alert', () => {
  it('is raised only past 3 attempts, as info, naming the operation and whether it failed', () => {
    expect(operationAlert({ operation: 'commit', attempts: 3, waitMs: 10, ok: true, jobId: null })).toBeNull();
    expect(operationAlert({ operation: 'commit', attempts: 4, waitMs: 12.6, ok: false, jobId: 'j1' })).toEqual({
      level: 'info', message: 'commit needed 4 attempts to get the write lock and then failed', figures: { operation: 'commit', attempts: 4, waitMs: 13 },
    });
  });
});

describe('Alerts over injected effects', () => {
  function fakeEffects(times: number[]): AlertEffects & { logged: unknown[][]; stored: Alert[]; emitted: Alert[] } {
    const logged: unknown[][] = [];
    const stored: Alert[] = [];
    const emitted: Alert[] = [];
    let index = 0;
    return {
      logged, stored, emitted,
      now: () => times[index++] ?? times.at(-1)!,
      log: (level, figures, message) => logged.push([level, figures, message]),
      store: (alert) => stored.push(alert),
      emit: (alert) => emitted.push(alert),
    };
  }

  it('logs at the alert level, stores and emits what a lock storm raises', () => {
    const effects = fakeEffects(Array.from({ length: 6 }, (_, i) => i));
    const alerts = new Alerts(effects);
    for (let i = 0; i < 6; i++) alerts.onLock();
    expect(effects.logged).toEqual([['warn', { alert: 'warning', locksPerMinute: 6 }, '6 locks in the last minute (warning above 5, critical above 10)']]);
    expect(effects.stored).toEqual(effects.emitted);
    expect(effects.emitted).toHaveLength(1);
    expect(alerts.locksInWindow).toBe(6);
  });

  it('does not store again an alert the writer stored, but still logs and emits it', () => {
    const effects = fakeEffects([0]);
    const alert: Alert = { level: 'critical', message: 'WAL over its limit', figures: { walBytes: 1 } };
    new Alerts(effects).raise(alert, false);
    expect(effects.stored).toEqual([]);
    expect(effects.emitted).toEqual([alert]);
    expect(effects.logged).toEqual([['error', { alert: 'critical', walBytes: 1 }, 'WAL over its limit']]);
  });
});
