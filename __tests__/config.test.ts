import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SEED_CONFIG } from '../demo-app/seed-config';
import { DEFAULT_CONFIG, readConfigFile, resolveConfig } from '../lib/core/config';
import { HeartbeatManager } from '../lib/core/manager';
import { ConfigError } from '../lib/util/validate';

const notANumber = [-1, 0, Number.NaN, Infinity, '30', null, {}, true];

/** What a service without a schedule, runtimes or dependencies resolves to beside its interval, critical and grace. */
const PLAIN_SERVICE = {
  schedule: null,
  timezone: null,
  critical_after: 5,
  max_runtime: null,
  min_runtime: null,
  depends_on: [],
  remote: false,
  group: null,
};

describe('resolveConfig', () => {
  it('fills in the seed defaults', () => {
    expect(resolveConfig({})).toEqual({ ...DEFAULT_CONFIG, services: {} });
    expect(resolveConfig(undefined).timeout_multiplier).toBe(3);
  });

  it('accepts the seed HEARTBEAT_CONFIG as written', () => {
    // The demo's copy of the seed document's HEARTBEAT_CONFIG, key for key.
    const config = resolveConfig(SEED_CONFIG);
    expect(config.log_level).toBe('info');
    expect(config.critical_after).toBe(5);
    expect(config.services.web_listener).toEqual({
      interval: 20,
      critical: false,
      grace: null,
      ...PLAIN_SERVICE,
    });
  });

  it('fills service defaults from the top level', () => {
    const config = resolveConfig({ default_interval: 12, grace: 1, services: { a: {} } });
    expect(config.services.a).toEqual({
      interval: 12,
      critical: true,
      grace: 1,
      ...PLAIN_SERVICE,
    });
  });

  it.each([
    ['WARNING', 'warn'],
    ['CRITICAL', 'fatal'],
    ['debug', 'debug'],
    ['silent', 'silent'],
  ])('maps log_level %p to pino level %p', (given, level) => {
    expect(resolveConfig({ log_level: given }).log_level).toBe(level);
  });

  it('never mutates the caller object', () => {
    const input = Object.freeze({ services: Object.freeze({ a: Object.freeze({ interval: 1 }) }) });
    expect(() => resolveConfig(input)).not.toThrow();
    expect(input).toEqual({ services: { a: { interval: 1 } } });
  });

  const cases: [string, Record<string, unknown>, string][] = [
    ...notANumber.map((value): [string, Record<string, unknown>, string] => [
      'default_interval',
      { default_interval: value },
      'expected a positive, finite number of seconds',
    ]),
    ...[0, 1.5, -3, Number.NaN, '3', null].map((value): [string, Record<string, unknown>, string] => [
      'timeout_multiplier',
      { timeout_multiplier: value },
      'expected a whole number of at least 1',
    ]),
    ...[0, 2.5, '5', null].map((value): [string, Record<string, unknown>, string] => [
      'critical_after',
      { critical_after: value },
      'expected a whole number of at least 1',
    ]),
    ['critical_after', { timeout_multiplier: 4, critical_after: 2 }, 'expected at least timeout_multiplier (4)'],
    ...['yes', 1, null, {}].map((value): [string, Record<string, unknown>, string] => [
      'enabled',
      { enabled: value },
      'expected true or false',
    ]),
    ...['no', 0, null].map((value): [string, Record<string, unknown>, string] => [
      'alert_on_miss',
      { alert_on_miss: value },
      'expected true or false',
    ]),
    ...['LOUD', 3, null, ''].map((value): [string, Record<string, unknown>, string] => [
      'log_level',
      { log_level: value },
      'expected one of "DEBUG"',
    ]),
    ...[-1, Number.NaN, Infinity, '1', null].map((value): [string, Record<string, unknown>, string] => [
      'grace',
      { grace: value },
      'expected a finite number of at least 0',
    ]),
    ...[[], 'x', null, 5].map((value): [string, Record<string, unknown>, string] => [
      'services',
      { services: value },
      'expected an object',
    ]),
    ...notANumber.map((value): [string, Record<string, unknown>, string] => [
      'services.save_worker.interval',
      { services: { save_worker: { interval: value } } },
      'expected a positive, finite number of seconds',
    ]),
    ['default_interval', { default_interval: 0.0009 }, 'at least 0.001 (one millisecond)'],
    ['services.save_worker.interval', { services: { save_worker: { interval: 1e-9 } } }, 'at least 0.001 (one millisecond)'],
    ['services.save_worker.critical', { services: { save_worker: { critical: 'true' } } }, 'expected true or false'],
    ['services.save_worker.grace', { services: { save_worker: { grace: -2 } } }, 'expected a finite number of at least 0'],
    ['services.save_worker', { services: { save_worker: 30 } }, 'expected an object'],
    ['services', { services: { ['x'.repeat(201)]: {} } }, 'expected a non-empty string of at most 200 characters'],
    ['enabeld', { enabeld: true }, 'unknown key "enabeld"; expected one of enabled, default_interval'],
    ['services.save_worker.intervall', { services: { save_worker: { intervall: 3 } } }, 'unknown key "services.save_worker.intervall"'],
  ];

  it.each(cases)('rejects a bad %s, naming the key, the value and what is expected', (key, config, expected) => {
    let thrown: unknown;
    try {
      resolveConfig(config);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const error = thrown as ConfigError;
    expect(error.key).toBe(key);
    expect(error.message).toContain(`"${key}"`);
    expect(error.message).toContain(expected);
  });

  it('shows the bad value as written', () => {
    expect(() => resolveConfig({ default_interval: '30' })).toThrow('Invalid heartbeat config: "default_interval" is "30"; expected');
    expect(() => resolveConfig({ default_interval: Number.NaN })).toThrow('"default_interval" is NaN;');
  });

  it('is checked when a manager is constructed', () => {
    expect(() => new HeartbeatManager({ config: { timeout_multiplier: 0 } })).toThrow(ConfigError);
    expect(() => new HeartbeatManager({ confg: {} } as never)).toThrow('unknown key "confg"');
  });
});

describe('readConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'heartbeat-config-'));

  it('reads a JSON file', () => {
    const path = join(dir, 'good.json');
    writeFileSync(path, JSON.stringify({ default_interval: 0.2 }));
    expect(readConfigFile(path)).toEqual({ default_interval: 0.2 });
  });

  it('names the file when it is missing, not JSON, or invalid', () => {
    expect(() => readConfigFile(join(dir, 'missing.json'))).toThrow(`Cannot read heartbeat config ${join(dir, 'missing.json')}`);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ "enabled": ');
    expect(() => readConfigFile(broken)).toThrow(`Heartbeat config ${broken} is not valid JSON`);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ default_interval: -5 }));
    expect(() => readConfigFile(bad)).toThrow(`Invalid heartbeat config ${bad}: "default_interval" is -5;`);
  });

  it('resolves a relative path against the working directory, and names the absolute path in errors', () => {
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      writeFileSync(join(dir, 'relative.json'), JSON.stringify({ default_interval: 2 }));
      expect(readConfigFile('relative.json')).toEqual({ default_interval: 2 });
      expect(() => readConfigFile('config/missing.json', 'HEARTBEAT_CONFIG')).toThrow(
        `Cannot read heartbeat config ${join(dir, 'config', 'missing.json')} (from HEARTBEAT_CONFIG)`,
      );
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('the keys added beside the seed', () => {
  it.each([
    ['history_size', -1, 'expected a whole number of at least 0'],
    ['history_size', 1.5, 'expected a whole number of at least 0'],
    ['history_size', 100_001, 'expected at most 100000'],
    ['recover_after', 0, 'expected a whole number of at least 1'],
    ['flap_threshold', 1, 'expected a whole number of at least 2'],
    ['flap_window', 0, 'expected a positive, finite number of seconds'],
    ['repeat_every', -5, 'expected a finite number of at least 0'],
    ['auto_register', 'yes', 'expected true or false'],
    ['max_services', 0, 'expected a whole number of at least 1'],
    ...notANumber.map((value): [string, unknown, string] => ['auto_register_ttl', value, 'expected a positive, finite number of seconds']),
    ['auto_register_ttl', 30, 'expected more than default_interval (30)'],
    ['log_level', 'constructor', 'expected one of "DEBUG"'],
    ['log_level', '__proto__', 'expected one of "DEBUG"'],
  ])('rejects %s = %p, naming the key', (key, value, expected) => {
    expect(() => resolveConfig({ [key]: value })).toThrow(`"${key}"`);
    expect(() => resolveConfig({ [key]: value })).toThrow(expected);
  });

  it('takes auto_register_ttl in seconds, 7 days by default, and more than default_interval', () => {
    expect(resolveConfig({}).auto_register_ttl).toBe(604_800);
    expect(resolveConfig({ auto_register_ttl: 90 }).auto_register_ttl).toBe(90);
    expect(() => resolveConfig({ default_interval: 120, auto_register_ttl: 90 })).toThrow(
      'Invalid heartbeat config: "auto_register_ttl" is 90; expected more than default_interval (120), e.g. 604800 (7 days).',
    );
  });
});
