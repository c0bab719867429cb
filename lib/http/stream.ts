import { isoTimeOf, wallOffset } from '../util/clock';
import type { HeartbeatManager, PauseChange, StatusChange } from '../core/manager';
import type { TrendChange } from '../core/trend-watch';
import { serviceSummary, type ServiceSummary } from './details';
import type { StreamSettings } from './stream-options';
import { OriginPolicy } from './stream-origin';
import type { RunTracker } from '../core/runs';
import type { ServiceHealth, ServiceRun } from '../core/service-record';
import type { OverallStatus } from '../core/status';

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

/** How one transport writes an event: built once per event, transport and audience. */
export interface FrameFormat {
  /** The frame of event `id`, named `event`, carrying `data`. */
  encode(id: number, event: string, data: unknown): string;
}

/** One open stream, whatever carries it: the hub counts it, feeds it frames and drops it. */
export interface StreamClient {
  /** How its frames are written; clients of one format share each frame. */
  readonly format: FrameFormat;
  /** Whether its caller may see details, decided once when it connected. */
  readonly detailed: boolean;
  /** The client address its place counts against. */
  readonly address: string;
  /** Whether it can still take frames. */
  readonly open: boolean;
  /** Bytes queued for it and not yet taken by the network. */
  readonly bufferedBytes: number;
  /**
   * Queues one frame, already in UTF-8: encoded once for every client it goes to, not once
   * per socket write. Never waits.
   */
  send(frame: Buffer): void;
  /** Keeps an idle connection open through proxies, and finds a peer that went away. */
  keepAlive(): void;
  /** Closes it in good order: the server or the manager is closing. */
  end(): void;
  /** Cuts it off at once: it stopped reading. */
  destroy(): void;
}

/** Why a stream was refused: an HTTP status and its JSON body, with a `Retry-After` when trying again may help. */
export interface StreamRefusal {
  readonly status: number;
  readonly body: { error: string; [key: string]: unknown };
  readonly retryAfter?: string;
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
 * The live events of one manager, for every transport: a `snapshot` on connect, a `status`
 * event per transition (with the service as it stood then; sent when the turn that made it
 * ends, all of the turn's with the overall status at its end, or as one fresh `snapshot` for
 * more than {@link MAX_STATUS_EVENTS_PER_TURN}), and `pulse` batches at most every
 * `pulseBatchMs`, so a page can animate heartbeats without a flood. A `pause` event (the
 * manager's, with the service body after it) goes out when a pause begins or ends, which need
 * not change the status; a `run` batch, in the same rhythm as pulses, when a job's run begins
 * or ends. A `trend` event (the manager's {@link TrendChange}) goes out when a service's
 * `trend.at_risk` turns, within a second of the pulse that turned it; the hub listens for it
 * only while a client is connected, since the manager reads trends on a timer only while
 * someone listens. A caller the details policy does not admit gets status words only: summary
 * snapshots, status events, pause flags and at-risk flags, and no pulses or runs (their times
 * are details).
 *
 * Transports (Server-Sent Events, the WebSocket) bring {@link StreamClient}s and write frames
 * in their own {@link FrameFormat}; the hub listens to the manager once, runs one timer, and
 * builds each event's frame once per format and audience. Clients of every transport share
 * one set of places (`maxClients`, `maxClientsPerAddress`). Writes never wait on a client:
 * one that stops reading is dropped once `maxBufferedBytes` are queued for it. The timer runs
 * only while clients are connected, is unref'd, and stops when the manager closes.
 */
export class StreamHub {
  private readonly clients = new Set<StreamClient>();
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
  /** The snapshot clients joining now are sent, until the next event or one pulse batch later. */
  private joining: {
    takenAt: number;
    id: number;
    snapshot: StreamSnapshot;
    frames: Map<FrameFormat, { full?: Buffer; brief?: Buffer }>;
  } | null = null;
  /** Whether the hub listens to the manager's `trend` event: only while a client is connected. */
  private trendListened = false;
  /** Run when the hub closes (the manager closed): transports let go of what they hold. */
  private readonly closers = new Set<() => void>();
  /** Which browser pages may open a stream, for every transport. */
  readonly origins: OriginPolicy;

  /** Serves `manager`'s events until it closes. `options` must set every limit (`readStreamOptions()` fills in the defaults). */
  constructor(
    /** The manager whose events are streamed. */
    readonly manager: HeartbeatManager,
    private readonly options: StreamSettings,
  ) {
    this.origins = new OriginPolicy(options.allowedOrigins);
    manager.on('status', this.onStatus);
    manager.on('pause', this.onPause);
    manager.on('close', () => {
      this.close();
    });
  }

  /** Streams open now, of every transport. */
  get size(): number {
    return this.clients.size;
  }

  /**
   * Whether a new stream from `address` has a place: `null` if so, else the answer (503 once
   * the manager is closed or every place is taken, 429 past the places of one address).
   */
  refusal(address: string): StreamRefusal | null {
    if (this.manager.isClosed) return { status: 503, body: { error: 'The heartbeat manager is closed.' } };
    const perAddress = this.options.maxClientsPerAddress;
    if ((this.perAddress.get(address) ?? 0) >= perAddress) {
      return {
        status: 429,
        retryAfter: '5',
        body: {
          error: `Too many open event streams from your address (the limit is ${String(perAddress)} per address); close one first.`,
          limit: perAddress,
        },
      };
    }
    if (this.clients.size >= this.options.maxClients) {
      return {
        status: 503,
        retryAfter: '5',
        body: {
          error: `Too many open event streams (the limit is ${String(this.options.maxClients)}); try again later.`,
          limit: this.options.maxClients,
        },
      };
    }
    return null;
  }

  /**
   * Takes a place for `client` (its transport asked {@link refusal} first, in the same turn)
   * and sends it a snapshot. A reconnecting client also starts over from a fresh snapshot: the
   * current state is what it needs, and no replay buffer has to be kept.
   */
  join(client: StreamClient): void {
    const first = this.clients.size === 0;
    this.clients.add(client);
    this.perAddress.set(client.address, (this.perAddress.get(client.address) ?? 0) + 1);
    this.write(client, this.joiningFrame(client, first));
    this.arm();
    // A client the snapshot's write dropped has left already.
    if (this.clients.size > 0) this.listenToTrends(true);
  }

  /**
   * The snapshot frame for a client joining now. Clients that join within one pulse batch of
   * each other, with no event between, share one snapshot and its frames: a bridge restarting
   * under a thousand open pages builds it once per batch, not once per page. Only the first
   * client's snapshot marks every service's pulses and runs as sent: a later one leaves the
   * pulses, runs and services the clients already connected have not had yet to the next batch
   * (the newcomer gets them twice, which changes nothing it shows).
   */
  private joiningFrame(client: StreamClient, first: boolean): Buffer {
    const now = this.manager.clock.now();
    if (this.joining === null || now - this.joining.takenAt >= this.options.pulseBatchMs) {
      this.joining = { takenAt: now, id: this.nextId++, snapshot: this.snapshot(first), frames: new Map() };
    }
    const { id, snapshot, frames } = this.joining;
    const audience = client.detailed ? 'full' : 'brief';
    let built = frames.get(client.format);
    if (!built) frames.set(client.format, (built = {}));
    return (built[audience] ??= Buffer.from(
      client.format.encode(id, 'snapshot', client.detailed ? snapshot : summarizeSnapshot(snapshot)),
    ));
  }

  /** Gives the place of `client` back; its transport calls this when the connection closes. Once per client is enough. */
  leave(client: StreamClient): void {
    if (!this.clients.delete(client)) return;
    const held = (this.perAddress.get(client.address) ?? 1) - 1;
    if (held > 0) this.perAddress.set(client.address, held);
    else this.perAddress.delete(client.address);
    if (this.clients.size === 0) {
      // The next client starts from a fresh snapshot: changes held for a flush would come after it, older.
      this.forgetPending();
      this.disarm();
      this.listenToTrends(false);
      this.pulsesSeen.clear();
      this.runsSeen.clear();
    }
  }

  /** Runs `closer` when the hub closes, once; a transport lets go of its sockets and listeners there. */
  onClose(closer: () => void): void {
    this.closers.add(closer);
  }

  /** Ends every stream, stops the timer and lets every transport go. */
  close(): void {
    this.manager.off('status', this.onStatus);
    this.manager.off('pause', this.onPause);
    this.listenToTrends(false);
    const open = [...this.clients];
    this.clients.clear();
    this.perAddress.clear();
    for (const client of open) client.end();
    this.forgetPending();
    this.disarm();
    const closers = [...this.closers];
    this.closers.clear();
    for (const closer of closers) closer();
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

  /** A service's at_risk turned: the trend as is with details, the flag alone without, as public as a status word. */
  private readonly onTrend = (change: TrendChange): void => {
    if (this.clients.size === 0 || this.manager.isClosed) return;
    this.broadcast('trend', change, { service: change.service, at_risk: change.trend.at_risk });
  };

  /**
   * Listens to the manager's `trend` event while clients are connected, and not otherwise: the
   * manager reads the services' trends on a timer only while a listener is there, and an idle
   * server with no viewer need not wake every second.
   */
  private listenToTrends(listen: boolean): void {
    if (listen === this.trendListened || (listen && this.manager.isClosed)) return;
    this.trendListened = listen;
    if (listen) this.manager.on('trend', this.onTrend);
    else this.manager.off('trend', this.onTrend);
  }

  /** Drops what is held for clients: the turn's changes, and the snapshot shared by joining clients. */
  private forgetPending(): void {
    this.pendingChanges = [];
    this.pendingPauses = [];
    if (this.changesFlush) clearImmediate(this.changesFlush);
    this.changesFlush = undefined;
    this.joining = null;
  }

  private pendingCount(): number {
    return this.pendingChanges.length + this.pendingPauses.length;
  }

  private flushSoon(): void {
    if (!this.changesFlush) {
      // Not unref'd: an unref'd immediate lets the loop sleep in its poll phase until the next
      // I/O or timer (up to a pulse batch, 250 ms) before it runs. It runs once, at the end of
      // this turn, so it holds nothing open.
      this.changesFlush = setImmediate(this.flushChanges);
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

  /** The state now; `markSent`: every client gets it, so every service's pulses and runs count as sent. */
  private snapshot(markSent = true): StreamSnapshot {
    const status = this.manager.status();
    const services: ServiceHealth[] = [];
    for (const tag of Object.keys(status.services)) {
      const health = this.manager.service(tag);
      if (health) services.push(health);
      if (markSent) this.pulsesSeen.set(tag, health?.total_pulses ?? 0);
    }
    // Jobs the stream knows keep what it sent: a change not yet sent still goes to the clients connected before.
    for (const record of this.manager.listedRecords()) {
      if (markSent && record.runs !== null && !this.runsSeen.has(record.tag)) this.runChanged(record.tag, record.runs);
    }
    return { overall_status: status.overall_status, services, time: new Date(this.manager.clock.wallNow()).toISOString() };
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    if (this.clients.size === 0 || this.manager.isClosed) return;
    // The turn's status changes go first: a batch sent before them would be undone by the older
    // service bodies they carry.
    if (this.changesFlush) {
      clearImmediate(this.changesFlush);
      this.flushChanges();
    }
    // A joining snapshot a batch old is not shared any more: let it go rather than hold it until the next event.
    if (this.joining !== null && this.manager.clock.now() - this.joining.takenAt >= this.options.pulseBatchMs) this.joining = null;
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
      for (const client of [...this.clients]) client.keepAlive();
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
   * them without a summary; each frame is built once per format and audience.
   */
  private broadcast(event: string, data: unknown, summary?: unknown): void {
    // A client joining after an event must not be sent a snapshot from before it.
    this.joining = null;
    const id = this.nextId++;
    const full = new Map<FrameFormat, Buffer>();
    const brief = new Map<FrameFormat, Buffer>();
    // A copy: a client dropped on the way leaves the set.
    for (const client of [...this.clients]) {
      const payload = client.detailed ? data : summary;
      if (payload === undefined) continue;
      const frames = client.detailed ? full : brief;
      let frame = frames.get(client.format);
      if (frame === undefined) {
        frame = Buffer.from(client.format.encode(id, event, payload));
        frames.set(client.format, frame);
      }
      this.write(client, frame);
    }
  }

  private write(client: StreamClient, frame: Buffer): void {
    if (!client.open) {
      this.leave(client);
      return;
    }
    if (client.bufferedBytes > this.options.maxBufferedBytes) {
      // It stopped reading: holding more for it would grow without bound.
      client.destroy();
      this.leave(client);
      return;
    }
    client.send(frame);
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

/**
 * A snapshot without details: the overall status and each service as `GET /service/{name}`
 * answers the same caller, its at-risk flag included, so that a page connecting while a
 * service is at risk shows it.
 */
function summarizeSnapshot(snapshot: StreamSnapshot): { overall_status: OverallStatus; services: ServiceSummary[]; time: string } {
  return { overall_status: snapshot.overall_status, services: snapshot.services.map(serviceSummary), time: snapshot.time };
}
