// What the manager gives its store, as JSON: the entries it appends as things change, and the
// snapshot of everything a store may keep instead of the entries before it. Every time is
// wall-clock ms. Reading checks each value again: a store hands back whatever its medium held.
//
// A store may take a snapshot just before any batch, and replay the batch after it. So each
// entry is either appended before the manager applies it (t, o) or absolute (c, u, x, n, p:
// applying it twice changes nothing), and nothing is ever counted twice.
import { checkTag } from './config';
import { COUNTER_FIELDS, readCounters, readServiceState, type PersistedService, type ServiceCounters } from './persisted-state';
import type { DayTotals } from './rollups';
import { NewerStateError, StateReader, join } from './state-check';
import type { ServiceStatus } from './status';
import { DAY } from './uptime';
import { MAX_HISTORY_REASON } from './limits';

/** The version of the snapshot body this manager writes and reads; a newer one is refused. */
export const SNAPSHOT_VERSION = 1;

/** A service's counters: appended every `flush_interval` while they change, and with each of its transitions. */
export type CountersEntry = [kind: 'c', at: number, counters: ServiceCounters, watchedSince: number, today: DayTotals | null];
/**
 * What pulses alone changed since the service's last save: its pulse count, its last pulse
 * (which also cleared any open error) and today's totals. A quarter of a `c` entry, for the
 * flush that saves every pulsing service each `flush_interval`.
 */
export type PulsesEntry = [kind: 'u', at: number, tag: string, totalPulses: number, lastHeartbeat: number, today: DayTotals | null];
/** A status change, appended before anyone hears of it. */
export type TransitionEntry = [kind: 't', tag: string, at: number, from: ServiceStatus, to: ServiceStatus, reason: string];
/** A service removed (stopped while not configured, deleted or expired): its saved state goes too. */
export type ForgetEntry = [kind: 'x', tag: string, at: number];
/** A note another part keeps through the manager (alert incidents): `null` removes it. */
export type NoteEntry = [kind: 'n', space: string, key: string, value: unknown, at: number];
/** `cleanupOldData()`: history and error details before `cutoff` dropped, of one service or (null) of all. */
export type PruneEntry = [kind: 'p', cutoff: number, at: number, tag: string | null];
/** The monitor was offline from `start` to `end` (found at a restart). */
export type OfflineEntry = [kind: 'o', start: number, end: number];
/** Nothing changed, but the monitor was running at `at`: bounds the offline time found at the next start. */
export type AliveEntry = [kind: 'a', at: number];

export type SavedEntry = CountersEntry | PulsesEntry | TransitionEntry | ForgetEntry | NoteEntry | PruneEntry | OfflineEntry | AliveEntry;

/** The whole state, as `snapshot()` gives it to a store. */
export interface SnapshotBody {
  /** {@link SNAPSHOT_VERSION}. */
  readonly v: number;
  /** Wall ms of the capture: the monitor was running then. */
  readonly saved_at: number;
  readonly services: readonly PersistedService[];
  /** Notes by space and key (see {@link NoteEntry}). */
  readonly notes: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/** Longest note space or key: they name a part and, say, a service and a target. */
const MAX_NOTE_NAME = 512;
const STATUSES: readonly ServiceStatus[] = ['healthy', 'warning', 'degraded', 'critical'];

/**
 * Checks a snapshot body's envelope: its version, its time and its notes. The services are
 * returned unchecked, to be read one by one, so one bad service does not lose the rest.
 */
export function readSnapshotBody(value: unknown): { savedAt: number; services: unknown[]; notes: Map<string, Map<string, unknown>> } {
  const read = new StateReader('Saved snapshot');
  const version = typeof value === 'object' && value !== null ? (value as { v?: unknown }).v : undefined;
  if (typeof version === 'number' && Number.isSafeInteger(version) && version > SNAPSHOT_VERSION) {
    throw new NewerStateError(
      `Saved snapshot: written by a newer express-heartbeat (version ${version}; this one reads up to ${SNAPSHOT_VERSION}); upgrade to read it.`,
      'v',
    );
  }
  const body = read.object('', value, ['v', 'saved_at', 'services', 'notes']);
  read.wholeNumber('v', body.v, 1, SNAPSHOT_VERSION);
  const savedAt = read.wallTime('saved_at', body.saved_at);
  const services = read.array('services', body.services, Number.MAX_SAFE_INTEGER);
  const notes = new Map<string, Map<string, unknown>>();
  const spaces = plainObject(read, 'notes', body.notes);
  for (const space of Object.keys(spaces)) {
    read.string(join('notes', space), space, MAX_NOTE_NAME);
    const entries = plainObject(read, join('notes', space), spaces[space]);
    const kept = new Map<string, unknown>();
    for (const key of Object.keys(entries)) kept.set(read.string(join(join('notes', space), key), key, MAX_NOTE_NAME), entries[key]);
    notes.set(space, kept);
  }
  return { savedAt, services, notes };
}

/** Checks one service of a snapshot; see `readServiceState`. */
export { readServiceState };

/** Checks one appended entry and returns it typed. Throws {@link StateFormatError} naming the first bad field. */
export function readEntry(value: unknown): SavedEntry {
  const read = new StateReader('Saved entry');
  const kind = Array.isArray(value) ? (value[0] as unknown) : undefined;
  switch (kind) {
    case 'c': {
      const [, at, counters, watchedSince, today] = read.tuple('', value, 5);
      read.wallTime('1', at);
      const fields = read.object('2', counters, [...COUNTER_FIELDS], ['open_errors']);
      readCounters(read, fields, '2.');
      read.wallTime('3', watchedSince);
      if (today !== null) readDay(read, '4', today);
      return value as CountersEntry;
    }
    case 'u': {
      const [, at, tag, totalPulses, lastHeartbeat, today] = read.tuple('', value, 6);
      read.wallTime('1', at);
      checkTag(read, '2', tag);
      read.wholeNumber('3', totalPulses, 1);
      read.wallTime('4', lastHeartbeat);
      if (today !== null) readDay(read, '5', today);
      return value as PulsesEntry;
    }
    case 't': {
      const [, tag, at, from, to, reason] = read.tuple('', value, 6);
      checkTag(read, '1', tag);
      read.wallTime('2', at);
      read.oneOf('3', from, STATUSES);
      read.oneOf('4', to, STATUSES);
      read.string('5', reason, MAX_HISTORY_REASON + 1);
      return value as TransitionEntry;
    }
    case 'x': {
      const [, tag, at] = read.tuple('', value, 3);
      checkTag(read, '1', tag);
      read.wallTime('2', at);
      return value as ForgetEntry;
    }
    case 'n': {
      const [, space, key, , at] = read.tuple('', value, 5);
      read.string('1', space, MAX_NOTE_NAME);
      read.string('2', key, MAX_NOTE_NAME);
      read.wallTime('4', at);
      return value as NoteEntry;
    }
    case 'p': {
      const [, cutoff, at, tag] = read.tuple('', value, 4);
      read.number('1', cutoff, -8.64e15, 8.64e15);
      read.wallTime('2', at);
      read.nullOr(tag, (name) => checkTag(read, '3', name));
      return value as PruneEntry;
    }
    case 'o': {
      const [, start, end] = read.tuple('', value, 3);
      const from = read.wallTime('1', start);
      read.ordered('2', read.wallTime('2', end), from, false);
      return value as OfflineEntry;
    }
    case 'a': {
      const [, at] = read.tuple('', value, 2);
      read.wallTime('1', at);
      return value as AliveEntry;
    }
    default:
      if (Array.isArray(value) && typeof kind === 'string' && /^[a-z]$/.test(kind)) {
        // One letter, as every kind is: most likely a kind a newer version added.
        throw new NewerStateError(
          `Saved entry: of kind ${JSON.stringify(kind)}, which this express-heartbeat does not know (it reads c, u, t, x, n, p, o and a): written by a newer one; upgrade to read it.`,
          '0',
        );
      }
      if (!Array.isArray(value)) return read.fail('', value, 'an array whose first item is its kind: c, u, t, x, n, p, o or a');
      return read.refuse('0', 'an unknown kind', 'an entry kind: c, u, t, x, n, p, o or a');
  }
}

/** The wall time an entry records, for the offline span found at the next start. */
export function entryTime(entry: SavedEntry): number {
  switch (entry[0]) {
    case 'c':
    case 'u':
    case 'a':
      return entry[1];
    case 't':
      return entry[2];
    case 'x':
    case 'p':
      return entry[2];
    case 'n':
      return entry[4];
    case 'o':
      return entry[2];
  }
}

/** An object with any keys: notes are named by whoever keeps them. */
function plainObject(read: StateReader, field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) read.fail(field, value, 'an object');
  return value as Record<string, unknown>;
}

function readDay(read: StateReader, field: string, value: unknown): void {
  const totals = read.tuple(field, value, 6);
  read.wholeNumber(join(field, 0), totals[0], 0, 8.64e15 / DAY);
  read.number(join(field, 1), totals[1], 0, DAY);
  read.number(join(field, 2), totals[2], 0, DAY);
  for (const column of [3, 4, 5]) read.wholeNumber(join(field, column), totals[column], 0);
}
