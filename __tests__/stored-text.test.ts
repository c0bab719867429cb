import { HeartbeatManager, MAX_ERROR_LENGTH } from '../lib/core/manager';
import { detached, storedText } from '../lib/util/stored-text';
import { MAX_HISTORY_REASON } from '../lib/core/watcher';
import { createTestClock, type TestClock } from './helpers/clock';
import { collectGarbage } from './helpers/gc';
import { closeManagers, trackManager } from './helpers/managers';

let clock: TestClock;

beforeEach(() => {
  jest.useFakeTimers();
  clock = createTestClock();
});
afterEach(() => {
  closeManagers();
  jest.useRealTimers();
});

/**
 * Heap bytes per item still in use after `scenario(count)` ran and all it dropped was
 * collected. A small run first warms up code and shapes, so only the items are counted.
 */
function retainedPerItem(count: number, scenario: (count: number) => unknown): number {
  scenario(Math.ceil(count / 10));
  closeManagers();
  collectGarbage();
  const before = process.memoryUsage().heapUsed;
  const kept = [scenario(count)];
  collectGarbage();
  const after = process.memoryUsage().heapUsed;
  expect(kept).toHaveLength(1); // holds the scenario's result alive until measured
  return (after - before) / count;
}

/** A string of `length` characters with memory of its own (nothing else shares it), starting with `head`. */
function large(head: string, length: number, fill: string): string {
  return `${head}:`.padEnd(length, fill);
}

const quietManager = (config = {}) => trackManager(new HeartbeatManager({ clock, config: { log_level: 'silent', ...config } }));

describe('detached() and storedText()', () => {
  it('copy exactly, lone surrogates included', () => {
    for (const text of ['', 'disk full', 'a\ud800b\udc00c', '😀 €', 'x'.repeat(5000)]) expect(detached(text)).toBe(text);
    expect(storedText('abcdef', 3)).toBe('abc…');
    expect(storedText('abc', 3)).toBe('abc');
  });

  it('keep a cut in a string of its own, not the whole original', () => {
    const perCut = retainedPerItem(2000, (count) =>
      Array.from({ length: count }, (_, i) => storedText(large(String(i), 65_536, 'x'), MAX_HISTORY_REASON)),
    );
    // About 220 bytes: a 201-character string and its slot. Uncut, each would hold 64 KB.
    expect(perCut).toBeLessThan(1024);
  });
});

// A reported message is cut to 1,024 characters for last_error and to 200 for each history
// entry. Cut by slice(), the stored text kept a reference to the whole message (V8 sliced
// strings), so each entry held about 2 KB and each last_error the whole message, however large.
describe('memory held by stored messages', () => {
  it('keeps a history entry cut from a long error message in about half a kilobyte', () => {
    // Each round records two entries: `warning` with the long reason and `healthy` with "pulse received".
    const perRound = retainedPerItem(2000, (rounds) => {
      const manager = quietManager({ history_size: 2 * rounds });
      const heartbeat = manager.heartbeat({ tag: 'flaky', interval: 60 }).start();
      for (let i = 0; i < rounds; i++) {
        heartbeat.error(large(String(i), 8192, '€')); // two bytes a character
        heartbeat.pulse();
        clock.advance(1);
      }
      expect(manager.history('flaky')?.transitions).toHaveLength(2 * rounds);
      return manager;
    });
    // Measured about 780 bytes a round (the long entry about 560), against 2,500 before the copy.
    expect(perRound).toBeLessThan(1200);
  });

  it("keeps each service's last_error in its own copy, not the whole message it was cut from", () => {
    const perService = retainedPerItem(300, (services) => {
      const manager = quietManager();
      for (let i = 0; i < services; i++) manager.heartbeat({ tag: `job_${i}`, interval: 60 }).error(large(String(i), 65_536, 'x'));
      expect(manager.service('job_0')?.last_error?.message).toHaveLength(MAX_ERROR_LENGTH + 1);
      return manager;
    });
    // Measured about 3.6 KB a service (the record, its history entry and 1,025 characters),
    // against 69 KB before the copy: the whole 64 KB message.
    expect(perService).toBeLessThan(16 * 1024);
  });
});
