// Detection latency: from a service's deadline (last pulse + interval + grace) to the status
// event that reports it, p50 and p99, at 10, 1,000, 10,000 and 100,000 services, on real timers.
import { performance } from 'node:perf_hooks';
import { HeartbeatManager } from '../lib';
import { collectGarbage, figure, interleave, percentile, pick, type Figure } from './measure';

const SIZES = [10, 1_000, 10_000, 100_000];
const INTERVAL_S = 1;
/** The default grace: 10% of the interval. */
const DEADLINE_MS = INTERVAL_S * 1000 * 1.1;
/** Pulses are spread over this window, so deadlines are too. */
const STAGGER_MS = 500;

/** Pulses every service once at staggered times, then waits for each to be reported late. Latencies in ms. */
function detect(size: number): Promise<number[]> {
  const manager = new HeartbeatManager({ config: { log_level: 'silent' } });
  const tags = Array.from({ length: size }, (_, i) => `service_${i}`);
  const indexOf = new Map(tags.map((tag, i) => [tag, i]));
  const heartbeats = tags.map((tag) => manager.heartbeat({ tag, interval: INTERVAL_S }).start());
  const deadlines = new Float64Array(size).fill(Number.NaN);
  const latencies: number[] = [];
  // A server's setup is long past when its services fail: the garbage of setting these up, and
  // of the round before (100,000 closed services), is not collected in the middle of this one.
  collectGarbage();

  return new Promise((resolve, reject) => {
    const giveUp = setTimeout(
      () => {
        void manager.close();
        reject(new Error(`${size} services: ${latencies.length} reported late within ${STAGGER_MS + DEADLINE_MS + 5000} ms`));
      },
      STAGGER_MS + DEADLINE_MS + 5000,
    );
    manager.on('status', (change) => {
      const now = performance.now();
      if (change.to !== 'warning') return;
      latencies.push(now - (deadlines[indexOf.get(change.service) as number] as number));
      if (latencies.length < size) return;
      clearTimeout(giveUp);
      void manager.close();
      resolve(latencies);
    });

    const started = performance.now();
    let next = 0;
    const pulseDue = (): void => {
      const elapsed = performance.now() - started;
      for (; next < size && (next * STAGGER_MS) / size <= elapsed; next++) {
        // Read before the pulse, so the deadline is never later than the one the library computes.
        const pulsedAt = performance.now();
        (heartbeats[next] as (typeof heartbeats)[number]).pulse();
        deadlines[next] = pulsedAt + DEADLINE_MS;
      }
      if (next < size) setTimeout(pulseDue, 1);
    };
    pulseDue();
  });
}

export async function benchDetection(quick: boolean): Promise<Figure[]> {
  const configurations: Record<string, () => Promise<{ p50: number; p99: number }>> = {};
  for (const size of SIZES) {
    configurations[String(size)] = async () => {
      const latencies = await detect(size);
      return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
    };
  }
  const rounds = await interleave(quick ? 1 : 9, configurations, !quick);

  const figures: Figure[] = [];
  for (const size of SIZES) {
    const n = size.toLocaleString('en-US');
    figures.push(
      figure(`Detection latency p50, ${n} services`, 'ms', pick(rounds[String(size)] ?? [], 'p50')),
      figure(`Detection latency p99, ${n} services`, 'ms', pick(rounds[String(size)] ?? [], 'p99'), {
        target: { text: '≤ 50 ms', limit: 50, on: 'median' },
      }),
    );
  }
  return figures;
}
