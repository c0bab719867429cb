// How an AlertDispatcher keeps its open incidents in the manager's store (issue 16), so that a
// restart neither alerts an incident again nor loses its `resolved`. One note per service and
// target, under the `alerts` space; every time in it is wall-clock ms, as the store keeps them.
// The incidents of services the replicas share (issue 18) are the replicas' shared notes
// instead, under the same space and keys: the replica that takes the alert lease reads there
// what the previous holder sent.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { wallOffset } from '../util/clock';
import { MAX_TAG_LENGTH } from '../core/config';
import type { HeartbeatManager } from '../core/manager';
import type { ReplicaLink } from '../core/replicas';
import type { AlertLevel } from './alert';
import { levelAt, levelRank, type Incident } from './alert-state';

/** The note space that holds the incidents: the manager's, and the replicas' shared one. */
export const INCIDENT_NOTES = 'alerts';

/** What is saved of one open incident. */
export interface SavedIncident {
  /** Wall ms of the incident's first alert: a `resolved` after a restart counts its `down_seconds` from here. */
  readonly since: number;
  /** The most severe level this target was alerted about: a restart re-alerts nothing up to it. */
  readonly alerted: AlertLevel;
  /** Reminders sent so far: the next one after a restart goes on from this count. */
  readonly reminders: number;
  /** Wall ms of the latest alert about the incident (the first, an escalation or a reminder). */
  readonly alerted_at: number;
}

const LEVELS: readonly AlertLevel[] = ['at_risk', 'warning', 'degraded', 'critical'];
const FIELDS = ['since', 'alerted', 'reminders', 'alerted_at'];
/** Longest target name kept as it is in a key; a longer one is keyed by its hash, as the store takes keys of at most 512 characters. */
const MAX_NAMED_TARGET = 256;
/** Wall times a Date can hold. */
const MAX_WALL_MS = 8.64e15;
/** Unreadable notes logged one by one at a start; past it, only their number. */
const MAX_LOGGED = 5;

/** An open incident read back from the notes. */
export interface RestoredIncident<Target> {
  readonly service: string;
  readonly target: Target;
  readonly incident: Incident;
}

/**
 * The open incidents of one dispatcher's targets, as notes in its manager's store: `save()`
 * hands one to the manager before the alert about it is queued, and the manager saves the
 * turn's notes before any request can leave (write-ahead, as it saves a status change before
 * announcing it); `restore()` reads them back at the start. A shared service's go to the
 * replicas' shared notes, which the lease holder writes and `fromShared()` reads back.
 */
export class SavedIncidents<Target> {
  private readonly idOf = new Map<Target, string>();

  constructor(
    private readonly manager: Pick<HeartbeatManager, 'clock' | 'note' | 'notesOf'>,
    private readonly logger: Logger,
    /** Each target and its name. */
    targets: ReadonlyArray<readonly [Target, string]>,
    /** Where shared services' incidents go: the replicas' link, or null without a shared store. */
    private readonly link: Pick<ReplicaLink, 'saveNote'> | null = null,
  ) {
    const ids = targetIds(targets.map(([, name]) => name));
    targets.forEach(([target], index) => this.idOf.set(target, ids[index] as string));
  }

  /**
   * Saves where `service`'s incident with `target` stands, or that it is closed (`null`), before
   * this returns. The dispatcher calls it before it queues the alert about it: after a crash, an
   * alert that went out is never sent again, and an incident that was alerted still gets its
   * `resolved`. A `shared` service's incident goes to the replicas' shared notes instead: the
   * link has its write on its way to Redis (or waiting for it, in order) when this returns.
   */
  save(service: string, target: Target, incident: Incident | null, shared = false): void {
    const key = incidentKey(service, this.idOf.get(target) as string);
    const value = incident === null ? null : this.saved(incident);
    if (!shared || this.link === null) {
      this.manager.note(INCIDENT_NOTES, key, value);
      return;
    }
    this.link.saveNote(INCIDENT_NOTES, key, value);
    // Kept here while the service was this replica's own: the shared note supersedes it.
    if (this.manager.notesOf(INCIDENT_NOTES).has(key)) this.manager.note(INCIDENT_NOTES, key, null);
  }

  /**
   * The incidents saved for these targets in the manager's store, their times on the manager's
   * monotonic clock. A note of another target (removed or renamed since, or another
   * dispatcher's) is left alone; one that cannot be read is logged, and removed if it names one
   * of these targets.
   */
  restore(): Array<RestoredIncident<Target>> {
    return this.read([...this.manager.notesOf(INCIDENT_NOTES)], (key) => {
      this.manager.note(INCIDENT_NOTES, key, null);
    });
  }

  /**
   * The incidents of these targets in the replicas' shared notes (`notes`, as read from the
   * link), as {@link restore} reads the manager's. Only the lease holder calls it: it may
   * remove an unreadable note of its own targets.
   */
  fromShared(notes: ReadonlyMap<string, unknown>): Array<RestoredIncident<Target>> {
    const link = this.link;
    return this.read([...notes], (key) => {
      link?.saveNote(INCIDENT_NOTES, key, null);
    });
  }

  private saved(incident: Incident): SavedIncident {
    const offset = wallOffset(this.manager.clock);
    return {
      since: Math.round(incident.since + offset),
      alerted: levelAt(incident.alertedRank),
      reminders: incident.reminders,
      alerted_at: Math.round(incident.lastAlertAt + offset),
    };
  }

  private read(notes: Array<[string, unknown]>, remove: (key: string) => void): Array<RestoredIncident<Target>> {
    if (notes.length === 0) return [];
    const targetOf = new Map([...this.idOf].map(([target, id]) => [id, target]));
    const now = this.manager.clock.now();
    const offset = wallOffset(this.manager.clock);
    // A wall clock stepped back since the save would put the incident in the future: it becomes now.
    const monotonic = (wall: number): number => Math.min(wall - offset, now);
    const restored: Array<RestoredIncident<Target>> = [];
    const otherTargets = new Set<string>();
    let unreadable = 0;
    for (const [key, value] of notes) {
      const named = parseIncidentKey(key);
      const target = named ? targetOf.get(named.target) : undefined;
      if (named && target === undefined) {
        otherTargets.add(named.target);
        continue;
      }
      const saved = named ? readSavedIncident(value) : 'its key names no service and target';
      if (named && target !== undefined && typeof saved !== 'string') {
        restored.push({
          service: named.service,
          target,
          incident: {
            since: monotonic(saved.since),
            alertedRank: levelRank(saved.alerted),
            reminders: saved.reminders,
            lastAlertAt: monotonic(saved.alerted_at),
          },
        });
        continue;
      }
      if (++unreadable <= MAX_LOGGED) {
        this.logger.warn(
          { note: key.slice(0, 300) },
          `Skipped a saved alert incident that could not be read (${saved as string}): no resolved alert will follow for it`,
        );
      }
      // Ours, and unreadable for good: kept, it would be logged again at every start.
      if (named) remove(key);
    }
    if (unreadable > MAX_LOGGED) {
      this.logger.warn(`Skipped ${unreadable} saved alert incidents that could not be read; the first ${MAX_LOGGED} are logged above`);
    }
    if (otherTargets.size > 0) {
      const count = otherTargets.size;
      this.logger.info(
        { targets: [...otherTargets].slice(0, 10) },
        `Left the saved incidents of ${count} alert target${count === 1 ? '' : 's'} alone that this dispatcher does not have (removed or renamed since, or another dispatcher's)`,
      );
    }
    return restored;
  }
}

/**
 * The id of each target in note keys: its name, `name#2` for the second target of the same
 * name (and so on), and the SHA-256 of a name too long for a key. Stable as long as the
 * targets keep their names and order.
 */
export function targetIds(names: readonly string[]): string[] {
  const taken = new Set<string>();
  return names.map((name) => {
    const base = name.length <= MAX_NAMED_TARGET ? name : `sha256:${createHash('sha256').update(name).digest('hex')}`;
    let id = base;
    for (let n = 2; taken.has(id); n++) id = `${base}#${n}`;
    taken.add(id);
    return id;
  });
}

/**
 * A note's key: the tag's length, the tag, and the target id, e.g. `11:save_worker:ops`. The
 * length makes the key readable back whatever characters the tag and the name hold.
 */
export function incidentKey(service: string, target: string): string {
  return `${service.length}:${service}:${target}`;
}

/** The service and target a key names, or null if it is not a key {@link incidentKey} makes. */
export function parseIncidentKey(key: string): { service: string; target: string } | null {
  const match = /^(\d{1,3}):/.exec(key);
  if (!match) return null;
  const length = Number(match[1]);
  const start = match[0].length;
  const service = key.slice(start, start + length);
  if (length === 0 || length > MAX_TAG_LENGTH || service.length !== length || key[start + length] !== ':') return null;
  const target = key.slice(start + length + 1);
  return target === '' ? null : { service, target };
}

/**
 * Checks a note read back from the store: it is whatever the store's medium held. Returns the
 * incident, or what is wrong with it in words that quote nothing of it.
 */
export function readSavedIncident(value: unknown): SavedIncident | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'it is not an object';
  const fields = value as Record<string, unknown>;
  if (Object.keys(fields).some((name) => !FIELDS.includes(name))) return `it has fields other than ${FIELDS.join(', ')}`;
  if (!isWallTime(fields.since)) return '"since" is not a wall-clock time in ms';
  if (!isWallTime(fields.alerted_at)) return '"alerted_at" is not a wall-clock time in ms';
  if (!LEVELS.includes(fields.alerted as AlertLevel)) return '"alerted" is not one of at_risk, warning, degraded or critical';
  if (typeof fields.reminders !== 'number' || !Number.isSafeInteger(fields.reminders) || fields.reminders < 0) {
    return '"reminders" is not a whole number of at least 0';
  }
  return value as SavedIncident;
}

function isWallTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_WALL_MS;
}
