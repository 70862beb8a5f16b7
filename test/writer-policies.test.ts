/**
 * The writer's neighbour and checkpoint policies are pure over injected effects: their rules
 * are tested here with a fake clock, without threads or files (the real thing is tested with
 * real processes in neighbours.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { NeighbourPolicy } from '../src/writer/thread/neighbours.js';
import { CheckpointPolicy, type CheckpointResult, type PinningReader, type WalPin } from '../src/writer/thread/checkpoint-policy.js';
import { CommitBudget } from '../src/writer/thread/commit-budget.js';

function neighbourPolicy(options: { others?: boolean; gapMs?: number } = {}) {
  const state = { now: 0, others: options.others ?? false, dataVersion: 1 };
  const policy = new NeighbourPolicy({ gapMs: options.gapMs ?? 25, windowMs: 100, presenceCheckMs: 500 }, {
    othersHaveFileOpen: () => state.others,
    dataVersion: () => state.dataVersion,
    now: () => state.now,
  });
  return { state, policy };
}

describe('the neighbour policy', () => {
  it('leaves no gap when the writer is alone', () => {
    const { state, policy } = neighbourPolicy();
    for (let i = 0; i < 5; i++) {
      expect(policy.gapBeforeBegin(100)).toBe(0);
      state.now += 100;
      policy.lockReleased();
    }
  });

  it('with others on the file, owes a gap before each budget-long transaction, counted from the last release', () => {
    const { state, policy } = neighbourPolicy({ others: true });
    expect(policy.gapBeforeBegin(100)).toBe(0); // idle before: that was a gap
    state.now += 100;
    policy.lockReleased();
    state.now += 5; // 5 ms of other work after the commit count towards the gap
    expect(policy.gapBeforeBegin(100)).toBe(20);
    state.now += 20;
    state.now += 100;
    policy.lockReleased();
    expect(policy.gapBeforeBegin(100)).toBe(25);
  });

  it('lets short operations share one gap while the lock stays taken under a window', () => {
    const { state, policy } = neighbourPolicy({ others: true });
    expect(policy.gapBeforeBegin(1)).toBe(0);
    for (let i = 0; i < 20; i++) {
      state.now += 2;
      policy.lockReleased();
      state.now += 1;
      if (state.now < 95) expect(policy.gapBeforeBegin(1)).toBe(0);
    }
    state.now += 50;
    policy.lockReleased();
    expect(policy.gapBeforeBegin(1)).toBe(25);
  });

  it('turns on when another connection commits, even with no lock in sight', () => {
    const { state, policy } = neighbourPolicy({ others: false });
    expect(policy.gapBeforeBegin(100)).toBe(0);
    state.now += 100;
    policy.lockReleased();
    state.dataVersion++; // a neighbour committed in between
    state.now += 1;
    expect(policy.gapBeforeBegin(100)).toBe(24);
    expect(policy.takeNeighbourCommits()).toBe(1);
  });

  it('tells whether another connection committed since the lock was last released, not before it', () => {
    const { state, policy } = neighbourPolicy({ others: true });
    state.dataVersion++; // before our transaction: seen at its release, not after it
    state.now += 100;
    policy.lockReleased();
    state.now += 20;
    expect(policy.committedSinceRelease()).toBe(false);
    state.dataVersion++;
    state.now += 1;
    expect(policy.committedSinceRelease()).toBe(true);
    state.now += 50;
    policy.lockReleased();
    expect(policy.committedSinceRelease()).toBe(false);
  });

  it('keeps a gap open after a neighbour commits in it, so one shut out by that commit gets another try, up to 2.4 gaps from the release', () => {
    const { state, policy } = neighbourPolicy({ others: true });
    state.now += 100;
    policy.lockReleased();
    const released = state.now;
    const planned = released + policy.gapBeforeBegin(100);
    expect(planned - released).toBe(25);
    // No neighbour commit: the gap ends as planned.
    state.now += 10;
    expect(policy.gapEnd(planned)).toBe(planned);
    // A commit 10 ms into the gap: it goes on 25 ms after it is seen...
    state.dataVersion++;
    expect(policy.gapEnd(planned)).toBe(released + 35);
    // ...and never past 2.4 gaps from the release, however often neighbours commit.
    state.now += 30;
    state.dataVersion++;
    expect(policy.gapEnd(planned)).toBe(released + 60);
    expect(policy.takeNeighbourCommits()).toBe(2);
  });

  it('after work that kept the lock free a whole gap (staging the next group), still owes the extension of a commit seen then', () => {
    const { state, policy } = neighbourPolicy({ others: true });
    state.now += 100;
    policy.lockReleased();
    // 30 ms staging rows, nobody committed: the gap is over, the transaction begins at once.
    state.now += 30;
    expect(policy.gapBeforeBegin(100)).toBe(0);
    state.now += 90;
    policy.lockReleased();
    // 30 ms staging, and a neighbour committed meanwhile: 25 ms more, seen from now.
    state.now += 30;
    state.dataVersion++;
    expect(policy.gapBeforeBegin(100)).toBe(25);
    state.now += 25;
    state.now += 90;
    policy.lockReleased();
    // 50 ms staging with a commit: only up to 60 ms from the release.
    state.now += 50;
    state.dataVersion++;
    expect(policy.gapBeforeBegin(100)).toBe(10);
    // Idle far longer than a gap: nothing is owed, whatever was committed.
    state.now += 10 + 90;
    policy.lockReleased();
    state.now += 5000;
    state.dataVersion++;
    expect(policy.gapBeforeBegin(100)).toBe(0);
  });

  it('lets a short operation right after a budget-long transaction go 10 % over the window instead of a gap', () => {
    const { state, policy } = neighbourPolicy({ others: true });
    expect(policy.gapBeforeBegin(100)).toBe(0); // the lock was free: a gap
    state.now += 98;
    policy.lockReleased();
    state.now += 1;
    expect(policy.gapBeforeBegin(1)).toBe(0); // 99 + 1 ms: within 110
    state.now += 1;
    policy.lockReleased();
    expect(policy.gapBeforeBegin(100)).toBe(25); // a group does not get the tolerance
    state.now += 25 + 108;
    policy.lockReleased();
    expect(policy.gapBeforeBegin(5)).toBe(25); // 108 + 5 > 110
  });

  it('is off with a gap of 0', () => {
    const { state, policy } = neighbourPolicy({ others: true, gapMs: 0 });
    state.now += 100;
    policy.lockReleased();
    expect(policy.gapBeforeBegin(100)).toBe(0);
  });
});

function checkpointPolicy() {
  const state = {
    now: 0, walBytes: 0, passive: { busy: false, walFrames: 0, checkpointedFrames: 0 } as CheckpointResult,
    restartOk: true, readers: [] as PinningReader[], restarts: [] as number[], alerts: [] as string[], pins: [] as Array<WalPin | null>,
  };
  // A frame of 10 bytes: the tests' WAL files hold what their frames say, unless a test says otherwise.
  const policy = new CheckpointPolicy({ thresholdBytes: 1000, frameBytes: 10, restartWaitMs: 100, restartEveryMs: 250, pinAfterMs: 1000, pinCheckEveryMs: 250 }, {
    walBytes: () => state.walBytes,
    passive: () => state.passive,
    restart: (waitMs) => {
      state.restarts.push(waitMs);
      return state.restartOk ? { busy: false, walFrames: 0, checkpointedFrames: 0 } : { busy: true, walFrames: 10, checkpointedFrames: 5 };
    },
    pinningReaders: () => state.readers,
    alert: (_level, message) => state.alerts.push(message),
    recordPin: (pin) => state.pins.push(pin),
    now: () => state.now,
    isoNow: () => new Date(state.now).toISOString(),
  });
  return { state, policy };
}

describe('the checkpoint policy', () => {
  it('does nothing under the threshold when alone, and checkpoints passively in the gaps when others use the file', () => {
    const { state, policy } = checkpointPolicy();
    state.walBytes = 500;
    policy.afterTransaction(false);
    expect(policy.takeFigures().checkpoints).toBe(0);
    policy.afterTransaction(true);
    expect(policy.takeFigures().checkpoints).toBe(1);
    expect(state.restarts).toEqual([]);
  });

  it('over the threshold, restarts with a wait bounded by the budget, at most every restartEveryMs', () => {
    const { state, policy } = checkpointPolicy();
    state.walBytes = 1200;
    state.passive = { busy: false, walFrames: 120, checkpointedFrames: 120 };
    state.restartOk = false;
    for (let i = 0; i < 10; i++) {
      policy.afterTransaction(false);
      state.now += 50;
    }
    expect(state.restarts.every((waitMs) => waitMs === 100)).toBe(true);
    expect(state.restarts.length).toBe(2); // at 0 and 250 ms of 500
    // Half as much again over the threshold, the WAL's bound comes first: no more spacing.
    state.walBytes = 1600;
    state.passive = { busy: false, walFrames: 160, checkpointedFrames: 160 };
    for (let i = 0; i < 4; i++) policy.afterTransaction(false);
    expect(state.restarts.length).toBe(6);
  });

  it('decides on the frames the WAL holds, not on its file: a file another connection started over is no reason to restart', () => {
    const { state, policy } = checkpointPolicy();
    // A legacy script started the WAL over with no size limit: the file stays at 5000 bytes,
    // and it holds 3 frames.
    state.walBytes = 5000;
    state.passive = { busy: false, walFrames: 3, checkpointedFrames: 3 };
    for (let i = 0; i < 10; i++) {
      policy.afterTransaction(true);
      state.now += 50;
    }
    expect(state.restarts).toEqual([]);
    // Copied passively all along, in the gaps left to the neighbours.
    expect(policy.takeFigures()).toMatchObject({ checkpoints: 10, blocked: 0, maxWalBytes: 5000 });
  });

  it('names the reader whose snapshot held the copy back for over a second, stops restarting, and clears the pin once the copy moves', () => {
    const { state, policy } = checkpointPolicy();
    state.walBytes = 5000;
    state.restartOk = false;
    state.passive = { busy: false, walFrames: 100, checkpointedFrames: 40 };
    state.readers = [{ pid: 42, command: 'python3 notebook.py' }, { pid: 7, command: 'dashboard' }];
    for (let i = 0; i < 12; i++) {
      policy.afterTransaction(false);
      state.now += 100;
      // The dashboard's queries come and go; the notebook stays.
      state.readers = i % 2 === 0 ? [{ pid: 42, command: 'python3 notebook.py' }] : [{ pid: 7, command: 'dashboard' }, { pid: 42, command: 'python3 notebook.py' }];
    }
    expect(state.alerts.filter((message) => message.includes('pinned'))).toHaveLength(1);
    expect(state.alerts[0]).toContain('pid 42 (python3 notebook.py)');
    expect(state.pins[0]?.pid).toBe(42);
    const restartsWhilePinned = state.restarts.length;
    for (let i = 0; i < 5; i++) {
      policy.afterTransaction(false);
      state.now += 100;
    }
    expect(state.restarts.length).toBe(restartsWhilePinned);
    // The notebook let go: the copy moves on, the pin is cleared, and the WAL is reset.
    state.passive = { busy: false, walFrames: 100, checkpointedFrames: 100 };
    state.restartOk = true;
    state.now += 300;
    policy.afterTransaction(false);
    expect(state.pins.at(-1)).toBeNull();
    expect(state.alerts.at(-1)).toContain('no longer pinned');
    expect(state.restarts.length).toBe(restartsWhilePinned + 1);
  });
});

describe('the checkpoint policy after a pin', () => {
  it('looks in the gaps while a reader pins the WAL, quietly, and the look after the reader let go copies what it held back', () => {
    const { state, policy } = checkpointPolicy();
    state.walBytes = 5000;
    state.restartOk = false;
    state.passive = { busy: false, walFrames: 100, checkpointedFrames: 40 };
    state.readers = [{ pid: 42, command: 'python3 notebook.py' }];
    expect(policy.watching).toBe(false);
    for (let i = 0; i < 12; i++) {
      policy.afterTransaction(true);
      state.now += 100;
    }
    expect(state.pins.at(-1)?.pid).toBe(42);
    expect(policy.watching).toBe(true);
    policy.takeFigures();
    // Many looks in the gaps while it pins: none is counted as a checkpoint, none restarts.
    const restarts = state.restarts.length;
    for (let i = 0; i < 50; i++) {
      policy.inGap();
      state.now += 2;
    }
    expect(policy.takeFigures()).toMatchObject({ checkpoints: 0, blocked: 0 });
    expect(state.restarts.length).toBe(restarts);
    // The reader lets go in the middle of a gap: the next look copies everything and clears the pin.
    state.passive = { busy: false, walFrames: 300, checkpointedFrames: 300 };
    state.restartOk = true;
    policy.inGap();
    expect(policy.watching).toBe(false);
    expect(state.pins.at(-1)).toBeNull();
    expect(state.alerts.at(-1)).toContain('no longer pinned');
    expect(policy.takeFigures().checkpoints).toBeGreaterThanOrEqual(1);
    expect(state.restarts.length).toBe(restarts + 1);
  });

  it('with neighbours, looks at a pinned WAL after every transaction, not every pinCheckEveryMs', () => {
    const { state, policy } = checkpointPolicy();
    state.walBytes = 5000;
    state.restartOk = false;
    state.passive = { busy: false, walFrames: 100, checkpointedFrames: 40 };
    state.readers = [{ pid: 42, command: 'python3 notebook.py' }];
    for (let i = 0; i < 12; i++) {
      policy.afterTransaction(true);
      state.now += 100;
    }
    expect(state.pins.at(-1)?.pid).toBe(42);
    // 10 ms after the last look, well within pinCheckEveryMs: the release is still seen at once.
    state.now += 10;
    state.passive = { busy: false, walFrames: 120, checkpointedFrames: 120 };
    policy.afterTransaction(true);
    expect(state.pins.at(-1)).toBeNull();
  });
});

describe('the commit budget', () => {
  it('stops a transaction before its predicted commit would carry it past the budget, and learns the commit cost', () => {
    const budget = new CommitBudget({ budgetMs: 100, margin: 1 });
    // Pessimistic until measured: commit as long as inserting.
    expect(budget.hasRoom(40, 40, 5)).toBe(true);
    expect(budget.hasRoom(50, 50, 5)).toBe(false);
    for (let i = 0; i < 20; i++) budget.record(50, 12); // commits cost a fifth of the insert work
    expect(budget.predictCommitMs(50)).toBeCloseTo(2 + 0.2 * 50, 0);
    expect(budget.hasRoom(80, 80, 5)).toBe(false);
    expect(budget.hasRoom(70, 70, 5)).toBe(true);
  });

  it('drops its first guess once one commit is measured: a run\'s first transactions fill the budget too', () => {
    const budget = new CommitBudget({ budgetMs: 100, margin: 1 });
    budget.record(40, 6); // one measured commit: a tenth of its insert work
    expect(budget.predictCommitMs(80)).toBeCloseTo(2 + 0.1 * 80, 0);
    expect(budget.hasRoom(80, 80, 5)).toBe(true);
    // Beside other processes it aims a tenth short: their time slices are not predictable.
    expect(budget.hasRoom(80, 80, 5, true)).toBe(false);
  });
});
