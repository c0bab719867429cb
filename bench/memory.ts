// Memory: live heap per monitored service at 10,000 services (metrics registered, no history
// yet), the total for the seed's five services, and the heap per history entry at its worst.
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

/** Services and rounds of the worst-case history: 100,000 entries, a tenth of the default caps. */
const FLAPPING_SERVICES = 100;
const FLAPPING_ROUNDS = 333;
/** Three entries a round, less the first start: a configured service is healthy from the start. */
const FLAPPING_ENTRIES = FLAPPING_SERVICES * (3 * FLAPPING_ROUNDS - 1);

/**
 * The worst a token holder can make of history: each round, an error and a critical error with
 * 4 KB messages of two-byte characters (two entries with a 200-character reason), then a
 * restart (an entry with a short one). Configured services, so a stopped one keeps its record.
 */
function flapping(): Monitor {
  const tags = Array.from({ length: FLAPPING_SERVICES }, (_, i) => `remote_${i}`);
  const services = Object.fromEntries(tags.map((tag) => [tag, { interval: 60 }]));
  const manager = new HeartbeatManager({ config: { log_level: 'silent', history_size: 1000, services } });
  for (const tag of tags) {
    for (let round = 0; round < FLAPPING_ROUNDS; round++) {
      const heartbeat = manager.heartbeat({ tag }).start();
      heartbeat.error(`${tag} ${round}: `.padEnd(4096, '€'));
      heartbeat.error(`${tag} ${round}: `.padEnd(4096, '£€'), { critical: true });
      heartbeat.stop();
    }
  }
  return { manager, heartbeats: [] };
}

/** Live heap held by what `create` builds, in bytes. */
async function heldBy(create: () => Monitor[]): Promise<number> {
  const before = await liveHeap();
  const monitors = create();
  const held = (await liveHeap()) - before;
  for (const { manager } of monitors) void manager.close();
  return held;
}

export async function benchMemory(quick: boolean): Promise<Figure[]> {
  const bytes = await interleave(quick ? 3 : 9, {
    // The same monitor without services is subtracted, so the manager's fixed cost is not spread over them.
    perService: async () => ((await heldBy(() => [monitor(SIZE)])) - (await heldBy(() => [monitor(0)]))) / SIZE,
    seed: async () => (await heldBy(() => Array.from({ length: SEED_COPIES }, seed))) / SEED_COPIES,
    historyEntry: async () => (await heldBy(() => [flapping()])) / FLAPPING_ENTRIES,
  });
  return [
    figure(`Heap per service, ${SIZE.toLocaleString('en-US')} services`, 'bytes', bytes.perService, {
      target: { text: '≤ 1 KB', limit: 1024, on: 'median' },
    }),
    figure("Heap for the seed's 5 services (manager, logger, metrics)", 'bytes', bytes.seed, {
      target: { text: '≤ 2 MB', limit: 2 * 1024 * 1024, on: 'median' },
    }),
    // Two in three entries carry a 200-character reason: the worst mix status changes allow.
    figure('Heap per history entry, services flapping with 4 KB two-byte messages', 'bytes', bytes.historyEntry, {
      target: { text: '≤ 0.5 KB', limit: 512, on: 'median' },
    }),
  ];
}
