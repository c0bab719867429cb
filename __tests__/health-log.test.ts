import pino from 'pino';
import { HeartbeatManager } from '../lib/core/manager';
import { createManager, type ManagerFixture } from './helpers/manager';
import { captureLogger } from './helpers/logger';
import { createTestClock } from './helpers/clock';
import { closeManagers } from './helpers/managers';

let fixture: ManagerFixture;

beforeEach(() => jest.useFakeTimers());
afterEach(() => {
  closeManagers();
  jest.useRealTimers();
});

it('logs the seed messages on each change, with structured fields, and nothing per pulse', () => {
  fixture = createManager();
  const heartbeat = fixture.manager.heartbeat({ tag: 'save_worker', interval: 1 });
  heartbeat.start();
  for (let i = 0; i < 100; i++) heartbeat.pulse();
  expect(fixture.logs).toEqual([]);

  fixture.clock.advance(6000);
  heartbeat.pulse();
  fixture.clock.advance(1);

  expect(fixture.logs.map((line) => [line.level, line.msg])).toEqual([
    [40, 'Service save_worker missed heartbeat (attempt 1/3)'],
    [40, 'Service save_worker missed heartbeat (attempt 2/3)'],
    [40, 'Service save_worker missed heartbeat (attempt 3/3)'],
    [50, 'Service save_worker is unresponsive - marking as critical'],
    [30, 'Service save_worker heartbeat: healthy'],
  ]);
  expect(fixture.logs[2]).toMatchObject({ service: 'save_worker', status: 'degraded', previous: 'warning', missed: 3 });
  expect(fixture.logs[4]).toMatchObject({ service: 'save_worker', status: 'healthy', previous: 'critical', missed: 0 });
});

it('logs a reported error as warn and a critical one as error', () => {
  fixture = createManager();
  const heartbeat = fixture.manager.heartbeat({ tag: 'w', interval: 10 });
  heartbeat.start();
  heartbeat.error('disk full');
  heartbeat.error('kernel panic', { critical: true });
  expect(fixture.logs.map((line) => [line.level, line.msg, line.error])).toEqual([
    [40, 'Service w reported an error: disk full', 'disk full'],
    [50, 'Service w reported a critical error: kernel panic', 'kernel panic'],
  ]);
});

it('keeps a message with newlines on one JSON line', () => {
  fixture = createManager();
  const heartbeat = fixture.manager.heartbeat({ tag: 'line\nbreak', interval: 10 });
  heartbeat.start();
  heartbeat.error('first\nsecond');
  expect(fixture.logs).toHaveLength(1);
  expect(fixture.logs[0]?.service).toBe('line\nbreak');
});

it('takes its level from log_level, in the seed words', () => {
  jest.useFakeTimers();
  const { logger, lines } = captureLogger('trace');
  const manager = new HeartbeatManager({ config: { log_level: 'ERROR' }, logger, clock: createTestClock() });
  const heartbeat = manager.heartbeat({ tag: 'w', interval: 10 });
  heartbeat.start();
  heartbeat.error('only a warning');
  heartbeat.error('critical', { critical: true });
  void manager.close();
  expect(lines.map((line) => line.msg)).toEqual(['Service w reported a critical error: critical']);
  expect(manager.logger.level).toBe('error');
});

it('names the default logger "heartbeat"', () => {
  const manager = new HeartbeatManager({ config: { log_level: 'silent' } });
  expect(manager.logger.bindings()).toMatchObject({ name: 'heartbeat' });
  void manager.close();
});

it('survives a log destination that throws', () => {
  jest.useFakeTimers();
  const throwing = {
    write: () => {
      throw new Error('EPIPE');
    },
  };
  const manager = new HeartbeatManager({ logger: pino({}, throwing), clock: createTestClock() });
  const heartbeat = manager.heartbeat({ tag: 'w', interval: 1 });
  heartbeat.start();
  expect(() => {
    heartbeat.error('boom');
  }).not.toThrow();
  expect(() => {
    jest.advanceTimersByTime(10_000);
  }).not.toThrow();
  expect(manager.status().services.w?.status).toBe('critical');
  void manager.close();
});
