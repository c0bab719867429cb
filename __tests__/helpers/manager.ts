import type { HeartbeatConfig } from '../../lib/config';
import { HeartbeatManager, type StatusChange } from '../../lib/manager';
import { createTestClock, type TestClock } from './clock';
import { captureLogger, type LogLine } from './logger';
import { trackManager } from './managers';

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
