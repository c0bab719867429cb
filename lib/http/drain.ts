import type { HeartbeatManager } from '../core/manager';

/**
 * Whether the server is shutting down, for `/ready`: from `drain()` on, or once the manager
 * closes (`manager.close()` marks it closed at once), so load balancers stop sending traffic
 * while the server still answers what is in flight. It never ends: a drained server stops.
 */
export class DrainSignal {
  private drained = false;

  constructor(private readonly manager: HeartbeatManager) {}

  /** Marks the server as draining; calling it again changes nothing. */
  drain(): void {
    this.drained = true;
  }

  /** Whether `/ready` answers `draining`. */
  get draining(): boolean {
    return this.drained || this.manager.isClosed;
  }
}
