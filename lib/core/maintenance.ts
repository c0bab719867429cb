import type { OptionReader } from '../util/validate';
import { CronSchedule, readSchedule } from './schedule';

/**
 * A maintenance window in the config's `maintenance` list: recurring (`cron` and `duration`,
 * optionally in a `timezone`) or one-off (`start` and `end`). Inside it the services it names
 * (or every service, with `'*'`) are paused with the reason `maintenance`.
 */
export type MaintenanceWindow =
  | {
      /** The services it pauses, by tag, or `'*'` for every service. */
      readonly services: readonly string[] | '*';
      /** When each window opens: a cron expression of five fields (or six, seconds first), e.g. `0 2 * * SUN`. */
      readonly cron: string;
      /** Seconds each window lasts, e.g. `3600`. */
      readonly duration: number;
      /** An IANA time zone for `cron`, e.g. `Europe/Berlin`. Defaults to the server's local time. */
      readonly timezone?: string;
    }
  | {
      /** The services it pauses, by tag, or `'*'` for every service. */
      readonly services: readonly string[] | '*';
      /** ISO 8601 time it opens, with a zone, e.g. `2026-12-01T22:00:00Z`. */
      readonly start: string;
      /** ISO 8601 time it closes, with a zone; after `start`. */
      readonly end: string;
    };

/** A maintenance window as the effective config shows it: both forms' keys, the unused ones `null`. */
export interface ResolvedMaintenanceWindow {
  /** The services it pauses, or `'*'` for every service. */
  readonly services: readonly string[] | '*';
  /** The recurring window's cron expression, or `null` for a one-off window. */
  readonly cron: string | null;
  /** Seconds each recurring window lasts, or `null`. */
  readonly duration: number | null;
  /** The recurring window's time zone, or `null` (the server's local time). */
  readonly timezone: string | null;
  /** The one-off window's start, ISO 8601 UTC, or `null`. */
  readonly start: string | null;
  /** The one-off window's end, ISO 8601 UTC, or `null`. */
  readonly end: string | null;
}

/** Most maintenance windows in one config: each is checked against every service when it opens or closes. */
export const MAX_MAINTENANCE_WINDOWS = 100;

const WINDOW_KEYS = ['services', 'cron', 'duration', 'timezone', 'start', 'end'] as const;
/** An ISO 8601 date and time with a zone (`Z` or `±hh:mm`): without one, the server's zone would be guessed. */
const ZONED_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** Reads the config's `maintenance` list; `services` are the configured tags a window may name. */
export function readMaintenance(read: OptionReader, value: unknown, services: ReadonlySet<string>): ResolvedMaintenanceWindow[] {
  if (!Array.isArray(value))
    read.fail('maintenance', value, 'an array of windows, e.g. [{ "services": "*", "cron": "0 2 * * SUN", "duration": 3600 }]');
  if (value.length > MAX_MAINTENANCE_WINDOWS) read.fail('maintenance', value, `at most ${MAX_MAINTENANCE_WINDOWS} windows`);
  return (value as unknown[]).map((given, index) => {
    const key = `maintenance[${index}]`;
    const entry = read.object(key, given, WINDOW_KEYS);
    const scope = readScope(read, `${key}.services`, entry.services, services);
    const recurring = entry.cron !== undefined || entry.duration !== undefined || entry.timezone !== undefined;
    const oneOff = entry.start !== undefined || entry.end !== undefined;
    if (recurring === oneOff) {
      read.fail(key, given, 'either { services, cron, duration, timezone? } (recurring) or { services, start, end } (once)');
    }
    if (recurring) {
      const schedule = readSchedule(read, key, entry.cron, entry.timezone, 'cron');
      const duration = read.positiveNumber(`${key}.duration`, entry.duration, 'of seconds, e.g. 3600');
      // Windows that overlap the next opening would never close: a window is shorter than the time between openings.
      const gap = shortestGap(schedule, Date.now());
      if (duration * 1000 > gap)
        read.fail(`${key}.duration`, duration, `at most the time between two openings of its cron (${gap / 1000} seconds)`);
      return Object.freeze({
        services: scope,
        cron: entry.cron as string,
        duration,
        timezone: (entry.timezone as string | undefined) ?? null,
        start: null,
        end: null,
      });
    }
    const start = readTime(read, `${key}.start`, entry.start);
    const end = readTime(read, `${key}.end`, entry.end);
    if (end <= start) read.fail(`${key}.end`, entry.end, `a time after start (${String(entry.start)})`);
    return Object.freeze({
      services: scope,
      cron: null,
      duration: null,
      timezone: null,
      start: new Date(start).toISOString(),
      end: new Date(end).toISOString(),
    });
  });
}

/** How many openings are looked at for the shortest gap between two: enough for any weekly pattern of days. */
const GAP_SAMPLES = 64;

/** The shortest time between two of the schedule's next openings, in ms. */
function shortestGap(schedule: CronSchedule, wallMs: number): number {
  let shortest = Infinity;
  let previous = schedule.nextAfter(wallMs);
  for (let sample = 0; sample < GAP_SAMPLES && previous !== null; sample++) {
    const next = schedule.nextAfter(previous);
    if (next === null) break;
    shortest = Math.min(shortest, next - previous);
    previous = next;
  }
  return shortest;
}

function readScope(read: OptionReader, key: string, value: unknown, services: ReadonlySet<string>): readonly string[] | '*' {
  if (value === '*') return '*';
  if (!Array.isArray(value) || value.length === 0) read.fail(key, value, '"*" for every service, or a non-empty array of service names');
  for (const [index, name] of (value as unknown[]).entries()) {
    if (typeof name !== 'string' || !services.has(name)) {
      read.fail(`${key}[${index}]`, name, 'the name of a service listed in services ("*" covers the others too)');
    }
  }
  return Object.freeze([...(value as string[])]);
}

function readTime(read: OptionReader, key: string, value: unknown): number {
  const at = typeof value === 'string' && ZONED_TIME.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(at)) read.fail(key, value, 'an ISO 8601 time with a zone, e.g. "2026-12-01T22:00:00Z"');
  return at;
}

/** One window as the calendar reads it: a schedule of openings and a length, or a single span. */
interface Window {
  readonly services: ReadonlySet<string> | '*';
  readonly schedule: CronSchedule | null;
  readonly lengthMs: number;
  readonly start: number;
  readonly end: number;
}

/** The span of a window that is open at a moment, in wall ms, and what it covers. */
export interface OpenWindow {
  readonly services: ReadonlySet<string> | '*';
  readonly start: number;
  readonly end: number;
}

/** Answers which maintenance windows are open at a wall time, and when the next one opens or closes. */
export class MaintenanceCalendar {
  private readonly windows: Window[];

  constructor(windows: readonly ResolvedMaintenanceWindow[]) {
    this.windows = windows.map((window) => ({
      services: window.services === '*' ? '*' : new Set(window.services),
      schedule: window.cron === null ? null : new CronSchedule(window.cron, window.timezone),
      lengthMs: (window.duration ?? 0) * 1000,
      start: window.start === null ? Number.NaN : Date.parse(window.start),
      end: window.end === null ? Number.NaN : Date.parse(window.end),
    }));
  }

  get isEmpty(): boolean {
    return this.windows.length === 0;
  }

  /** The windows open at `wallMs`, each with the end of its current span. */
  openAt(wallMs: number): OpenWindow[] {
    const open: OpenWindow[] = [];
    for (const window of this.windows) {
      const span = spanAt(window, wallMs);
      if (span !== null) open.push({ services: window.services, ...span });
    }
    return open;
  }

  /** The first moment after `wallMs` at which a window opens or closes, in wall ms; Infinity if none will. */
  nextBoundary(wallMs: number): number {
    let next = Infinity;
    for (const window of this.windows) {
      const span = spanAt(window, wallMs);
      if (span !== null) next = Math.min(next, span.end);
      if (window.schedule !== null) next = Math.min(next, window.schedule.nextAfter(wallMs) ?? Infinity);
      else if (window.start > wallMs) next = Math.min(next, window.start);
    }
    return next;
  }
}

/** The span of `window` open at `wallMs`, or null if none is. */
function spanAt(window: Window, wallMs: number): { start: number; end: number } | null {
  if (window.schedule === null) return window.start <= wallMs && wallMs < window.end ? { start: window.start, end: window.end } : null;
  // The first opening within the last `length`: open now if it has begun.
  const opening = window.schedule.nextAfter(wallMs - window.lengthMs);
  if (opening === null || opening > wallMs) return null;
  // The config keeps a window shorter than the time between its openings, so no later one extends it.
  return { start: opening, end: opening + window.lengthMs };
}

/** Whether an open window covers the service `tag`. */
export function covers(window: OpenWindow, tag: string): boolean {
  return window.services === '*' || window.services.has(tag);
}
