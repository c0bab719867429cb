// Memory: live heap per monitored service at 10, 1,000, 10,000 and 100,000 services (metrics
// registered, no history yet), the same once each has pulsed and its gap model has learnt, the
// total for the seed's five services, and the heap per history entry at its worst.
import { Registry } from 'prom-client';
import { SEED_CONFIG } from '../demo-app/seed-config';
import { HeartbeatManager, registerMetrics, type Heartbeat } from '../lib';
import { figure, interleave, liveHeap, type Figure } from './measure';

const SIZES = [10, 1_000, 10_000, 100_000];
/** The size the 1 KB target is held at, and the anchor of the 100,000 figures. */
const TARGET_SIZE = 10_000;
/**
 * Services measured at once, at least: below this, monitors of N services are held in copies
 * (100 of 10 services, 10 of 1,000), since the heap drifts by tens of kilobytes between two
 * collections, more than 10 services weigh.
 */
const SERVICES_HELD = 10_000;
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

/** Pulses per service in `pulsing()`: 11 gaps, past the model's cold start of 10. */
const LEARNT_PULSES = 12;
/** Seconds between those pulses, within the 30 s interval. */
const LEARNT_GAP_S = 20;

/**
 * `monitor(size)` on a clock moved by hand, each service pulsed `LEARNT_PULSES` times
 * `LEARNT_GAP_S` apart: its gap model exists and has learnt enough to forecast, and its trend
 * is read once, so the forecast it keeps until the next pulse is made too. The services stay
 * healthy, and the monitor's timer is due 33 s of that clock after the last pulse: it does not
 * fire while the heap is measured.
 */
function pulsing(size: number): Monitor {
  const clock = { at: 0, now: () => clock.at, wallNow: () => WALL_ORIGIN_MS + clock.at };
  const manager = new HeartbeatManager({ config: { log_level: 'silent' }, clock });
  registerMetrics(manager, { registry: new Registry() });
  const heartbeats = Array.from({ length: size }, (_, i) => manager.heartbeat({ tag: `service_${i}`, interval: 30 }).start());
  for (let pulse = 0; pulse < LEARNT_PULSES; pulse++) {
    clock.at += LEARNT_GAP_S * 1000;
    for (const heartbeat of heartbeats) heartbeat.pulse();
  }
  for (let i = 0; i < size; i++) {
    if (manager.service(`service_${i}`)?.trend.mean_gap_seconds !== LEARNT_GAP_S) throw new Error(`service_${i} has not learnt its gaps`);
  }
  return { manager, heartbeats };
}

const WALL_ORIGIN_MS = Date.UTC(2026, 0, 1);

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

/**
 * Live heap per service of `copies` monitors of `size` services made by `make`, less the same
 * copies without services: the managers' fixed cost is not spread over the services.
 */
async function perService(make: (size: number) => Monitor, size: number): Promise<number> {
  const copies = Math.max(1, Math.round(SERVICES_HELD / size));
  const held = await heldBy(() => Array.from({ length: copies }, () => make(size)));
  const empty = await heldBy(() => Array.from({ length: copies }, () => make(0)));
  return (held - empty) / (copies * size);
}

export async function benchMemory(quick: boolean): Promise<Figure[]> {
  const configurations: Record<string, () => Promise<number>> = {
    seed: async () => (await heldBy(() => Array.from({ length: SEED_COPIES }, seed))) / SEED_COPIES,
    historyEntry: async () => (await heldBy(() => [flapping()])) / FLAPPING_ENTRIES,
  };
  for (const size of SIZES) {
    configurations[`perService${size}`] = () => perService(monitor, size);
    configurations[`perPulsingService${size}`] = () => perService(pulsing, size);
  }
  const bytes = await interleave(quick ? 1 : 9, configurations);
  const n = (size: number): string => size.toLocaleString('en-US');
  const idle = (size: number): string => `Heap per service, ${n(size)} services`;
  const pulsed = (size: number): string => `Heap per service that pulses (gap model learnt), ${n(size)} services`;
  const linear = { text: '≤ 1.25× the 10,000 figure (linear)', limit: 1.25, on: 'ratio' } as const;
  const sized = SIZES.flatMap((size) => [
    figure(idle(size), 'bytes', bytes[`perService${size}`] as number[], {
      ...(size === TARGET_SIZE ? { target: { text: '≤ 1 KB', limit: 1024, on: 'median' } } : {}),
      ...(size === 100_000 ? { anchor: idle(TARGET_SIZE), target: linear } : {}),
    }),
    figure(pulsed(size), 'bytes', bytes[`perPulsingService${size}`] as number[], {
      ...(size === 100_000 ? { anchor: pulsed(TARGET_SIZE), target: linear } : {}),
    }),
  ]);
  return [
    ...sized,
    figure("Heap for the seed's 5 services (manager, logger, metrics)", 'bytes', bytes.seed as number[], {
      target: { text: '≤ 2 MB', limit: 2 * 1024 * 1024, on: 'median' },
    }),
    // Two in three entries carry a 200-character reason: the worst mix status changes allow.
    figure('Heap per history entry, services flapping with 4 KB two-byte messages', 'bytes', bytes.historyEntry as number[], {
      target: { text: '≤ 0.5 KB', limit: 512, on: 'median' },
    }),
  ];
}
