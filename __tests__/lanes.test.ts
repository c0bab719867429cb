// Healthy services wait in lanes, one per interval and grace, ordered by their last sign of
// life; only the lanes and the unhealthy services wait in the scheduler's heap. These tests
// hold the lanes to two promises: every change is still announced on time, whatever the
// pulses, errors, restarts and stalls, and services pulsing on time cost the timer nothing
// per pulse.
import fc from 'fast-check';
import type { Heartbeat } from '../lib/core/manager';
import type { StatusChange } from '../lib/core/manager';
import { SignLane } from '../lib/core/lanes';
import { ServiceRecord } from '../lib/core/service-record';
import { createManager } from './helpers/manager';
import { closeManagers } from './helpers/managers';

beforeEach(() => jest.useFakeTimers());
afterEach(() => {
  closeManagers();
  jest.useRealTimers();
});

describe('SignLane', () => {
  const recordAt = (tag: string, lastSignAt: number) =>
    new ServiceRecord(tag, false, { intervalMs: 1000, graceMs: 100, critical: true }, lastSignAt, 10, {
      degradedAfter: 3,
      criticalAfter: 5,
    });

  function order(lane: SignLane<ServiceRecord>): string[] {
    const forward: string[] = [];
    for (let record = lane.head; record !== null; record = record.laneNext) forward.push(record.tag);
    const backward: string[] = [];
    for (let record = lane.tail; record !== null; record = record.lanePrevious) backward.unshift(record.tag);
    expect(backward).toEqual(forward); // both directions agree
    return forward;
  }

  it('keeps its records in the order they last signed, however they arrive', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 30 }), (signs) => {
        const lane = new SignLane<ServiceRecord>('1000/100');
        const records = signs.map((at, i) => recordAt(`r${i}`, at));
        const heads = records.map((record) => lane.insert(record));
        const sorted = [...records].sort((a, b) => a.lastSignAt - b.lastSignAt || Number(a.tag.slice(1)) - Number(b.tag.slice(1)));
        expect(order(lane)).toEqual(sorted.map((record) => record.tag));
        // insert() says when the newcomer leads: it then signed strictly before every earlier one.
        heads.forEach((becameHead, i) => {
          expect(becameHead).toBe(signs.slice(0, i).every((earlier) => earlier > (signs[i] as number)));
        });
        expect(lane.headDeadline()).toBe(Math.min(...signs) + 1100);
      }),
    );
  });

  it('moves a record that signs to the tail, and unlinks from any place', () => {
    const lane = new SignLane<ServiceRecord>('1000/100');
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((tag, i) => recordAt(tag, i)) as [
      ServiceRecord,
      ServiceRecord,
      ServiceRecord,
      ServiceRecord,
    ];
    for (const record of [a, b, c, d]) lane.insert(record);
    a.lastSignAt = 10;
    lane.touch(a);
    expect(order(lane)).toEqual(['b', 'c', 'd', 'a']);
    c.lastSignAt = 11;
    lane.touch(c);
    lane.touch(c); // already the tail
    expect(order(lane)).toEqual(['b', 'd', 'a', 'c']);
    lane.remove(d);
    expect(order(lane)).toEqual(['b', 'a', 'c']);
    expect(d.lane).toBeNull();
    lane.remove(b);
    lane.remove(c);
    expect(order(lane)).toEqual(['a']);
    lane.remove(a);
    expect(order(lane)).toEqual([]);
    expect(lane.headDeadline()).toBe(Infinity);
  });
});

describe('watching through lanes', () => {
  // Pulses land on a 50 ms grid and every interval is a multiple of it, while grace is 20 or
  // 70 ms: each deadline falls 20 ms into a step, so at the end of each step every change is
  // at least 30 ms old, past the lane's 10 ms sweep gap, and must have been announced.
  const STEP = 50;
  const settings = fc.record({
    interval: fc.constantFrom(100, 150, 200, 1000),
    grace: fc.constantFrom(20, 70),
    reliability: fc.constantFrom(0.2, 0.6, 0.95, 1),
  });
  const event = fc.oneof(
    { weight: 20, arbitrary: fc.constant({ kind: 'tick' as const }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('error' as const), critical: fc.boolean(), service: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), service: fc.nat(), to: settings }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('stall' as const), steps: fc.integer({ min: 6, max: 40 }) }) },
  );

  it('announces every change the status shows, within its step, through pulses, errors, restarts and stalls', () => {
    fc.assert(
      fc.property(
        fc.array(settings, { minLength: 1, maxLength: 12 }),
        fc.array(event, { minLength: 20, maxLength: 200 }),
        fc.integer(),
        (services, events, seed) => {
          const { manager, clock, changes } = createManager({ log_level: 'silent' });
          let random = Math.abs(seed) % 2147483646 || 1;
          const chance = () => (random = (random * 16807) % 2147483647) / 2147483647;
          const start = (i: number, setting: { interval: number; grace: number }) =>
            manager.heartbeat({ tag: `s${i}`, interval: setting.interval / 1000, grace: setting.grace / 1000 }).start();
          const heartbeats: Heartbeat[] = services.map((setting, i) => start(i, setting));
          const reliability = services.map((setting) => setting.reliability);

          try {
            const announced = new Map<string, string>();
            let read = 0;
            for (const happening of events) {
              if (happening.kind === 'error') {
                heartbeats[happening.service % heartbeats.length]?.error('boom', { critical: happening.critical });
              } else if (happening.kind === 'restart') {
                const i = happening.service % heartbeats.length;
                heartbeats[i]?.stop();
                heartbeats[i] = start(i, happening.to);
                reliability[i] = happening.to.reliability;
                announced.delete(`s${i}`); // a new service under the old tag, healthy from its start
              } else if (happening.kind === 'stall') {
                clock.skip(happening.steps * STEP);
                // The late timer fired at its own time, off the grid: step back onto it.
                const offGrid = clock.now() % STEP;
                if (offGrid !== 0) clock.advance(STEP - offGrid);
              }
              heartbeats.forEach((heartbeat, i) => {
                if (chance() < (reliability[i] as number)) heartbeat.pulse();
              });
              clock.advance(STEP);

              for (; read < changes.length; read++) {
                const change = changes[read] as StatusChange;
                announced.set(change.service, change.to);
              }
              for (const [tag, entry] of Object.entries(manager.status().services)) {
                expect(`${tag}: ${announced.get(tag) ?? 'healthy'}`).toBe(`${tag}: ${entry.status}`);
              }
              expect(jest.getTimerCount()).toBeLessThanOrEqual(1);
            }
          } finally {
            void manager.close(); // a failing run must not leave its timer to the next
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('wakes its timer about once per grace period, however many services pulse on time', () => {
    const { manager, clock, changes } = createManager({ log_level: 'silent' });
    const heartbeats = Array.from({ length: 1000 }, (_, i) => manager.heartbeat({ tag: `s${i}`, interval: 1 }).start());
    const setTimeoutCalls = jest.spyOn(globalThis, 'setTimeout');
    // Ten seconds of every service pulsing once a second, at its own phase (1 ms apart).
    for (let ms = 0; ms < 10_000; ms++) {
      heartbeats[ms % 1000]?.pulse();
      clock.advance(1);
    }
    expect(changes).toEqual([]);
    // The lane's head is due one grace (100 ms) after it should have pulsed: about 100 wakes
    // in ten seconds. A heap holding each service would wake for each of the 10,000 pulses.
    expect(setTimeoutCalls.mock.calls.length).toBeGreaterThanOrEqual(80);
    expect(setTimeoutCalls.mock.calls.length).toBeLessThanOrEqual(110);
    setTimeoutCalls.mockRestore();
  });
});
