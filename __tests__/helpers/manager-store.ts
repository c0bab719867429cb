import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeartbeatManager, fileStore, type HeartbeatConfig, type StatusChange } from '../../lib';
import { createTestClock, type TestClock } from './clock';
import { captureLogger, type LogLine } from './logger';

/** One manager on a file store, with what it logged and the status changes it announced. */
export interface StoreRun {
  readonly manager: HeartbeatManager;
  readonly dir: string;
  readonly lines: LogLine[];
  readonly messages: () => string[];
  readonly changes: StatusChange[];
}

export interface ManagerStoreFixture {
  /** This test's state directory, new for each test. */
  readonly dir: string;
  readonly clock: TestClock;
  /** A manager on `fileStore({ dir })` (this test's directory unless given), closed after the test. */
  readonly start: (config?: HeartbeatConfig, options?: { dir?: string; compactAfterBytes?: number }) => StoreRun;
  /** Closes `run`'s manager, lets `offlineMs` pass with nothing running, and starts another on the same directory. */
  readonly restart: (run: StoreRun, offlineMs: number, config?: HeartbeatConfig) => StoreRun;
  /**
   * The directory's files as a `kill -9` leaves them, copied to a new directory while the
   * manager still runs: a process that dies writes nothing more, so its files are exactly
   * what it had written. The lock file names this process, which the copy's manager takes
   * over as a lock left by an earlier process with the same PID.
   */
  readonly crashCopy: (from?: string) => string;
  /** A new empty directory, removed after the test. */
  readonly freshDir: () => string;
  /** The names in `dir` (this test's directory unless given), sorted. */
  readonly listing: (dir?: string) => string[];
  readonly read: (name: string, dir?: string) => string;
}

/**
 * Fake timers from `startAt` (wall ms), a test clock, and a fresh state directory per test;
 * after each test every manager is closed, `beforeRemove` runs (an unmount, say) and the
 * directories go. Call at the top level of a test file.
 */
export function useManagerStore(startAt: number, beforeRemove: (dir: string) => void = () => undefined): ManagerStoreFixture {
  let dir = '';
  let clock: TestClock | undefined;
  const runs: StoreRun[] = [];
  const dirs: string[] = [];
  const freshDir = (): string => {
    const made = mkdtempSync(join(tmpdir(), 'heartbeat-manager-store-'));
    dirs.push(made);
    return made;
  };

  beforeEach(() => {
    // setImmediate stays real: a compaction's snapshot is written by real asynchronous I/O that tests wait for.
    jest.useFakeTimers({ now: startAt, doNotFake: ['setImmediate'] });
    clock = createTestClock();
    dir = freshDir();
  });
  afterEach(() => {
    jest.restoreAllMocks();
    for (const run of runs.splice(0)) void run.manager.close();
    jest.useRealTimers();
    beforeRemove(dir);
    for (const made of dirs.splice(0)) rmSync(made, { recursive: true, force: true });
  });

  const fixture: ManagerStoreFixture = {
    get dir() {
      return dir;
    },
    get clock() {
      return clock as TestClock;
    },
    start: (config = {}, options = {}) => {
      const { logger, lines, messages } = captureLogger();
      const at = options.dir ?? dir;
      const store = fileStore(
        options.compactAfterBytes === undefined ? { dir: at } : { dir: at, compactAfterBytes: options.compactAfterBytes },
      );
      const manager = new HeartbeatManager({ config, clock: clock as TestClock, logger, store });
      const changes: StatusChange[] = [];
      manager.on('status', (change) => changes.push(change));
      const run = { manager, dir: at, lines, messages, changes };
      runs.push(run);
      return run;
    },
    restart: (run, offlineMs, config = {}) => {
      void run.manager.close();
      (clock as TestClock).skip(offlineMs);
      return fixture.start(config, { dir: run.dir });
    },
    crashCopy: (from = dir) => {
      const copy = freshDir();
      for (const name of readdirSync(from)) copyFileSync(join(from, name), join(copy, name));
      return copy;
    },
    freshDir,
    listing: (at = dir) => readdirSync(at).sort(),
    read: (name, at = dir) => readFileSync(join(at, name), 'utf8'),
  };
  return fixture;
}

/** Advances `clock` by `everyMs` and pulses `heartbeat`, `count` times. */
export function pulseEvery(clock: TestClock, heartbeat: { pulse(): void }, everyMs: number, count: number): void {
  for (let i = 0; i < count; i++) {
    clock.advance(everyMs);
    heartbeat.pulse();
  }
}

/** A wall time as it reads in a `.corrupt-` file name. */
export function asideStamp(wallMs: number): string {
  return new Date(wallMs).toISOString().replace(/:/g, '-');
}
