import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, OptionReader } from '../util/validate';
import { checkDependencies } from './dependencies';
import { readMaintenance, type MaintenanceWindow, type ResolvedMaintenanceWindow } from './maintenance';
import { readSchedule, typicalGapSeconds } from './schedule';

export type { MaintenanceWindow, ResolvedMaintenanceWindow } from './maintenance';

/** Per-service settings in the config's `services` map. */
export interface ServiceConfig {
  /** Seconds between pulses. Defaults to `default_interval`. */
  readonly interval?: number;
  /** Whether this service going critical makes the whole system critical. Defaults to `true`. */
  readonly critical?: boolean;
  /** Seconds of slack after each interval before a beat counts as missed. Defaults to the global `grace`. */
  readonly grace?: number;
  /**
   * A cron expression (five fields, or six with seconds first), e.g. `0 3 * * *`: the service is
   * expected at each occurrence plus its grace instead of every interval, and each missed
   * occurrence is one missed beat. Replaces `interval`. Defaults to none.
   */
  readonly schedule?: string;
  /** The IANA time zone `schedule` is written in, e.g. `Europe/Berlin`. Defaults to the server's local time. */
  readonly timezone?: string;
  /** Missed beats from which this service is critical, e.g. `1` for a daily job. Defaults to the global `critical_after`. */
  readonly critical_after?: number;
  /** Seconds a job run may stay open: past it the service is warning, past twice it critical. Defaults to none. */
  readonly max_runtime?: number;
  /** Seconds a successful job run should take at least: a faster one leaves the service warning until a run of normal length. Defaults to none. */
  readonly min_runtime?: number;
  /** Services this one needs, by tag: while one of them is degraded or critical, this one's alerts are held. Defaults to none. */
  readonly depends_on?: readonly string[];
  /**
   * Whether the service runs elsewhere and pulses over HTTP (a cron job, a C# component): with
   * a store shared by several replicas (`redisStore()`), its state and alerts are shared by all
   * of them from the start, before its first remote call. Defaults to `false`; a service becomes
   * remote anyway at its first remote call.
   */
  readonly remote?: boolean;
  /**
   * The section of the status page the service is shown in, e.g. `"Workers"`: a non-empty
   * string of at most 100 characters. Defaults to none: with no group configured the page is one
   * list.
   */
  readonly group?: string;
}

/**
 * The seed's `HEARTBEAT_CONFIG`, snake_case as in the document, all keys optional.
 * A service listed in `services` is expected to run: it counts from the manager's creation,
 * and its settings here win over the ones its code passes, so operators tune without a deploy.
 */
export interface HeartbeatConfig {
  /** `false` turns every heartbeat into a no-op and reports the system `offline`. Defaults to `true`. */
  readonly enabled?: boolean;
  /** Seconds between pulses for a heartbeat created without an interval. Defaults to `30`. */
  readonly default_interval?: number;
  /** Missed beats from which a service is degraded. Defaults to `3`. */
  readonly timeout_multiplier?: number;
  /** Missed beats from which a service is critical; at least `timeout_multiplier`. Defaults to `5`, or `timeout_multiplier` if higher. */
  readonly critical_after?: number;
  /** Whether missed beats raise alerts (reported errors always do). Defaults to `true`. */
  readonly alert_on_miss?: boolean;
  /** Level of the health log: `DEBUG`, `INFO`, `WARNING`, `ERROR`, `CRITICAL` (or pino's words). Defaults to `INFO`. */
  readonly log_level?: string;
  /** Seconds of slack after each interval before a beat counts as missed. Defaults to 10% of each service's interval. */
  readonly grace?: number;
  /** Status changes kept per service for the history endpoints. Defaults to `1000`. */
  readonly history_size?: number;
  /** On-time pulses needed before a recovery is announced to alert targets. Defaults to `1`. */
  readonly recover_after?: number;
  /** A service with more than this many status changes within `flap_window` is flapping: alerted once, then held. Defaults to `5`. */
  readonly flap_threshold?: number;
  /** Seconds over which status changes are counted for flapping, and of calm before a flapping service counts as stable. Defaults to `600`. */
  readonly flap_window?: number;
  /** Seconds between reminders for a service that stays critical; `0` sends none. Defaults to `0`. */
  readonly repeat_every?: number;
  /** Bearer token for remote pulses and for details under `details: 'when-authorized'`. Defaults to none: remote pulses off. */
  readonly remote_token?: string;
  /** Let remote pulses create services that are not in `services`. Defaults to `false`. */
  readonly auto_register?: boolean;
  /** Most services remote pulses may create with `auto_register`. Defaults to `1000`. */
  readonly max_services?: number;
  /** Seconds without a pulse after which a service created by `auto_register` is removed; more than `default_interval`. Defaults to `604800` (7 days). */
  readonly auto_register_ttl?: number;
  /** Seconds between saves of the counters to the manager's `store`, at most; transitions are saved at once. Defaults to `1`. */
  readonly flush_interval?: number;
  /** Days of daily rollups kept per service for `/service/{name}/history?days=N`. Defaults to `90`. */
  readonly retention_days?: number;
  /** Services expected to run, by tag. Defaults to none. */
  readonly services?: Readonly<Record<string, ServiceConfig>>;
  /** Times when services are paused for maintenance: recurring (`cron`, `duration`) or once (`start`, `end`). Defaults to none. */
  readonly maintenance?: readonly MaintenanceWindow[];
}

/**
 * A pino level, which the config's `log_level` becomes: `WARNING` is `warn`, `CRITICAL` is `fatal`.
 *
 * @inline
 */
export type PinoLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** One service of the effective config's `services`, every setting filled in. */
export interface ResolvedServiceConfig {
  /** Seconds between pulses. */
  readonly interval: number;
  /** Whether this service going critical makes the whole system critical. */
  readonly critical: boolean;
  /** `null` means 10% of the interval. */
  readonly grace: number | null;
  /** The cron expression it is expected on, or `null` for every `interval`. */
  readonly schedule: string | null;
  /** The time zone of `schedule`, or `null` for the server's local time. */
  readonly timezone: string | null;
  /** Missed beats from which this service is critical: its own, or the global `critical_after`. */
  readonly critical_after: number;
  /** Seconds a job run may stay open before the service is warning, or `null` for no limit. */
  readonly max_runtime: number | null;
  /** Seconds a successful job run should take at least, or `null`. */
  readonly min_runtime: number | null;
  /** The services whose outage holds this one's alerts. */
  readonly depends_on: readonly string[];
  /** Whether it runs elsewhere and pulses over HTTP: shared by replicas from the start. */
  readonly remote: boolean;
  /** The status page's section it is shown in, or `null` for none. */
  readonly group: string | null;
}

/** The effective config: every key present, as `getConfig().heartbeat` shows it. */
export interface ResolvedHeartbeatConfig {
  /** `false` when every heartbeat is a no-op and the system reports `offline`. */
  readonly enabled: boolean;
  /** Seconds between pulses for a heartbeat created without an interval. */
  readonly default_interval: number;
  /** Missed beats from which a service is degraded. */
  readonly timeout_multiplier: number;
  /** Missed beats from which a service is critical; never below `timeout_multiplier`. */
  readonly critical_after: number;
  /** Whether missed beats raise alerts (reported errors always do). */
  readonly alert_on_miss: boolean;
  /** Level of the health log, in pino's words. */
  readonly log_level: PinoLevel;
  /** Seconds of slack after each interval before a beat counts as missed; `null` means 10% of each service's interval. */
  readonly grace: number | null;
  /** Status changes kept per service for the history endpoints. */
  readonly history_size: number;
  /** On-time pulses needed before a recovery is announced to alert targets. */
  readonly recover_after: number;
  /** A service with more than this many status changes within `flap_window` is flapping. */
  readonly flap_threshold: number;
  /** Seconds over which status changes are counted for flapping, and of calm before a flapping service counts as stable. */
  readonly flap_window: number;
  /** Seconds between reminders for a service that stays critical; `0` sends none. */
  readonly repeat_every: number;
  /** Bearer token for remote pulses and authorized details; `null` turns remote pulses off. */
  readonly remote_token: string | null;
  /** Whether remote pulses may create services that are not in `services`. */
  readonly auto_register: boolean;
  /** Most services remote pulses may create with `auto_register`. */
  readonly max_services: number;
  /** Seconds without a pulse after which a service created by `auto_register` is removed. */
  readonly auto_register_ttl: number;
  /** Seconds between saves of the counters to the manager's `store`, at most. */
  readonly flush_interval: number;
  /** Days of daily rollups kept per service. */
  readonly retention_days: number;
  /** Services expected to run, by tag. */
  readonly services: Readonly<Record<string, ResolvedServiceConfig>>;
  /** The maintenance windows. */
  readonly maintenance: readonly ResolvedMaintenanceWindow[];
}

/** The effective config when nothing is configured: what `resolveConfig({})` returns. Frozen. */
export const DEFAULT_CONFIG: ResolvedHeartbeatConfig = Object.freeze({
  enabled: true,
  default_interval: 30,
  timeout_multiplier: 3,
  critical_after: 5,
  alert_on_miss: true,
  log_level: 'info',
  grace: null,
  history_size: 1000,
  recover_after: 1,
  flap_threshold: 5,
  flap_window: 600,
  repeat_every: 0,
  remote_token: null,
  auto_register: false,
  max_services: 1000,
  auto_register_ttl: 604_800,
  flush_interval: 1,
  retention_days: 90,
  services: Object.freeze({}),
  maintenance: Object.freeze([]),
});

/** The share of an interval allowed as slack when no grace is configured. */
export const DEFAULT_GRACE_RATIO = 0.1;

/** Most status changes kept per service: history is memory, so it has a ceiling. */
export const MAX_HISTORY_SIZE = 100_000;

/** Most days of daily rollups kept: ten years, 3,653 entries of six numbers per service. */
export const MAX_RETENTION_DAYS = 3653;

/** Longest tag accepted: tags become JSON keys, metric labels and log fields. */
export const MAX_TAG_LENGTH = 200;

const CONFIG_KEYS = [
  'enabled',
  'default_interval',
  'timeout_multiplier',
  'critical_after',
  'alert_on_miss',
  'log_level',
  'grace',
  'history_size',
  'recover_after',
  'flap_threshold',
  'flap_window',
  'repeat_every',
  'remote_token',
  'auto_register',
  'max_services',
  'auto_register_ttl',
  'flush_interval',
  'retention_days',
  'services',
  'maintenance',
] as const;
const SERVICE_KEYS = [
  'interval',
  'critical',
  'grace',
  'schedule',
  'timezone',
  'critical_after',
  'max_runtime',
  'min_runtime',
  'depends_on',
  'remote',
  'group',
] as const;

/** The longest `group` name: a section heading, not a description. */
const MAX_GROUP_LENGTH = 100;

/** Python's level names (as in the seed) and pino's, case-insensitive. */
const LEVELS: Readonly<Record<string, PinoLevel>> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  critical: 'fatal',
  fatal: 'fatal',
  silent: 'silent',
};

/**
 * Checks a config object and fills in the defaults. Throws a {@link ConfigError} naming the
 * key, the bad value and what is expected. The caller's object is never mutated.
 */
export function resolveConfig(input: unknown, source = 'heartbeat config'): ResolvedHeartbeatConfig {
  const read = new OptionReader(`Invalid ${source}`);
  const raw = read.object('', input ?? {}, CONFIG_KEYS);

  const pick = (key: (typeof CONFIG_KEYS)[number]): boolean => raw[key] !== undefined;
  const enabled = pick('enabled') ? read.boolean('enabled', raw.enabled) : DEFAULT_CONFIG.enabled;
  const defaultInterval = pick('default_interval')
    ? readInterval(read, 'default_interval', raw.default_interval)
    : DEFAULT_CONFIG.default_interval;
  const timeoutMultiplier = pick('timeout_multiplier')
    ? read.integer('timeout_multiplier', raw.timeout_multiplier, 1, 'of missed beats, e.g. 3')
    : DEFAULT_CONFIG.timeout_multiplier;
  const criticalAfter = pick('critical_after')
    ? read.integer('critical_after', raw.critical_after, 1, 'of missed beats, e.g. 5')
    : Math.max(DEFAULT_CONFIG.critical_after, timeoutMultiplier);
  if (criticalAfter < timeoutMultiplier) {
    read.fail('critical_after', criticalAfter, `at least timeout_multiplier (${timeoutMultiplier})`);
  }
  const alertOnMiss = pick('alert_on_miss') ? read.boolean('alert_on_miss', raw.alert_on_miss) : true;
  const logLevel = pick('log_level') ? resolveLevel(read, raw.log_level) : DEFAULT_CONFIG.log_level;
  const grace = pick('grace') ? read.nonNegativeNumber('grace', raw.grace, 'of seconds, e.g. 3') : null;
  const historySize = pick('history_size')
    ? read.integer('history_size', raw.history_size, 0, 'of status changes, e.g. 1000')
    : DEFAULT_CONFIG.history_size;
  if (historySize > MAX_HISTORY_SIZE) read.fail('history_size', historySize, `at most ${MAX_HISTORY_SIZE}`);
  const recoverAfter = pick('recover_after')
    ? read.integer('recover_after', raw.recover_after, 1, 'of pulses, e.g. 2')
    : DEFAULT_CONFIG.recover_after;
  const flapThreshold = pick('flap_threshold')
    ? read.integer('flap_threshold', raw.flap_threshold, 2, 'of status changes, e.g. 5')
    : DEFAULT_CONFIG.flap_threshold;
  const flapWindow = pick('flap_window')
    ? read.positiveNumber('flap_window', raw.flap_window, 'of seconds, e.g. 600')
    : DEFAULT_CONFIG.flap_window;
  const repeatEvery = pick('repeat_every')
    ? read.nonNegativeNumber('repeat_every', raw.repeat_every, 'of seconds, e.g. 3600 (0 turns reminders off)')
    : 0;
  const remoteToken = pick('remote_token') ? checkToken(read, raw.remote_token) : null;
  const autoRegister = pick('auto_register') ? read.boolean('auto_register', raw.auto_register) : false;
  const maxServices = pick('max_services')
    ? read.integer('max_services', raw.max_services, 1, 'of services, e.g. 1000')
    : DEFAULT_CONFIG.max_services;
  const autoRegisterTtl = pick('auto_register_ttl')
    ? read.positiveNumber('auto_register_ttl', raw.auto_register_ttl, 'of seconds, e.g. 604800 (7 days)')
    : DEFAULT_CONFIG.auto_register_ttl;
  // A service pulsing on time must never expire between two pulses.
  if (autoRegisterTtl <= defaultInterval) {
    read.fail('auto_register_ttl', autoRegisterTtl, `more than default_interval (${defaultInterval}), e.g. 604800 (7 days)`);
  }

  const flushInterval = pick('flush_interval')
    ? read.positiveNumber('flush_interval', raw.flush_interval, 'of seconds, e.g. 1')
    : DEFAULT_CONFIG.flush_interval;
  // A Node timer cannot wait longer, and a save less often than daily would make a crash cost a day of counts.
  if (flushInterval < 0.01 || flushInterval > 86_400) {
    read.fail('flush_interval', flushInterval, 'from 0.01 to 86400 seconds, e.g. 1');
  }
  const retentionDays = pick('retention_days')
    ? read.integer('retention_days', raw.retention_days, 1, 'of days, e.g. 90')
    : DEFAULT_CONFIG.retention_days;
  if (retentionDays > MAX_RETENTION_DAYS) read.fail('retention_days', retentionDays, `at most ${MAX_RETENTION_DAYS} (ten years)`);

  const services: Record<string, ResolvedServiceConfig> = Object.create(null) as Record<string, ResolvedServiceConfig>;
  if (pick('services')) {
    const given = read.object('services', raw.services, null);
    for (const tag of Object.keys(given)) {
      checkTag(read, `services`, tag);
      services[tag] = readService(read, `services.${tag}`, given[tag], { defaultInterval, grace, criticalAfter });
    }
    checkDependencies(read, new Map(Object.entries(services).map(([tag, service]) => [tag, service.depends_on])));
  }
  const maintenance = pick('maintenance') ? readMaintenance(read, raw.maintenance, new Set(Object.keys(services))) : [];

  return Object.freeze({
    enabled,
    default_interval: defaultInterval,
    timeout_multiplier: timeoutMultiplier,
    critical_after: criticalAfter,
    alert_on_miss: alertOnMiss,
    log_level: logLevel,
    grace,
    history_size: historySize,
    recover_after: recoverAfter,
    flap_threshold: flapThreshold,
    flap_window: flapWindow,
    repeat_every: repeatEvery,
    remote_token: remoteToken,
    auto_register: autoRegister,
    max_services: maxServices,
    auto_register_ttl: autoRegisterTtl,
    flush_interval: flushInterval,
    retention_days: retentionDays,
    services: Object.freeze(services),
    maintenance: Object.freeze(maintenance),
  });
}

/** Reads one entry of `services`, filling in the global settings it does not override. */
function readService(
  read: OptionReader,
  key: string,
  value: unknown,
  globals: { defaultInterval: number; grace: number | null; criticalAfter: number },
): ResolvedServiceConfig {
  const entry = read.object(key, value, SERVICE_KEYS);
  const given = (name: (typeof SERVICE_KEYS)[number]): boolean => entry[name] !== undefined;
  let interval = given('interval') ? readInterval(read, `${key}.interval`, entry.interval) : globals.defaultInterval;
  let schedule: string | null = null;
  if (given('schedule')) {
    if (given('interval')) {
      read.fail(`${key}.interval`, entry.interval, 'no interval beside schedule: a scheduled service is expected at each occurrence');
    }
    const parsed = readSchedule(read, key, entry.schedule, entry.timezone);
    schedule = parsed.expression;
    // What it shows as its interval, and what its default grace (10%) and amnesty come from.
    interval = typicalGapSeconds(parsed, Date.now());
  } else if (given('timezone')) {
    read.fail(`${key}.timezone`, entry.timezone, 'no timezone without a schedule: it says which zone the schedule is written in');
  }
  const maxRuntime = given('max_runtime') ? read.positiveNumber(`${key}.max_runtime`, entry.max_runtime, 'of seconds, e.g. 600') : null;
  const minRuntime = given('min_runtime') ? read.positiveNumber(`${key}.min_runtime`, entry.min_runtime, 'of seconds, e.g. 5') : null;
  if (maxRuntime !== null && minRuntime !== null && minRuntime >= maxRuntime) {
    read.fail(`${key}.min_runtime`, minRuntime, `less than max_runtime (${maxRuntime})`);
  }
  return Object.freeze({
    interval,
    critical: given('critical') ? read.boolean(`${key}.critical`, entry.critical) : true,
    grace: given('grace') ? read.nonNegativeNumber(`${key}.grace`, entry.grace, 'of seconds, e.g. 3') : globals.grace,
    schedule,
    timezone: schedule !== null && given('timezone') ? (entry.timezone as string) : null,
    critical_after: given('critical_after')
      ? read.integer(`${key}.critical_after`, entry.critical_after, 1, 'of missed beats, e.g. 1 for a daily job')
      : globals.criticalAfter,
    max_runtime: maxRuntime,
    min_runtime: minRuntime,
    depends_on: given('depends_on') ? readNames(read, `${key}.depends_on`, entry.depends_on) : Object.freeze([]),
    remote: given('remote') ? read.boolean(`${key}.remote`, entry.remote) : false,
    group: given('group') ? readGroup(read, `${key}.group`, entry.group) : null,
  });
}

function readGroup(read: OptionReader, key: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_GROUP_LENGTH) {
    read.fail(key, value, `a non-empty string of at most ${MAX_GROUP_LENGTH} characters naming the status page's section, e.g. "Workers"`);
  }
  return value;
}

function readNames(read: OptionReader, key: string, value: unknown): readonly string[] {
  if (!Array.isArray(value)) read.fail(key, value, 'an array of service names, e.g. ["save_worker"]');
  for (const [index, name] of (value as unknown[]).entries()) {
    if (typeof name !== 'string') read.fail(`${key}[${index}]`, name, 'a service name, e.g. "save_worker"');
  }
  return Object.freeze([...new Set(value as string[])]);
}

function resolveLevel(read: OptionReader, value: unknown): PinoLevel {
  // An own-property lookup: "constructor" or "__proto__" must not find Object's members.
  const level = typeof value === 'string' && Object.hasOwn(LEVELS, value.toLowerCase()) ? LEVELS[value.toLowerCase()] : undefined;
  if (!level) read.fail('log_level', value, 'one of "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL" (or a pino level)');
  return level;
}

/** Shortest remote token accepted: a guessable token would let anyone report for any service. */
export const MIN_TOKEN_LENGTH = 16;

/** What a token may hold: printable ASCII without spaces, the characters every HTTP client sends as they are. */
const TOKEN_CHARACTER = /^[\x21-\x7E]$/;

function checkToken(read: OptionReader, value: unknown): string {
  const problem = tokenProblem(value);
  if (problem) {
    // Never echo a token back, not even a bad one: it may be a real secret with a typo.
    throw new ConfigError(
      `${read.context}: "remote_token" is not valid: ${problem}; expected at least ${MIN_TOKEN_LENGTH} printable ASCII characters (! to ~, no spaces), e.g. from \`openssl rand -hex 32\`.`,
      'remote_token',
    );
  }
  return value as string;
}

/** What is wrong with a token, said without any of its characters. */
function tokenProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'it is not a string';
  let position = 0;
  for (const character of value) {
    position++;
    if (TOKEN_CHARACTER.test(character)) continue;
    const code = character.codePointAt(0) as number;
    const what = /\s/.test(character) ? 'a space or line break' : code > 0x7f ? 'not ASCII' : 'a control character';
    return `character ${position} is ${what}`;
  }
  if (value.length < MIN_TOKEN_LENGTH) return `it is shorter than ${MIN_TOKEN_LENGTH} characters`;
  return undefined;
}

/** The shortest interval accepted, in seconds: timers wait in whole milliseconds, so a shorter one cannot be watched. */
export const MIN_INTERVAL_SECONDS = 0.001;

/** Reads an interval in seconds: positive, finite, and at least {@link MIN_INTERVAL_SECONDS}. */
export function readInterval(read: OptionReader, key: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < MIN_INTERVAL_SECONDS) {
    read.fail(key, value, `a positive, finite number of seconds, at least ${MIN_INTERVAL_SECONDS} (one millisecond), e.g. 30`);
  }
  return value;
}

/** Reads a tag: a non-empty string of at most {@link MAX_TAG_LENGTH} characters. */
export function checkTag(read: OptionReader, key: string, tag: unknown): string {
  if (typeof tag !== 'string' || tag.length === 0 || tag.length > MAX_TAG_LENGTH) {
    read.fail(key, tag, `a non-empty string of at most ${MAX_TAG_LENGTH} characters, e.g. "save_worker"`);
  }
  return tag;
}

/**
 * Reads and checks a JSON config file, e.g. the one named by the `HEARTBEAT_CONFIG`
 * environment variable, for `new HeartbeatManager({ config })`. A relative `path` is resolved
 * against the working directory, and errors name the absolute path, so a wrong directory
 * shows at a glance. `source` says where the path came from, e.g. `"HEARTBEAT_CONFIG"`.
 */
export function readConfigFile(path: string, source?: string): HeartbeatConfig {
  const origin = `${resolve(path)}${source ? ` (from ${source})` : ''}`;
  let text: string;
  try {
    text = readFileSync(resolve(path), 'utf8');
  } catch (error) {
    throw new ConfigError(`Cannot read heartbeat config ${origin}: ${(error as Error).message}`, '');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`Heartbeat config ${origin} is not valid JSON: ${(error as Error).message}`, '');
  }
  resolveConfig(parsed, `heartbeat config ${origin}`);
  return parsed as HeartbeatConfig;
}

/** Grace in milliseconds for a service: configured seconds, or 10% of its interval. */
export function graceMs(graceSeconds: number | null, intervalSeconds: number): number {
  return (graceSeconds ?? intervalSeconds * DEFAULT_GRACE_RATIO) * 1000;
}
