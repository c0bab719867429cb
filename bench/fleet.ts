// The fleet the scale benchmark and the profiles measure: one manager of many services.
import { Registry } from 'prom-client';
import { HeartbeatManager, registerMetrics, type Clock } from '../lib';

/**
 * A manager with `size` started services, `service_0` onwards, of a 30 s interval, each pulsed
 * once, and a registry of its own the heartbeat families are registered with.
 */
export function pulsedFleet(size: number, clock?: Clock): { manager: HeartbeatManager; registry: Registry } {
  const manager = new HeartbeatManager({ config: { log_level: 'silent' }, ...(clock ? { clock } : {}) });
  for (let i = 0; i < size; i++)
    manager
      .heartbeat({ tag: `service_${i}`, interval: 30 })
      .start()
      .pulse();
  const registry = new Registry();
  registerMetrics(manager, { registry });
  return { manager, registry };
}
