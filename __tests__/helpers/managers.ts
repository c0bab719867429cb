import type { HeartbeatManager } from '../../lib/core/manager';

const open = new Set<HeartbeatManager>();

/** Remembers a manager a fixture created, for `closeManagers()` after the test. */
export function trackManager<T extends HeartbeatManager>(manager: T): T {
  open.add(manager);
  return manager;
}

/** Closes every manager the fixtures created since the last call: no timer outlives its test. */
export function closeManagers(): void {
  for (const manager of open) void manager.close();
  open.clear();
}

/**
 * Jest fake timers for each test of the file (or describe block), started with `options`
 * (`false` leaves starting them to each test), and after each one every manager the fixtures
 * created is closed and real timers are back. Call at the top of a file or a describe block.
 */
export function useManagerTimers(options: Parameters<typeof jest.useFakeTimers>[0] | false = {}): void {
  if (options !== false) {
    beforeEach(() => {
      jest.useFakeTimers(options);
    });
  }
  afterEach(() => {
    closeManagers();
    jest.useRealTimers();
  });
}
