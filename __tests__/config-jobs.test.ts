import { resolveConfig } from '../lib/core/config';
import { dependentsOf } from '../lib/core/dependencies';
import { ConfigError } from '../lib/util/validate';

/** The message a config is refused with, and the key the error names. */
function refusal(config: unknown): { message: string; key: string } {
  try {
    resolveConfig(config);
  } catch (error) {
    if (error instanceof ConfigError) return { message: error.message, key: error.key };
    throw error;
  }
  throw new Error('resolveConfig accepted the config');
}

describe('schedule, timezone and critical_after', () => {
  it('resolves a scheduled service, its interval being the gap between occurrences', () => {
    const config = resolveConfig({ services: { nightly: { schedule: '0 3 * * *', timezone: 'Europe/Berlin', critical_after: 1 } } });
    expect(config.services.nightly).toMatchObject({
      schedule: '0 3 * * *',
      timezone: 'Europe/Berlin',
      critical_after: 1,
      interval: 86_400,
    });
    expect(resolveConfig({ services: { fast: { schedule: '*/15 * * * * *' } } }).services.fast?.interval).toBe(15);
  });

  it.each([
    [
      { schedule: '61 * * * *' },
      'services.job.schedule',
      '"services.job.schedule" is "61 * * * *"; expected a valid cron expression (CronPattern: Invalid value for minute: 61)',
    ],
    [{ schedule: '* * *' }, 'services.job.schedule', '"services.job.schedule" is "* * *"; expected a valid cron expression'],
    [{ schedule: 5 }, 'services.job.schedule', '"services.job.schedule" is 5; expected a cron expression of five fields'],
    [{ schedule: '0 0 30 2 *' }, 'services.job.schedule', 'expected a schedule that fires again (this one has no future occurrence)'],
    [
      { schedule: '0 3 * * *', timezone: 'Mars/Base' },
      'services.job.timezone',
      '"services.job.timezone" is "Mars/Base"; expected an IANA time zone name',
    ],
    [{ timezone: 'UTC' }, 'services.job.timezone', 'expected no timezone without a schedule'],
    [{ schedule: '0 3 * * *', interval: 60 }, 'services.job.interval', 'expected no interval beside schedule'],
    [{ critical_after: 0 }, 'services.job.critical_after', '"services.job.critical_after" is 0; expected a whole number of at least 1'],
    [{ max_runtime: -1 }, 'services.job.max_runtime', '"services.job.max_runtime" is -1; expected a positive, finite number'],
    [{ min_runtime: '5' }, 'services.job.min_runtime', '"services.job.min_runtime" is "5"; expected a positive, finite number'],
    [
      { max_runtime: 10, min_runtime: 10 },
      'services.job.min_runtime',
      '"services.job.min_runtime" is 10; expected less than max_runtime (10)',
    ],
  ])('refuses %p, naming %s', (service, key, message) => {
    const refused = refusal({ services: { job: service } });
    expect(refused.key).toBe(key);
    expect(refused.message).toContain(message);
  });
});

describe('depends_on', () => {
  it('resolves dependencies and finds dependents through chains', () => {
    const config = resolveConfig({
      services: {
        db: {},
        save_worker: { depends_on: ['db'] },
        web_listener: {},
        web_listener_check: { depends_on: ['web_listener', 'save_worker'] },
      },
    });
    expect(config.services.web_listener_check?.depends_on).toEqual(['web_listener', 'save_worker']);
    expect(dependentsOf(config.services, 'db')).toEqual(['save_worker', 'web_listener_check']);
    expect(dependentsOf(config.services, 'web_listener_check')).toEqual([]);
  });

  it('accepts a diamond, and lists each dependent once', () => {
    const config = resolveConfig({
      services: { db: {}, cache: { depends_on: ['db'] }, api: { depends_on: ['db'] }, web: { depends_on: ['api', 'cache'] } },
    });
    expect(dependentsOf(config.services, 'db')).toEqual(['cache', 'api', 'web']);
  });

  it('names a few of the services an unknown dependency could have been', () => {
    const services = Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f'].map((tag) => [tag, {}]));
    const refused = refusal({ services: { ...services, g: { depends_on: ['h'] } } });
    expect(refused.message).toContain('(one of "a", "b", "c", "d", "e", …)');
  });

  it.each([
    [
      { a: { depends_on: ['nope'] } },
      'services.a.depends_on[0]',
      '"services.a.depends_on[0]" is "nope"; expected the name of a service listed in services',
    ],
    [{ a: { depends_on: ['a'] } }, 'services.a.depends_on[0]', 'expected another service: a service cannot depend on itself'],
    [{ a: { depends_on: 'b' }, b: {} }, 'services.a.depends_on', 'expected an array of service names'],
    [
      { a: { depends_on: ['b'] }, b: { depends_on: ['c'] }, c: { depends_on: ['a'] } },
      'services.a.depends_on',
      '"services.a.depends_on" is "a -> b -> c -> a"; expected dependencies without a cycle',
    ],
  ])('refuses %p, naming %s', (services, key, message) => {
    const refused = refusal({ services });
    expect(refused.key).toBe(key);
    expect(refused.message).toContain(message);
  });
});

describe('maintenance', () => {
  it('resolves both forms', () => {
    const config = resolveConfig({
      services: { a: {} },
      maintenance: [
        { services: '*', cron: '0 2 * * SUN', duration: 3600, timezone: 'Europe/Berlin' },
        { services: ['a'], start: '2026-12-01T22:00:00+01:00', end: '2026-12-01T23:00:00Z' },
      ],
    });
    expect(config.maintenance).toEqual([
      { services: '*', cron: '0 2 * * SUN', duration: 3600, timezone: 'Europe/Berlin', start: null, end: null },
      { services: ['a'], cron: null, duration: null, timezone: null, start: '2026-12-01T21:00:00.000Z', end: '2026-12-01T23:00:00.000Z' },
    ]);
  });

  it.each([
    [
      { services: '*', cron: '0 2 * * *' },
      'maintenance[0].duration',
      '"maintenance[0].duration" is undefined; expected a positive, finite number',
    ],
    [
      { services: '*', cron: 'nope', duration: 60 },
      'maintenance[0].cron',
      '"maintenance[0].cron" is "nope"; expected a valid cron expression',
    ],
    [
      { services: '*' },
      'maintenance[0]',
      'expected either { services, cron, duration, timezone? } (recurring) or { services, start, end } (once)',
    ],
    [{ services: '*', cron: '0 2 * * *', duration: 60, start: '2026-12-01T22:00:00Z' }, 'maintenance[0]', 'expected either'],
    [
      { services: ['ghost'], start: '2026-12-01T22:00:00Z', end: '2026-12-01T23:00:00Z' },
      'maintenance[0].services[0]',
      '"maintenance[0].services[0]" is "ghost"',
    ],
    [
      { services: [], start: '2026-12-01T22:00:00Z', end: '2026-12-01T23:00:00Z' },
      'maintenance[0].services',
      'expected "*" for every service, or a non-empty array',
    ],
    [
      { services: '*', start: '2026-12-01 22:00', end: '2026-12-01T23:00:00Z' },
      'maintenance[0].start',
      'expected an ISO 8601 time with a zone',
    ],
    [{ services: '*', start: '2026-12-01T23:00:00Z', end: '2026-12-01T22:00:00Z' }, 'maintenance[0].end', 'expected a time after start'],
    [{ services: '*', cron: '0 2 * * *', duration: 60, timezone: 'Nowhere' }, 'maintenance[0].timezone', 'expected an IANA time zone name'],
    [
      { services: '*', cron: '0 * * * *', duration: 7200 },
      'maintenance[0].duration',
      '"maintenance[0].duration" is 7200; expected at most the time between two openings of its cron (3600 seconds)',
    ],
    [
      { services: '*', cron: '0 2 * * MON,TUE', duration: 2 * 86_400 },
      'maintenance[0].duration',
      'expected at most the time between two openings of its cron (86400 seconds)',
    ],
  ])('refuses %p, naming %s', (window, key, message) => {
    const refused = refusal({ services: { a: {} }, maintenance: [window] });
    expect(refused.key).toBe(key);
    expect(refused.message).toContain(message);
  });

  it('refuses a list that is not one, or too long', () => {
    expect(refusal({ maintenance: {} }).key).toBe('maintenance');
    const many = Array.from({ length: 101 }, () => ({ services: '*', cron: '0 2 * * *', duration: 60 }));
    expect(refusal({ maintenance: many }).message).toContain('expected at most 100 windows');
  });
});
