// Mass outage with alerts attached: 10,000 services go silent together, or report an error in
// one loop, with an AlertDispatcher of two targets attached; the figure is the longest the
// event loop was blocked meanwhile, beside the same outage with no dispatcher.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { AlertDispatcher, HeartbeatManager, type Notifier } from '../lib';
import { figure, interleave, type Figure } from './measure';

const SIZE = 10_000;
const INTERVAL_S = 1;
const GIVE_UP_MS = 30_000;

/** A target that takes each alert at once: the dispatcher is measured, not a transport. */
const accepting = (name: string): Notifier => ({ name, send: () => Promise.resolve() });

/** The longest event-loop delay while `outage` runs to its end, in ms. */
async function longestDelay(outage: () => Promise<void>): Promise<number> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  // The histogram records a delay when its timer fires after it: let it fire a few times on
  // either side of the outage.
  await sleep(20);
  await outage();
  await sleep(20);
  delay.disable();
  return delay.max / 1e6;
}

/** `SIZE` services failing together, missing a beat or reporting an error, and a wait until each is `warning` and its alerts have left. */
function outage(alerts: boolean, cause: 'missed' | 'error'): () => Promise<number> {
  return async () => {
    const manager = new HeartbeatManager({ config: { log_level: 'silent' } });
    const dispatcher = alerts
      ? new AlertDispatcher(manager, {
          targets: [{ notifier: accepting('ops') }, { notifier: accepting('pager') }],
          registry: new Registry(),
        })
      : undefined;
    const heartbeats = Array.from({ length: SIZE }, (_, i) => manager.heartbeat({ tag: `service_${i}`, interval: INTERVAL_S }).start());
    let failed = 0;
    // The library's timer is unref'd: this one keeps the process alive meanwhile.
    let giveUp: NodeJS.Timeout | undefined;
    const allFailed = new Promise<void>((resolve, reject) => {
      giveUp = setTimeout(() => {
        reject(new Error(`${failed} of ${SIZE} services turned warning within ${GIVE_UP_MS} ms`));
      }, GIVE_UP_MS);
      manager.on('status', (change) => {
        if (change.to === 'warning' && ++failed === SIZE) resolve();
      });
    });
    // Every deadline within a millisecond or so: one pulse each, in one loop.
    for (const heartbeat of heartbeats) heartbeat.pulse();
    await nextTurn();
    const ms = await longestDelay(async () => {
      if (cause === 'error') for (const heartbeat of heartbeats) heartbeat.error('database unreachable');
      await allFailed;
      while (dispatcher && dispatcher.pending > 0) await nextTurn();
    });
    clearTimeout(giveUp);
    void manager.close();
    return ms;
  };
}

export async function benchAlerts(quick: boolean): Promise<Figure[]> {
  const rounds = await interleave(quick ? 1 : 7, {
    missedBare: outage(false, 'missed'),
    missedAlerts: outage(true, 'missed'),
    errorBare: outage(false, 'error'),
    errorAlerts: outage(true, 'error'),
  });
  const n = SIZE.toLocaleString('en-US');
  return [
    figure(`${n} services miss a beat together, no alerts`, 'ms', rounds.missedBare),
    figure(`${n} services miss a beat together, alerts attached`, 'ms', rounds.missedAlerts, {
      anchor: `${n} services miss a beat together, no alerts`,
      target: { text: '≤ 100 ms', limit: 100, on: 'median' },
    }),
    figure(`${n} services report an error in one loop, no alerts`, 'ms', rounds.errorBare),
    figure(`${n} services report an error in one loop, alerts attached`, 'ms', rounds.errorAlerts, {
      anchor: `${n} services report an error in one loop, no alerts`,
      target: { text: '≤ 100 ms', limit: 100, on: 'median' },
    }),
  ];
}
