import { checkTag, MAX_HISTORY_SIZE, MIN_INTERVAL_SECONDS } from './config';
import { MAX_ERROR_LENGTH, MAX_HISTORY_REASON } from './limits';
import { DAY, MAX_EXCLUDED_SPANS, MINUTE, UPTIME_MINUTES, type UptimeState } from './uptime';
import type { DailyRollups, DayTotals, RollupsState } from './rollups';
import type { ServiceRecord } from './service-record';
import { CRITICAL_ERROR, ERROR_REPORTED, NO_ERROR, STATUS_WORDS, type ServiceStatus, type StatusRank } from './status';
import { NewerStateError, StateReader, join } from './state-check';
import { wallOffset, type Clock } from '../util/clock';

/** The version {@link captureService} writes; {@link restoreService} reads it and refuses newer ones. */
export const SERVICE_STATE_VERSION = 1;

/** Most days of rollups a state may hold: a century, far past any sane `retention_days`. */
const MAX_ROLLUP_DAYS = 36_600;

const STATUSES: readonly ServiceStatus[] = ['healthy', 'warning', 'degraded', 'critical'];

/** One transition as persisted: [wall ms, from, to, reason]. Tuples, since a service may hold `history_size` of them. */
export type PersistedTransition = [time: number, from: ServiceStatus, to: ServiceStatus, reason: string];

/**
 * The counters of one service, as plain JSON in wall-clock ms: what changes with every pulse,
 * so what the manager saves every `flush_interval` (see `saved-entries.ts`) and what a
 * {@link PersistedService} begins with.
 */
export interface ServiceCounters {
  readonly tag: string;
  /** Registered by a remote pulse: the next process creates it again. */
  readonly remote: boolean;
  /** Those of the last run: a remote service is created with them, a configured one takes its config's. */
  readonly settings: { readonly interval_ms: number; readonly grace_ms: number; readonly critical: boolean };
  readonly total_pulses: number;
  readonly error_count: number;
  readonly started_at: number | null;
  readonly last_heartbeat: number | null;
  readonly last_error: { readonly message: string; readonly time: number; readonly critical: boolean } | null;
  /** Errors reported since the last pulse, while there are any: [1 for a warning or 2 for critical, how many]. */
  readonly open_errors?: readonly [level: 1 | 2, count: number];
}

/**
 * What survives a restart of one service (issue 16), as plain JSON: every time is wall-clock
 * ms, since the next process's monotonic clock has another origin.
 */
export interface PersistedService extends ServiceCounters {
  /** {@link SERVICE_STATE_VERSION} when written. */
  readonly v: number;
  /** Oldest first, at most `history_size`. */
  readonly transitions: readonly PersistedTransition[];
  readonly uptime: {
    /** When watching began: ratios cover at most the time since. */
    readonly since: number;
    /** Start of an outage still open at the capture, or null. */
    readonly down_since: number | null;
    /**
     * Minutes of the last 7 days holding downtime, oldest first, as [wall minute (wall ms /
     * 60,000), seconds], or [first minute, seconds, count] for a run of `count` minutes that
     * each hold the same seconds: a week-long outage is one entry, not 10,080.
     */
    readonly minutes: ReadonlyArray<readonly [number, number] | readonly [number, number, number]>;
    /** Spans the monitor was offline, oldest first, as [start, end). */
    readonly offline: ReadonlyArray<readonly [number, number]>;
  };
  /** The service's daily rollups, when it keeps them. */
  readonly rollups?: RollupsState;
}

/** The counters of `record` in wall ms, `wallOffset` being wall ms − monotonic ms. */
export function captureCounters(record: ServiceRecord, wallOffset: number, remote: boolean): ServiceCounters {
  const wall = (monotonic: number): number => Math.round(monotonic + wallOffset);
  const counters: ServiceCounters = {
    tag: record.tag,
    remote,
    settings: { interval_ms: record.intervalMs, grace_ms: record.graceMs, critical: record.critical },
    total_pulses: record.totalPulses,
    error_count: record.errorCount,
    started_at: Number.isNaN(record.startedAt) ? null : wall(record.startedAt),
    last_heartbeat: record.signed ? wall(record.lastSignAt) : null,
    last_error:
      record.lastErrorMessage === null
        ? null
        : { message: record.lastErrorMessage, time: wall(record.lastErrorAt), critical: record.lastErrorCritical },
  };
  return record.errorLevel === NO_ERROR ? counters : { ...counters, open_errors: [record.errorLevel, record.errorsSinceSign] };
}

/**
 * Puts checked `counters` into `record`; `monotonic` turns a wall time into the record's clock.
 * Counters are absolute, so applying the same ones twice changes nothing.
 */
export function applyCounters(record: ServiceRecord, counters: ServiceCounters, monotonic: (wall: number) => number): void {
  record.totalPulses = counters.total_pulses;
  record.errorCount = counters.error_count;
  record.startedAt = counters.started_at === null ? Number.NaN : monotonic(counters.started_at);
  record.signed = counters.last_heartbeat !== null;
  if (counters.last_heartbeat !== null) record.lastSignAt = monotonic(counters.last_heartbeat);
  if (counters.last_error === null) {
    record.lastErrorMessage = null;
  } else {
    record.lastErrorMessage = counters.last_error.message;
    record.lastErrorAt = monotonic(counters.last_error.time);
    record.lastErrorCritical = counters.last_error.critical;
  }
  record.errorLevel = counters.open_errors?.[0] ?? NO_ERROR;
  record.errorsSinceSign = counters.open_errors?.[1] ?? 0;
}

/** A wall offset (wall ms − monotonic ms, see `wallOffset()` in lib/util/clock.ts) turns each stored time to wall ms. */
export function captureService(
  record: ServiceRecord,
  wallOffset: number,
  extras: { readonly remote?: boolean; readonly rollups?: DailyRollups } = {},
): PersistedService {
  const wall = (monotonic: number): number => Math.round(monotonic + wallOffset);
  // A bucket goes to the wall minute holding its middle: at most half a minute off, never split.
  const wallMinute = (minute: number): number => Math.round(minute + wallOffset / MINUTE);
  const uptime = record.uptime.state();
  const state: PersistedService = {
    v: SERVICE_STATE_VERSION,
    ...captureCounters(record, wallOffset, extras.remote ?? false),
    transitions: record.history.toArray().map((entry) => [wall(entry.at), entry.from, entry.to, entry.reason]),
    uptime: {
      since: wall(uptime.since),
      down_since: uptime.downSince === null ? null : wall(uptime.downSince),
      minutes: runsOf(uptime.minutes.map(([minute, seconds]) => [wallMinute(minute), seconds])),
      // A span shorter than a millisecond rounds to nothing, which no reader takes for a span.
      offline: uptime.excluded.map(([start, end]) => [wall(start), wall(end)] as const).filter(([start, end]) => end > start),
    },
  };
  return extras.rollups ? { ...state, rollups: extras.rollups.state() } : state;
}

/**
 * Puts `state` (parsed JSON, not trusted) back into `record`, a fresh record of the same tag
 * on `clock`: times before this process began become negative monotonic ms, which the record,
 * its log and its tracker handle, and times after the clock's now (a wall clock stepped back)
 * become now. `rollups`, if given, takes the state's rollups. Everything is checked before anything is applied: a
 * bad state throws `StateFormatError` (state-check.ts) naming the field and leaves the record untouched.
 *
 * The record's settings are not changed: whoever creates it picks them (see {@link PersistedService.settings}).
 */
export function restoreService(record: ServiceRecord, state: unknown, clock: Clock, rollups?: DailyRollups): void {
  const checked = readServiceState(state, record.tag);
  if (record.history.size > 0 || record.totalPulses > 0 || record.errorCount > 0) {
    throw new Error(`restoreService: the record of "${record.tag}" is not fresh; restoring into it would count its past twice`);
  }
  const now = clock.now();
  const offset = wallOffset(clock);
  // A wall clock stepped back since the capture would put its latest times in the future: they become now.
  const monotonic = (wall: number): number => Math.min(wall - offset, now);
  const lastMinute = Math.floor(now / MINUTE);
  applyCounters(record, checked, monotonic);
  // Never pulsed: misses count from when watching began, as they did before the restart.
  if (!record.signed) record.lastSignAt = monotonic(checked.uptime.since);
  for (const [time, from, to, reason] of checked.transitions) record.history.push({ at: monotonic(time), from, to, reason });
  // The watcher compares each status with the last one reported: without this, a service that
  // was down would recover unannounced (its outage never closed) and a still-critical one be announced again.
  // Its missed count stays 0: the watcher recounts it from the restored last heartbeat.
  const last = checked.transitions[checked.transitions.length - 1];
  if (last !== undefined) record.reportedRank = STATUS_WORDS.indexOf(last[2]) as StatusRank;
  const uptime: UptimeState = {
    since: monotonic(checked.uptime.since),
    downSince: checked.uptime.down_since === null ? null : monotonic(checked.uptime.down_since),
    minutes: expandRuns(checked.uptime.minutes)
      .map(([minute, seconds]): [number, number] => [Math.round(minute - offset / MINUTE), seconds])
      .filter(([minute]) => minute <= lastMinute),
    // A span wholly in the future comes out empty, and the tracker ignores it.
    excluded: checked.uptime.offline.map(([start, end]) => [monotonic(start), monotonic(end)]),
  };
  record.uptime.load(uptime);
  if (rollups && checked.rollups) rollups.load(checked.rollups);
}

/**
 * Checks that `value` is a {@link PersistedService} this version can read, for `tag` if given,
 * and returns it typed. Throws `StateFormatError` (state-check.ts) naming the first bad field.
 */
export function readServiceState(value: unknown, tag?: string): PersistedService {
  const read = new StateReader(tag === undefined ? 'Service state' : `Service state for ${JSON.stringify(tag)}`);
  const version = (typeof value === 'object' && value !== null ? (value as { v?: unknown }).v : undefined) ?? null;
  // Checked first: a newer version may have changed the other fields.
  if (typeof version === 'number' && Number.isSafeInteger(version) && version > SERVICE_STATE_VERSION) {
    throw new NewerStateError(
      `${read.context}: written by a newer express-heartbeat (version ${version}; this one reads up to ${SERVICE_STATE_VERSION}); upgrade to read it.`,
      'v',
    );
  }
  const state = read.object('', value, ['v', ...COUNTER_FIELDS, 'transitions', 'uptime'], ['open_errors', 'rollups']);
  read.wholeNumber('v', state.v, 1, SERVICE_STATE_VERSION);
  // The rules of the config that created the service: a state it could not have written is not trusted.
  readCounters(read, state, '', tag);
  readTransitions(read, state.transitions);
  readUptime(read, state.uptime);
  if ('rollups' in state) readRollups(read, state.rollups);
  return state as unknown as PersistedService;
}

/** The fields every {@link ServiceCounters} has; `open_errors` is there only while errors are open. */
export const COUNTER_FIELDS = [
  'tag',
  'remote',
  'settings',
  'total_pulses',
  'error_count',
  'started_at',
  'last_heartbeat',
  'last_error',
] as const;

/**
 * Checks the {@link ServiceCounters} fields of `state` (an object already read), under `prefix`
 * (e.g. `counters.`), for `tag` if given. Throws `StateFormatError` (state-check.ts) naming the first bad field.
 */
export function readCounters(read: StateReader, state: Record<string, unknown>, prefix: string, tag?: string): void {
  // The rules of the config that created the service: a state it could not have written is not trusted.
  checkTag(read, `${prefix}tag`, state.tag);
  if (tag !== undefined && state.tag !== tag) read.fail(`${prefix}tag`, state.tag, JSON.stringify(tag));
  read.boolean(`${prefix}remote`, state.remote);
  const settings = read.object(`${prefix}settings`, state.settings, ['interval_ms', 'grace_ms', 'critical']);
  read.number(`${prefix}settings.interval_ms`, settings.interval_ms, MIN_INTERVAL_SECONDS * 1000, Number.MAX_SAFE_INTEGER);
  read.number(`${prefix}settings.grace_ms`, settings.grace_ms, 0, Number.MAX_SAFE_INTEGER);
  read.boolean(`${prefix}settings.critical`, settings.critical);
  read.wholeNumber(`${prefix}total_pulses`, state.total_pulses, 0);
  read.wholeNumber(`${prefix}error_count`, state.error_count, 0);
  read.nullOr(state.started_at, (at) => read.wallTime(`${prefix}started_at`, at));
  read.nullOr(state.last_heartbeat, (at) => read.wallTime(`${prefix}last_heartbeat`, at));
  read.nullOr(state.last_error, (error) => {
    const fields = read.object(`${prefix}last_error`, error, ['message', 'time', 'critical']);
    // The engine cuts messages to MAX_ERROR_LENGTH characters and adds an ellipsis.
    read.string(`${prefix}last_error.message`, fields.message, MAX_ERROR_LENGTH + 1);
    read.wallTime(`${prefix}last_error.time`, fields.time);
    read.boolean(`${prefix}last_error.critical`, fields.critical);
  });
  if (state.open_errors !== undefined) {
    const [level, count] = read.tuple(`${prefix}open_errors`, state.open_errors, 2);
    read.wholeNumber(join(`${prefix}open_errors`, 0), level, ERROR_REPORTED, CRITICAL_ERROR);
    read.wholeNumber(join(`${prefix}open_errors`, 1), count, 1);
  }
}

function readTransitions(read: StateReader, value: unknown): void {
  let previous = 0;
  read.array('transitions', value, MAX_HISTORY_SIZE).forEach((entry, index) => {
    const field = join('transitions', index);
    const [time, from, to, reason] = read.tuple(field, entry, 4);
    const at = read.wallTime(join(field, 0), time);
    read.ordered(join(field, 0), at, previous, false);
    previous = at;
    read.oneOf(join(field, 1), from, STATUSES);
    read.oneOf(join(field, 2), to, STATUSES);
    read.string(join(field, 3), reason, MAX_HISTORY_REASON + 1);
  });
}

/** Folds consecutive minutes holding the same seconds into [first, seconds, count] runs. */
function runsOf(minutes: ReadonlyArray<readonly [number, number]>): Array<[number, number] | [number, number, number]> {
  const out: Array<[number, number] | [number, number, number]> = [];
  for (const [minute, seconds] of minutes) {
    const last = out[out.length - 1];
    const count = last?.[2] ?? 1;
    if (last !== undefined && last[1] === seconds && minute === last[0] + count) last[2] = count + 1;
    else out.push([minute, seconds]);
  }
  return out;
}

function expandRuns(entries: PersistedService['uptime']['minutes']): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [minute, seconds, count = 1] of entries) for (let i = 0; i < count; i++) out.push([minute + i, seconds]);
  return out;
}

function readUptime(read: StateReader, value: unknown): void {
  const uptime = read.object('uptime', value, ['since', 'down_since', 'minutes', 'offline']);
  read.wallTime('uptime.since', uptime.since);
  read.nullOr(uptime.down_since, (at) => read.wallTime('uptime.down_since', at));
  let previous = -1;
  let covered = 0;
  read.array('uptime.minutes', uptime.minutes, UPTIME_MINUTES).forEach((entry, index) => {
    const field = join('uptime.minutes', index);
    const length = Array.isArray(entry) && entry.length === 3 ? 3 : 2;
    const [minute, seconds, count = 1] = read.tuple(field, entry, length);
    const at = read.wholeNumber(join(field, 0), minute, 0, 8.64e15 / MINUTE);
    read.ordered(join(field, 0), at, previous, true);
    read.wholeNumber(join(field, 1), seconds, 1, 60);
    const run = length === 3 ? read.wholeNumber(join(field, 2), count, 2, UPTIME_MINUTES) : 1;
    covered += run;
    if (covered > UPTIME_MINUTES) read.refuse(field, `a run reaching ${covered} minutes in all`, `at most ${UPTIME_MINUTES} (7 days)`);
    previous = at + run - 1;
  });
  let previousEnd = 0;
  read.array('uptime.offline', uptime.offline, MAX_EXCLUDED_SPANS).forEach((entry, index) => {
    const field = join('uptime.offline', index);
    const [start, end] = read.tuple(field, entry, 2);
    const from = read.wallTime(join(field, 0), start);
    read.ordered(join(field, 0), from, previousEnd, false);
    previousEnd = read.wallTime(join(field, 1), end);
    read.ordered(join(field, 1), previousEnd, from, true);
  });
}

function readRollups(read: StateReader, value: unknown): void {
  const rollups = read.object('rollups', value, ['since', 'days']);
  read.wallTime('rollups.since', rollups.since);
  let previous = -1;
  read.array('rollups.days', rollups.days, MAX_ROLLUP_DAYS).forEach((entry, index) => {
    const field = join('rollups.days', index);
    const totals = read.tuple(field, entry, 6) as unknown as DayTotals;
    const day = read.wholeNumber(join(field, 0), totals[0], 0, 8.64e15 / DAY);
    read.ordered(join(field, 0), day, previous, true);
    previous = day;
    read.number(join(field, 1), totals[1], 0, DAY);
    read.number(join(field, 2), totals[2], 0, DAY);
    for (const column of [3, 4, 5] as const) read.wholeNumber(join(field, column), totals[column], 0);
  });
}
