import { Registry } from 'prom-client';
import { HeartbeatManager } from '../../lib/core/manager';
import { createTestClock, type TestClock } from './clock';

/** What each metrics test starts from: a test clock, a manager on it (with a configured, unstarted file_indexer) and an empty registry. */
export interface MetricsFixture {
  clock: TestClock;
  manager: HeartbeatManager;
  registry: Registry;
}

/**
 * Makes a fresh fixture before each test of the file, on mocked timers, and closes its manager
 * after; `use` receives each one, e.g. `useMetricsFixture((fixture) => ({ clock, manager, registry } = fixture))`.
 */
export function useMetricsFixture(use: (fixture: MetricsFixture) => void): void {
  let manager: HeartbeatManager | undefined;
  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    const clock = createTestClock();
    manager = new HeartbeatManager({
      clock,
      config: { log_level: 'silent', services: { file_indexer: { interval: 60, critical: false } } },
    });
    use({ clock, manager, registry: new Registry() });
  });
  afterEach(() => {
    void manager?.close();
    jest.useRealTimers();
  });
}
