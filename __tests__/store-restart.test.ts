import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeartbeatManager, fileStore, memoryStore, type HeartbeatConfig } from '../lib';
import { createTestClock, type TestClock } from './helpers/clock';
import { captureLogger } from './helpers/logger';

let dir = '';
let clock: TestClock;
const open: HeartbeatManager[] = [];

beforeEach(() => {
  jest.useFakeTimers({ now: Date.parse('2026-11-30T10:00:00Z') });
  clock = createTestClock();
  dir = mkdtempSync(join(tmpdir(), 'heartbeat-restart-'));
});
afterEach(() => {
  for (const manager of open.splice(0)) void manager.close();
  jest.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

function start(config: HeartbeatConfig = {}): { manager: HeartbeatManager; messages: () => string[] } {
  const { logger, messages } = captureLogger();
  const manager = new HeartbeatManager({ config, clock, logger, store: fileStore({ dir }) });
  open.push(manager);
  return { manager, messages };
}

function restart(manager: HeartbeatManager, offlineMs: number, config: HeartbeatConfig = {}) {
  void manager.close();
  clock.skip(offlineMs);
  return start(config);
}

describe('a file store', () => {
  it('brings back counters, the last error, history and downtime after a clean stop', () => {
    const { manager } = start();
    const worker = manager.heartbeat({ tag: 'save_worker', interval: 1 }).start();
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      worker.pulse();
    }
    worker.error('disk full');
    clock.advance(10_000); // misses: degraded, then critical
    worker.pulse();
    clock.advance(1000);
    const before = manager.service('save_worker');
    const history = manager.history('save_worker');
    expect(history?.transitions.map((t) => t.to)).toEqual(['warning', 'degraded', 'critical', 'healthy']);

    const { manager: next } = restart(manager, 60_000);
    const again = next.heartbeat({ tag: 'save_worker', interval: 1 }).start();
    const after = next.service('save_worker');
    expect(after?.total_pulses).toBe(before?.total_pulses);
    expect(after?.error_count).toBe(1);
    expect(after?.last_error).toEqual(before?.last_error);
    const restored = next.history('save_worker');
    expect(restored?.transitions).toEqual(history?.transitions);
    // The 60 s offline are left out of the ratio: downtime over watched time stays as it was.
    expect(restored?.uptime['24h']).toBeCloseTo(history?.uptime['24h'] ?? 0, 2);
    again.pulse();
  });

  it('stays in memory with memoryStore(), and writes nothing', () => {
    const manager = new HeartbeatManager({ clock, store: memoryStore(), logger: captureLogger().logger });
    open.push(manager);
    manager.heartbeat({ tag: 'a', interval: 1 }).start().pulse();
    expect(manager.storeHealth().state).toBe('memory');
  });

  it('refuses a second manager on the same directory, naming it and the PID', () => {
    start();
    expect(() => start()).toThrow(new RegExp(`${dir}.*${process.pid}|${process.pid}.*${dir}`));
  });
});

describe('a storm of status changes', () => {
  it('found in one firing of the timer is saved in one synced append, before any of it is announced', () => {
    const { manager } = start();
    const tags = Array.from({ length: 20 }, (_, i) => `remote_${i}`);
    for (const tag of tags) manager.heartbeat({ tag, interval: 1 }).start();
    clock.advance(1050); // the flush (1 s after the starts) saves them
    const journal = (): string[] => readFileSync(join(dir, 'journal-0.log'), 'utf8').trim().split('\n');
    const linesBefore = journal().length;
    const heard: number[] = [];
    manager.on('status', () => heard.push(journal().length));
    clock.advance(100); // every deadline (1 s + 0.1 s grace after the start) passes in the same firing
    expect(heard).toHaveLength(20);
    // One more line (the batch) by the time the first listener heard, and none after.
    expect(heard).toEqual(Array(20).fill(linesBefore + 1));
    const batch = JSON.parse(journal()[linesBefore] as string) as unknown[][];
    expect(batch.filter((entry) => entry[0] === 't').map((entry) => entry[1])).toEqual(tags);
  });
});

describe('the flush', () => {
  it('saves a service that only pulsed since its last save as a small pulses entry, which a restart restores', () => {
    const { manager } = start({ services: { save_worker: { interval: 10 } } });
    const worker = manager.heartbeat({ tag: 'save_worker' }).start();
    worker.error('disk full');
    clock.advance(1001); // saved in full: the start and the error
    worker.pulse(); // its recovery is saved in full with its counters
    clock.advance(1001);
    for (let i = 0; i < 4; i++) worker.pulse(); // only pulses since
    clock.advance(1001);
    const lines = readFileSync(join(dir, 'journal-0.log'), 'utf8').trim().split('\n');
    const last = JSON.parse(lines.at(-1) as string) as unknown[][];
    expect(last.map((entry) => entry.slice(0, 5))).toEqual([
      ['u', clock.wallNow(), 'save_worker', 5, Date.parse(manager.service('save_worker')?.last_heartbeat ?? '')],
    ]);
    expect((lines.at(-1) as string).length).toBeLessThan(100);

    // What a kill -9 now leaves on disk, opened by the next process.
    const copy = mkdtempSync(join(tmpdir(), 'heartbeat-restart-copy-'));
    try {
      cpSync(dir, copy, { recursive: true });
      const next = new HeartbeatManager({
        config: { services: { save_worker: { interval: 10 } } },
        clock,
        logger: captureLogger().logger,
        store: fileStore({ dir: copy }),
      });
      open.push(next);
      expect(next.service('save_worker')).toMatchObject({ status: 'healthy', total_pulses: 5, error_count: 1, consecutive_failures: 0 });
      expect(next.service('save_worker')?.last_heartbeat).toBe(manager.service('save_worker')?.last_heartbeat);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe('after a crash, on a later day', () => {
  it('still serves the days before it: a service known only from the journal keeps when watching began', () => {
    const { manager } = start();
    const worker = manager.heartbeat({ tag: 'save_worker', interval: 60 }).start();
    for (let i = 0; i < 10; i++) worker.pulse();
    worker.error('disk full');
    clock.advance(1001); // flushed to the journal; no snapshot yet
    const before = manager.history('save_worker', { days: 1 })?.daily;
    expect(before).toEqual([expect.objectContaining({ date: '2026-11-30', pulses: 10, errors: 1, transitions: 1 })]);

    const copy = mkdtempSync(join(tmpdir(), 'heartbeat-restart-copy-'));
    try {
      cpSync(dir, copy, { recursive: true }); // what a kill -9 leaves
      clock.skip(86_400_000); // back the next day
      const next = new HeartbeatManager({ clock, logger: captureLogger().logger, store: fileStore({ dir: copy }) });
      open.push(next);
      next.heartbeat({ tag: 'save_worker', interval: 60 }).start();
      const days = next.history('save_worker', { days: 2 })?.daily ?? [];
      expect(days.map(({ date, pulses, errors, transitions }) => [date, pulses, errors, transitions])).toEqual([
        ['2026-11-30', 10, 1, 1],
        ['2026-12-01', 0, 0, 1], // its restart clears the warning its error left: "started"
      ]);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
