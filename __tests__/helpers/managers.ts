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
