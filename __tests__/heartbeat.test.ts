import { Heartbeat } from '../lib/core/manager';
import { HeartbeatManager } from '../lib/core/manager';
import { ConfigError } from '../lib/util/validate';
import { createTestClock } from './helpers/clock';

let manager: HeartbeatManager;

beforeEach(() => {
  jest.useFakeTimers();
  manager = new HeartbeatManager({ clock: createTestClock(), config: { log_level: 'silent', default_interval: 25 } });
});
afterEach(() => {
  void manager.close();
  jest.useRealTimers();
});

it('exposes the seed properties', () => {
  const heartbeat = new Heartbeat({ tag: 'my_service', interval: 25, critical: true, manager });
  expect(heartbeat.tag).toBe('my_service');
  expect(heartbeat.interval).toBe(25);
  expect(heartbeat.critical).toBe(true);
  expect(heartbeat.isActive).toBe(false);
  expect(heartbeat.start()).toBe(heartbeat);
  expect(heartbeat.isActive).toBe(true);
  heartbeat.stop();
  expect(heartbeat.isActive).toBe(false);
});

it('takes the default interval from the config', () => {
  expect(new Heartbeat({ tag: 'x', manager }).interval).toBe(25);
});

it('ignores a second start', () => {
  const heartbeat = manager.heartbeat({ tag: 'x', interval: 1 }).start();
  heartbeat.pulse();
  heartbeat.start();
  expect(manager.service('x')?.total_pulses).toBe(1);
});

const bad: [string, Record<string, unknown>, string][] = [
  ['tag', { tag: '' }, 'expected a non-empty string'],
  ['tag', { tag: 42 }, 'expected a non-empty string'],
  ['tag', {}, 'expected a non-empty string'],
  ['interval', { tag: 'a', interval: 0 }, 'expected a positive, finite number of seconds'],
  ['interval', { tag: 'a', interval: 0.0005 }, 'at least 0.001 (one millisecond)'],
  ['interval', { tag: 'a', interval: Number.NaN }, 'expected a positive, finite number'],
  ['interval', { tag: 'a', interval: '30' }, 'expected a positive, finite number'],
  ['grace', { tag: 'a', grace: -1 }, 'expected a finite number of at least 0'],
  ['critical', { tag: 'a', critical: 'yes' }, 'expected true or false'],
  ['manager', { tag: 'a', manager: {} }, 'expected a HeartbeatManager'],
  ['tagg', { tagg: 'a' }, 'unknown key "tagg"'],
];

it.each(bad)('rejects a bad %s with a clear error', (key, options, expected) => {
  const withManager = 'manager' in options ? options : { ...options, manager };
  expect(() => new Heartbeat(withManager as never)).toThrow(ConfigError);
  expect(() => new Heartbeat(withManager as never)).toThrow(expected);
  expect(() => new Heartbeat(withManager as never)).toThrow(`"${key}"`);
});

it.each([
  [new Error('caught'), 'caught'],
  [42, '42'],
  [{ code: 'E1' }, '{"code":"E1"}'],
  [undefined, 'undefined'],
  [() => 1, 'function'],
  [10n, 'bigint'],
])('turns what a JavaScript caller passes to error() (%p) into a message', (value, message) => {
  const heartbeat = manager.heartbeat({ tag: 'js', interval: 10 });
  heartbeat.error(value as never);
  expect(manager.service('js')?.last_error?.message).toBe(message);
});
