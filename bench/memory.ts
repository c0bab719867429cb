// Memory: live heap per monitored service at 10,000 services (metrics registered, no history
// yet), and the total for the seed's five services.
import { Registry } from 'prom-client';
import { SEED_CONFIG } from '../demo-app/seed-config';
import { HeartbeatManager, registerMetrics, type Heartbeat } from '../lib';
import { figure, interleave, liveHeap, type Figure } from './measure';

const SIZE = 10_000;
/**
 * Seed setups held at once: one weighs tens of kilobytes, less than the heap's own drift
 * between two collections (code and caches come and go), so the figure is a share of many.
 */
const SEED_COPIES = 20;

interface Monitor {
  manager: HeartbeatManager;
  heartbeats: Heartbeat[];
}

function monitor(size: number): Monitor {
  const manager = new HeartbeatManager({ config: { log_level: 'silent' } });
  registerMetrics(manager, { registry: new Registry() });
  const heartbeats = Array.from({ length: size }, (_, i) => manager.heartbeat({ tag: `service_${i}`, interval: 30 }).start());
  return { manager, heartbeats };
}

/** The seed document's setup: its config (five services, pino logger to stdout), metrics, the five heartbeats started. */
function seed(): Monitor {
  const manager = new HeartbeatManager({ config: SEED_CONFIG });
  registerMetrics(manager, { registry: new Registry() });
  const heartbeats = Object.keys(SEED_CONFIG.services ?? {}).map((tag) => manager.heartbeat({ tag }).start());
  return { manager, heartbeats };
}

/** Live heap held by what `create` builds, in bytes. */
async function heldBy(create: () => Monitor[]): Promise<number> {
  const before = await liveHeap();
  const monitors = create();
  const held = (await liveHeap()) - before;
  for (const { manager } of monitors) manager.close();
  return held;
}

export async function benchMemory(quick: boolean): Promise<Figure[]> {
  const bytes = await interleave(quick ? 3 : 9, {
    // The same monitor without services is subtracted, so the manager's fixed cost is not spread over them.
    perService: async () => ((await heldBy(() => [monitor(SIZE)])) - (await heldBy(() => [monitor(0)]))) / SIZE,
    seed: async () => (await heldBy(() => Array.from({ length: SEED_COPIES }, seed))) / SEED_COPIES,
  });
  return [
    figure(`Heap per service, ${SIZE.toLocaleString('en-US')} services`, 'bytes', bytes.perService, {
      target: { text: '≤ 1 KB', limit: 1024, on: 'median' },
    }),
    figure("Heap for the seed's 5 services (manager, logger, metrics)", 'bytes', bytes.seed, {
      target: { text: '≤ 2 MB', limit: 2 * 1024 * 1024, on: 'median' },
    }),
  ];
}
