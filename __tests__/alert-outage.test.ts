import { Registry } from 'prom-client';
import type { Alert, Notifier } from '../lib/alerts/alert';
import { AlertDispatcher } from '../lib/alerts/dispatcher';
import { HeartbeatManager } from '../lib/core/manager';
import { createTestClock, type TestClock } from './helpers/clock';

// A mass outage with alerts attached: thousands of services fail in one timer turn. How long
// that blocks the event loop is the benchmark's business (bench/alerts.ts, `npm run bench --
// alerts`); these tests count the work that made it quadratic.

const SIZE = 5000;
/** Every service's first beat is missed in the same timer turn: the interval plus the default 10% grace, and a millisecond. */
const PAST_FIRST_DEADLINE_MS = 11_001;

let clock: TestClock;
let manager: HeartbeatManager;

/** `size` services started together, a dispatcher whose one target keeps every alert. */
function monitored(size: number): { alerts: Alert[]; dispatcher: AlertDispatcher } {
  clock = createTestClock();
  manager = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
  const alerts: Alert[] = [];
  const inbox: Notifier = {
    name: 'inbox',
    send: (alert) => {
      alerts.push(alert);
      return Promise.resolve();
    },
  };
  const dispatcher = new AlertDispatcher(manager, { targets: [{ notifier: inbox }], registry: new Registry(), queueSize: SIZE });
  for (let i = 0; i < size; i++) manager.heartbeat({ tag: `service_${i}`, interval: 10 }).start();
  return { alerts, dispatcher };
}

/** Lets queued deliveries run: they are promise chains, not timers. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] }));
afterEach(() => {
  void manager.close();
  jest.restoreAllMocks();
  jest.useRealTimers();
});

it('rates every service once per turn, not once per alert', async () => {
  const { alerts } = monitored(SIZE);
  const ratings = jest.spyOn(manager, 'overallStatus');
  clock.advance(PAST_FIRST_DEADLINE_MS);
  await flush();
  expect(alerts).toHaveLength(SIZE);
  expect(ratings).toHaveBeenCalledTimes(1);
  // The reading is taken once the turn's changes are in: every service is warning by then.
  expect(new Set(alerts.map((alert) => alert.overall_status))).toEqual(new Set(['warning']));
});

it('gives each turn its own reading of the overall status', async () => {
  const { alerts } = monitored(2);
  manager.get('service_0')?.error('disk full');
  await flush();
  manager.get('service_1')?.error('kernel panic', { critical: true });
  await flush();
  expect(alerts.map((alert) => [alert.service, alert.overall_status])).toEqual([
    ['service_0', 'warning'],
    ['service_1', 'critical'],
  ]);
});

it('sweeps its per-service states a few times in a mass outage, not once per new service', async () => {
  const sweeps = jest.spyOn(AlertDispatcher.prototype as unknown as { sweep(): void }, 'sweep');
  monitored(SIZE);
  clock.advance(PAST_FIRST_DEADLINE_MS);
  await flush();
  // 5,000 states, each with an incident: none can go. Sweeps come at 2,000 and 4,000 states.
  expect(sweeps).toHaveBeenCalledTimes(2);
});

it('still forgets idle states, whatever tags come and go', async () => {
  const { dispatcher } = monitored(0);
  for (let i = 0; i < 5000; i++) {
    const worker = manager.heartbeat({ tag: `job_${i}`, interval: 10 }).start();
    worker.error('failed');
    worker.pulse();
    clock.advance(1); // the recovery is announced on the next timer turn: resolved, then idle
    worker.stop();
  }
  await flush();
  const states = (dispatcher as unknown as { states: Map<string, unknown> }).states;
  expect(states.size).toBeLessThanOrEqual(2000);
});
