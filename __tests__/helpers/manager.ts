import type { HeartbeatConfig } from '../../lib/core/config';
import { HeartbeatManager, type StatusChange } from '../../lib/core/manager';
import { createTestClock, type TestClock } from './clock';
import { captureLogger, type LogLine } from './logger';
import { closeManagers, trackManager } from './managers';

export interface ManagerFixture {
  manager: HeartbeatManager;
  clock: TestClock;
  logs: LogLine[];
  changes: StatusChange[];
}

/** A manager on fake timers with a captured log and a record of every status event. Call `jest.useFakeTimers()` first. */
export function createManager(config: HeartbeatConfig = {}): ManagerFixture {
  const clock = createTestClock();
  const { logger, lines } = captureLogger();
  const manager = trackManager(new HeartbeatManager({ config, clock, logger }));
  const changes: StatusChange[] = [];
  manager.on('status', (change) => changes.push(change));
  return { manager, clock, logs: lines, changes };
}

/**
 * Gives each test of the file a quiet manager on the test clock, under jest fake timers that
 * leave nextTick and setImmediate real (supertest's sockets need them), and closes it after.
 * Call at the top level of a test file; call the returned function inside a test.
 */
export function useQuietManager(): () => HeartbeatManager {
  let current: HeartbeatManager | undefined;
  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    current = trackManager(new HeartbeatManager({ clock: createTestClock(), config: { log_level: 'silent' } }));
  });
  afterEach(() => {
    closeManagers();
    jest.useRealTimers();
  });
  return () => {
    if (!current) throw new Error('useQuietManager(): the manager exists only inside a test');
    return current;
  };
}
