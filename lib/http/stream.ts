import type { Request, Response } from 'express';
import { isoTimeOf, wallOffset } from '../util/clock';
import type { HeartbeatManager, PauseChange, StatusChange } from '../core/manager';
import { DetailsGate, serviceSummary } from './details';
import { sendError } from './respond';
import type { RunTracker } from '../core/runs';
import type { ServiceHealth, ServiceRun } from '../core/service-record';
import type { OverallStatus } from '../core/status';

/** Limits of the event stream, as `healthRouter({ stream })` takes them. Every key is optional. */
export interface StreamOptions {
  /** Most streams open at once; more get 503. Defaults to `100`. */
  readonly maxClients?: number;
  /**
   * Most streams open at once from one client address, `req.ip` (which follows the app's
   * `trust proxy` setting), so one client cannot take every place; more get 429. Defaults to `10`.
   */
  readonly maxClientsPerAddress?: number;
  /** Bytes a client may leave unread before it is dropped. Defaults to 256 KiB. */
  readonly maxBufferedBytes?: number;
  /** Milliseconds between keep-alive comments. Defaults to 15 s. */
  readonly keepAliveMs?: number;
  /** Milliseconds between pulse batches: each service appears at most once per batch. Defaults to 250. */
  readonly pulseBatchMs?: number;
}

export const STREAM_DEFAULTS = {
  maxClients: 100,
  maxClientsPerAddress: 10,
  maxBufferedBytes: 256 * 1024,
  keepAliveMs: 15_000,
  pulseBatchMs: 250,
} as const;

/**
 * Most status and pause events sent one by one for the changes of one event-loop turn. Past it
 * (a mass outage, a maintenance window opening for every service), clients get one fresh
 * snapshot instead: 10,000 events would cost a rating each and
 * overflow every client's buffer, where one snapshot says the same.
 */
export const MAX_STATUS_EVENTS_PER_TURN = 64;

/** What the stream last sent of one job's runs: a `run` event goes out when any of it changed. */
interface RunSeen {
  start: number | null;
  durationMs: number | null;
  exitCode: number | null;
}

/** One open stream: whether its caller may see details, and the address its places count against. */
interface StreamClient {
  readonly detailed: boolean;
  readonly address: string;
}

/** What a snapshot holds: everything the page draws. */
export interface StreamSnapshot {
  /** The overall status, as in `GET {basePath}/status`. */
  overall_status: OverallStatus;
  /** Every service shown, each as `GET {basePath}/service/{name}` gives it. */
  services: ServiceHealth[];
  /** ISO 8601 UTC time the snapshot was taken. */
  time: string;
}

/**
 * Server-Sent Events for one manager: a `snapshot` on connect, a `status` event per
 * transition (with the service as it stood then; sent when the turn that made it ends, all of
 * the turn's with the overall status at its end, or as one fresh `snapshot` for more than
 * {@link MAX_STATUS_EVENTS_PER_TURN}), and `pulse` batches at most every `pulseBatchMs`, so a page can animate
 * heartbeats without a flood. A `pause` event (the manager's, with the service body after it)
 * goes out when a pause begins or ends, which need not change the status; a `run` batch, in the
 * same rhythm as pulses, when a job's run begins or ends. A caller the details policy does not
 * admit gets status words only: summary snapshots, status events and pause flags, and no
 * pulses or runs (their times are details). Every
 * event is one `data:` line of JSON, so no service name or error message can forge an event.
 * Writes never wait on a client: one that stops reading is dropped once `maxBufferedBytes` are
 * queued for it. The timer runs only while clients are connected, is unref'd, and stops when
 * the manager closes.
 */
export class StreamHub {
  private readonly clients = new Map<Response, StreamClient>();
  /** Streams open per client address; an address leaves the map with its last stream. */
  private readonly perAddress = new Map<string, number>();
  private readonly pulsesSeen = new Map<string, number>();
  /** Jobs only (services with runs): a plain heartbeat has no entry. */
  private readonly runsSeen = new Map<string, RunSeen>();
  private timer: NodeJS.Timeout | undefined;
  /** The changes of this turn, each with its service as it stood then, sent together when the turn ends; at most one past the per-turn cap. */
  private pendingChanges: Array<{ change: StatusChange; health: ServiceHealth | null }> = [];
  /** The pauses begun or ended this turn, sent after its status changes; together with those, at most one past the cap. */
  private pendingPauses: PauseChange[] = [];
  private changesFlush: NodeJS.Immediate | undefined;
  private sinceKeepAlive = 0;
  private nextId = 1;

  /**
   * Serves `manager`'s events until it closes. `options` must set every limit (`healthRouter()`
   * fills in the defaults). `details` decides per request who sees details; `healthRouter()`
   * builds it from its `details` option. It cannot be built outside the package: leave it out
   * to show details to every caller.
   */
  constructor(
    private readonly manager: HeartbeatManager,
    private readonly options: Required<StreamOptions>,
    private readonly details: DetailsGate = new DetailsGate('always', null),
  ) {
    manager.on('status', this.onStatus);
    manager.on('pause', this.onPause);
    manager.on('close', () => {
      this.close();
    });
  }

  /** Streams open now. */
  get size(): number {
    return this.clients.size;
  }

  /** The Express handler for `GET {basePath}/stream`. */
  readonly handle = (req: Request, res: Response): void => {
    if (this.manager.isClosed) {
      sendError(res, 503, 'The heartbeat manager is closed.');
      return;
    }
    const address = req.ip ?? req.socket.remoteAddress ?? '';
    const perAddress = this.options.maxClientsPerAddress;
    if ((this.perAddress.get(address) ?? 0) >= perAddress) {
      res.set('Retry-After', '5');
      sendError(res, 429, `Too many open event streams from your address (the limit is ${perAddress} per address); close one first.`, {
        limit: perAddress,
      });
      return;
    }
    if (this.clients.size >= this.options.maxClients) {
      res.set('Retry-After', '5');
      sendError(res, 503, `Too many open event streams (the limit is ${this.options.maxClients}); try again later.`, {
        limit: this.options.maxClients,
      });
      return;
    }
    res.status(200);
    res.set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      // Proxies such as nginx would otherwise buffer the stream and the page would stall.
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    req.socket.setNoDelay(true);
    const detailed = this.details.allows(req);
    this.clients.set(res, { detailed, address });
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    res.on('close', () => {
      this.drop(res);
    });
    // A reconnecting client (with Last-Event-ID) also starts over from a fresh snapshot: the
    // current state is what it needs, and no replay buffer has to be kept.
    this.write(res, `retry: 2000\n\n`);
    const snapshot = this.snapshot();
    this.write(res, this.frame('snapshot', detailed ? snapshot : summarizeSnapshot(snapshot)));
    this.arm();
  };

  /** Ends every stream and stops the timer. */
  close(): void {
    this.manager.off('status', this.onStatus);
    this.manager.off('pause', this.onPause);
    for (const client of this.clients.keys()) client.end();
    this.clients.clear();
    this.perAddress.clear();
    this.pendingChanges = [];
    this.pendingPauses = [];
    if (this.changesFlush) clearImmediate(this.changesFlush);
    this.changesFlush = undefined;
    this.disarm();
  }

  private readonly onStatus = (change: StatusChange): void => {
    if (this.clients.size === 0) return;
    if (this.pendingCount() <= MAX_STATUS_EVENTS_PER_TURN) {
      this.pendingChanges.push({ change, health: this.manager.service(change.service) ?? null });
    }
    this.flushSoon();
  };

  private readonly onPause = (change: PauseChange): void => {
    if (this.clients.size === 0) return;
    if (this.pendingCount() <= MAX_STATUS_EVENTS_PER_TURN) this.pendingPauses.push(change);
    this.flushSoon();
  };

  private pendingCount(): number {
    return this.pendingChanges.length + this.pendingPauses.length;
  }

  private flushSoon(): void {
    if (!this.changesFlush) {
      this.changesFlush = setImmediate(this.flushChanges);
      this.changesFlush.unref();
    }
  }

  /** Sends the turn's changes with one reading of the overall status, or one snapshot past the cap. */
  private readonly flushChanges = (): void => {
    this.changesFlush = undefined;
    const changes = this.pendingChanges;
    const pauses = this.pendingPauses;
    this.pendingChanges = [];
    this.pendingPauses = [];
    if (this.clients.size === 0 || this.manager.isClosed) return;
    if (changes.length + pauses.length > MAX_STATUS_EVENTS_PER_TURN) {
      const snapshot = this.snapshot();
      this.broadcast('snapshot', snapshot, summarizeSnapshot(snapshot));
      return;
    }
    const overall_status = this.manager.overallStatus();
    for (const { change, health } of changes) {
      const event = { ...change, overall_status, health };
      // Status words only: the change itself (from, to, when) is history, which is all details.
      const summary = { service: change.service, status: change.to, overall_status };
      this.broadcast('status', event, summary);
    }
    // The body as it stands at the turn's end, after any status change the pause made; the
    // overall status too, which a pause changes without a status change (it ignores paused
    // services). Without details: the flag alone, as public as heartbeat_service_paused; the
    // reason and the times are details.
    for (const change of pauses) {
      const event = { ...change, overall_status, health: this.manager.service(change.service) ?? null };
      this.broadcast('pause', event, { service: change.service, paused: change.paused, overall_status });
    }
  };

  private snapshot(): StreamSnapshot {
    const status = this.manager.status();
    const services: ServiceHealth[] = [];
    for (const tag of Object.keys(status.services)) {
      const health = this.manager.service(tag);
      if (health) services.push(health);
      this.pulsesSeen.set(tag, health?.total_pulses ?? 0);
    }
    // Jobs the stream knows keep what it sent: a change not yet sent still goes to the clients connected before.
    for (const record of this.manager.listedRecords()) {
      if (record.runs !== null && !this.runsSeen.has(record.tag)) this.runChanged(record.tag, record.runs);
    }
    return { overall_status: status.overall_status, services, time: new Date(this.manager.clock.wallNow()).toISOString() };
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    if (this.clients.size === 0 || this.manager.isClosed) return;
    const pulsed = Object.create(null) as Record<string, { total_pulses: number; last_heartbeat: string | null }>;
    let any = false;
    let listed = 0;
    let changedSet = false;
    let ran: Record<string, ServiceRun> | null = null;
    for (const record of this.manager.listedRecords()) {
      listed++;
      if (record.runs !== null && this.runChanged(record.tag, record.runs)) {
        ran ??= Object.create(null) as Record<string, ServiceRun>;
        ran[record.tag] = record.runView(wallOffset(this.manager.clock));
      }
      const seen = this.pulsesSeen.get(record.tag);
      if (seen === record.totalPulses) continue;
      if (seen === undefined) changedSet = true;
      this.pulsesSeen.set(record.tag, record.totalPulses);
      pulsed[record.tag] = { total_pulses: record.totalPulses, last_heartbeat: isoTimeOf(this.manager.clock, record.lastSignAt) };
      any = true;
    }
    // Services that left stop being tracked, so churn cannot grow the map.
    if (this.pulsesSeen.size > listed) {
      changedSet = true;
      for (const tag of this.pulsesSeen.keys()) if (!this.manager.service(tag)) this.pulsesSeen.delete(tag);
      for (const tag of this.runsSeen.keys()) if (!this.manager.service(tag)) this.runsSeen.delete(tag);
    }
    // A service came or went: clients redraw from a fresh snapshot rather than guess.
    if (changedSet) {
      const snapshot = this.snapshot();
      this.broadcast('snapshot', snapshot, summarizeSnapshot(snapshot));
    } else {
      if (any) this.broadcast('pulse', { services: pulsed });
      if (ran !== null) this.broadcast('run', { services: ran });
    }
    this.sinceKeepAlive += this.options.pulseBatchMs;
    if (this.sinceKeepAlive >= this.options.keepAliveMs) {
      this.sinceKeepAlive = 0;
      for (const client of this.clients.keys()) this.write(client, `: keep-alive\n\n`);
    }
    this.arm();
  };

  /** Whether `runs` changed since the stream last sent them (a run began or ended), noting them as sent. */
  private runChanged(tag: string, runs: RunTracker): boolean {
    const start = runs.oldestStart;
    const seen = this.runsSeen.get(tag);
    if (seen === undefined) {
      this.runsSeen.set(tag, { start, durationMs: runs.lastDurationMs, exitCode: runs.lastExitCode });
      return true;
    }
    if (seen.start === start && seen.durationMs === runs.lastDurationMs && seen.exitCode === runs.lastExitCode) return false;
    seen.start = start;
    seen.durationMs = runs.lastDurationMs;
    seen.exitCode = runs.lastExitCode;
    return true;
  }

  /**
   * Sends `data` to callers who may see details and `summary` to the others, or nothing to
   * them without a summary; each frame is built once.
   */
  private broadcast(event: string, data: unknown, summary?: unknown): void {
    let full: string | undefined;
    let brief: string | undefined;
    for (const [res, client] of this.clients) {
      if (client.detailed) this.write(res, (full ??= this.frame(event, data)));
      else if (summary !== undefined) this.write(res, (brief ??= this.frame(event, summary)));
    }
  }

  /** `JSON.stringify` escapes every line break, so the payload is always exactly one line. */
  private frame(event: string, data: unknown): string {
    return `id: ${this.nextId++}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  }

  private write(res: Response, text: string): void {
    if (res.writableEnded || res.destroyed) {
      this.drop(res);
      return;
    }
    if (res.writableLength > this.options.maxBufferedBytes) {
      // It stopped reading: holding more for it would grow without bound.
      res.destroy();
      this.drop(res);
      return;
    }
    res.write(text);
  }

  private drop(res: Response): void {
    const client = this.clients.get(res);
    if (!client) return;
    this.clients.delete(res);
    const held = (this.perAddress.get(client.address) ?? 1) - 1;
    if (held > 0) this.perAddress.set(client.address, held);
    else this.perAddress.delete(client.address);
    if (this.clients.size === 0) {
      this.disarm();
      this.pulsesSeen.clear();
      this.runsSeen.clear();
    }
  }

  private arm(): void {
    if (this.timer || this.clients.size === 0) return;
    this.timer = setTimeout(this.tick, this.options.pulseBatchMs);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** A snapshot without details: the overall status and each service's status word. */
function summarizeSnapshot(snapshot: StreamSnapshot): {
  overall_status: OverallStatus;
  services: Array<{ service: string; status: string; paused: boolean }>;
  time: string;
} {
  return { overall_status: snapshot.overall_status, services: snapshot.services.map(serviceSummary), time: snapshot.time };
}
