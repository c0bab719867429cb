// Streams to 1,000 viewers: the live stream's fan-out (issue 21). A real `healthRouter()` app on
// 127.0.0.1 with 1,000 services pulsing every second, watched by 1,000 Server-Sent Events
// clients or 1,000 WebSocket clients, beside the same server watched by none.
//
// The server runs in a child process of its own (this file, forked with `server`), so that its
// CPU time is the library's fan-out and the app's pulsing, not the clients' reading; the clients
// live in the parent. During the window, status changes happen at a known rate: each second the
// app stops pulsing a few services (they turn `warning` at their deadline) and resumes those it
// stopped one second before (they turn `healthy` again at their next pulse). The server notes
// the time of each change as its `status` listener sees it (just after the stream hub's own
// listener, which only queues the event: the manager has no `prependListener`) and the change's
// cause: for a service stopped, its deadline (its last pulse plus the interval and the default
// grace), for one resumed, its resuming pulse. Every client notes the time it received that
// change's event. All are `performance.timeOrigin + performance.now()` (one millisecond base for
// every process on the machine). An event's delivery latency is its last client's receipt minus
// its change time; from its cause, its last client's receipt minus its cause, which also holds
// the monitor's lateness in seeing the change (its timer runs late while a pulse batch is being
// written to every client).
import { fork, type ChildProcess } from 'node:child_process';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import express from 'express';
import { Registry } from 'prom-client';
import WebSocket from 'ws';
import { HeartbeatManager, healthRouter, type Heartbeat, type HealthRouter } from '../lib';
import { graceMs } from '../lib/core/config';
import { cpuMicros, differences, figure, interleave, percentile, pick, type Figure } from './measure';

const SERVICES = 1000;
const CLIENTS = 1000;
const TICK_MS = 1000;
/** Services stopped each second (each resumed a second later): twice as many status events per second. */
const STOPS_PER_TICK = 5;
/** Clients connecting at once: each waits for its snapshot before the next batch, so the listen backlog never overflows. */
const CONNECT_BATCH = 100;
/** How long after the window the parent waits at most for the last events to reach every client. */
const DRAIN_MS = 2000;

/** Transports under test; `none` is the anchor, the same server with no client. */
export type Transport = 'sse' | 'ws';
type Configuration = Transport | 'none';

/** The common millisecond base of every process on the machine. */
function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

// --- The server side ------------------------------------------------------------------------

/** One status change the server caused and saw: which service, to which status, when. */
export interface Change {
  service: string;
  to: string;
  /** When the server's `status` listener saw it. */
  at: number;
  /** What made it due: the deadline of a service stopped (→ `warning`), the resuming pulse of one resumed (→ `healthy`). */
  cause: number;
  /** When the hub had written the change's frame to every client (the turn's end, after its flush). */
  written: number;
}

/** A running stream server: the app, its 1,000 pulsing services, and a way to make status changes. */
export interface StreamServer {
  readonly port: number;
  readonly manager: HeartbeatManager;
  readonly health: HealthRouter;
  /**
   * Stops pulsing the next `count` services (each turns `warning` at its deadline, about 1.1 s
   * after its last pulse) and resumes pulsing the ones stopped by the call `resumeAfter` calls
   * before this one (each turns `healthy` at the monitor's next turn after its next pulse). A
   * service is stopped at most once per server, so each (service, status) pair happens once.
   */
  changeStatuses(count: number, resumeAfter?: number): void;
  /** When the service `tag` last pulsed (the common millisecond base), or `NaN` before its first pulse. */
  pulsedAt(tag: string): number;
  /** Connections open on the HTTP server now: SSE streams and WebSockets alike. */
  connections(): Promise<number>;
  /** Closes the manager (every stream ends), then the HTTP server. */
  close(): Promise<void>;
}

/**
 * Starts the stream server in this process: a `healthRouter()` app listening on 127.0.0.1 (an
 * ephemeral port) with the WebSocket attached, `services` heartbeats of a 1 s interval, and a
 * 1 s loop pulsing all of them but the stopped ones. The places of the stream are raised to
 * `clients` (the defaults are 100 in all and 10 per address, and every client here comes from
 * 127.0.0.1). Also what a profile of the fan-out (`node --cpu-prof`) runs: start this, connect
 * viewers with {@link connectViewers} (from another process, to keep them out of the profile),
 * then call `changeStatuses()` once a second.
 */
export async function startStreamServer(services = SERVICES, clients = CLIENTS): Promise<StreamServer> {
  const manager = new HeartbeatManager({ config: { log_level: 'silent' } });
  const health = healthRouter({
    manager,
    registry: new Registry(),
    stream: { maxClients: clients + 10, maxClientsPerAddress: clients + 10 },
  });
  const app = express();
  app.use(health);
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => {
      resolve(listening);
    });
  });
  health.attachWebSocket(server);
  const heartbeats: Heartbeat[] = Array.from({ length: services }, (_, i) =>
    manager.heartbeat({ tag: `service_${i}`, interval: TICK_MS / 1000 }).start(),
  );
  const stopped = new Set<Heartbeat>();
  const lastPulses = new Float64Array(services).fill(NaN);
  const indexOf = new Map(heartbeats.map((heartbeat, i) => [heartbeat.tag, i]));
  const pulse = setInterval(() => {
    for (let i = 0; i < services; i++) {
      const heartbeat = heartbeats[i] as Heartbeat;
      if (stopped.has(heartbeat)) continue;
      lastPulses[i] = wallMs();
      heartbeat.pulse();
    }
  }, TICK_MS);
  let nextStop = 0;
  const stops: Heartbeat[][] = [];
  return {
    port: (server.address() as AddressInfo).port,
    manager,
    health,
    changeStatuses(count, resumeAfter = 1) {
      const batch = heartbeats.slice(nextStop, nextStop + count);
      if (batch.length < count) throw new Error(`changeStatuses(): only ${heartbeats.length} services, each stopped once`);
      nextStop += count;
      for (const heartbeat of batch) stopped.add(heartbeat);
      stops.push(batch);
      for (const heartbeat of stops[stops.length - 1 - resumeAfter] ?? []) stopped.delete(heartbeat);
    },
    pulsedAt: (tag) => lastPulses[indexOf.get(tag) ?? -1] ?? NaN,
    connections: () =>
      new Promise((resolve, reject) => {
        server.getConnections((error, count) => {
          if (error) reject(error);
          else resolve(count);
        });
      }),
    async close() {
      clearInterval(pulse);
      await manager.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** What the parent asks the server child to measure: ticks to settle after the clients connected, ticks to measure. */
interface Window {
  settle: number;
  ticks: number;
}

/** What the server child answers once the window is over. */
interface ServerReport {
  cpuPercent: number;
  changes: Change[];
  /** Connections open on the server at the window's end: every client still there. */
  clients: number;
}

/**
 * The server child: starts, says its port, waits for the parent's `measure`, measures CPU over
 * whole ticks of its pulsing loop while changing statuses each tick, and answers; then waits
 * for `close`.
 */
async function serveInChild(): Promise<void> {
  const server = await startStreamServer();
  const send = (message: unknown): void => {
    process.send?.(message);
  };
  const changes: Change[] = [];
  let recording = false;
  // A stopped service's deadline, as the manager computes it: its last pulse, the interval, and the default grace.
  const lateBy = TICK_MS + graceMs(null, TICK_MS / 1000);
  server.manager.on('status', (change) => {
    if (!recording) return;
    const at = wallMs();
    const pulsed = server.pulsedAt(change.service);
    // Nothing else changes a status here; a change of another kind is its own cause.
    const cause = change.to === 'warning' ? pulsed + lateBy : change.to === 'healthy' ? pulsed : at;
    const seen: Change = { service: change.service, to: change.to, at, cause, written: 0 };
    changes.push(seen);
    // The hub's listener came first and queued its flush first: this runs once the frames are written.
    setImmediate(() => {
      seen.written = wallMs();
    });
  });
  process.on('message', (message: { kind: string; window?: Window }) => {
    if (message.kind === 'cpu') {
      send({ cpuMicros: cpuMicros() });
      return;
    }
    if (message.kind === 'close') {
      void server.close().then(() => {
        process.disconnect();
      });
      return;
    }
    const { settle, ticks } = message.window as Window;
    let tick = 0;
    let cpuStart = 0;
    let wallStart = 0;
    // Its own 1 s rhythm beside the pulsing loop's, both at the same period.
    const loop = setInterval(() => {
      tick++;
      if (tick === settle) {
        recording = true;
        cpuStart = cpuMicros();
        wallStart = performance.now();
      }
      if (tick >= settle && tick < settle + ticks) server.changeStatuses(STOPS_PER_TICK);
      if (tick < settle + ticks) return;
      clearInterval(loop);
      const cpuPercent = (100 * (cpuMicros() - cpuStart)) / ((performance.now() - wallStart) * 1000);
      recording = false;
      void server.connections().then((clients) => {
        send({ cpuPercent, changes, clients } satisfies ServerReport);
      });
    }, TICK_MS);
  });
  send({ port: server.port });
}

// --- The client side ------------------------------------------------------------------------

/** When each (service, status) event reached how many clients, and the last of them. */
export class Receipts {
  private readonly byEvent = new Map<string, { count: number; last: number }>();

  note(service: string, to: string, at: number): void {
    const key = `${service}>${to}`;
    const seen = this.byEvent.get(key);
    if (seen) {
      seen.count++;
      if (at > seen.last) seen.last = at;
    } else {
      this.byEvent.set(key, { count: 1, last: at });
    }
  }

  of(change: Change): { count: number; last: number } | undefined {
    return this.byEvent.get(`${change.service}>${change.to}`);
  }
}

/** The start of a status event's data: the change's own fields come first, `service` … `to`. */
const STATUS_FIELDS = /^\{"service":"([^"]*)","from":"[a-z]*","to":"([a-z]*)"/;

function noteStatus(receipts: Receipts, head: string, at: number): void {
  const match = STATUS_FIELDS.exec(head);
  if (match) receipts.note(match[1] as string, match[2] as string, at);
}

/** Where a status event's JSON starts in the SSE stream; JSON escapes line breaks, so no payload can hold it. */
const SSE_STATUS = Buffer.from('\nevent: status\ndata: ');
/** Enough of a status event's data to read its service and target status. */
const HEAD_BYTES = 160;

/**
 * Reads an SSE response chunk by chunk without gathering it: searches each chunk for the
 * status marker (and the seam between chunks, through a copy of a few bytes), and keeps at
 * most one status line's head across chunks. Pulse batches (about 80 KB each) are never copied.
 */
export class SseStatusReader {
  /** The stream's last bytes before this chunk, at most one fewer than the marker's: they may hold the start of one, over several short chunks. */
  private tail: Buffer = Buffer.alloc(0);
  /** The head of a status line begun in an earlier chunk, until its end or HEAD_BYTES. */
  private line: string | null = null;
  snapshotSeen = false;

  constructor(private readonly receipts: Receipts) {}

  read(chunk: Buffer): void {
    const at = wallMs();
    if (!this.snapshotSeen && chunk.includes('event: snapshot')) this.snapshotSeen = true;
    let from = 0;
    if (this.line !== null) {
      const end = chunk.indexOf(10);
      const take = end === -1 ? chunk.length : end;
      this.line += chunk.toString('latin1', 0, Math.min(take, HEAD_BYTES));
      if (end === -1 && this.line.length < HEAD_BYTES) return;
      noteStatus(this.receipts, this.line, at);
      this.line = null;
      from = end === -1 ? chunk.length : end;
    } else if (this.tail.length > 0) {
      const seam = Buffer.concat([this.tail, chunk.subarray(0, SSE_STATUS.length)]);
      const found = seam.indexOf(SSE_STATUS);
      if (found !== -1) from = this.statusAt(chunk, found + SSE_STATUS.length - this.tail.length, at);
    }
    for (;;) {
      const found = chunk.indexOf(SSE_STATUS, from);
      if (found === -1) break;
      from = this.statusAt(chunk, found + SSE_STATUS.length, at);
    }
    const keep = SSE_STATUS.length - 1;
    if (from > 0 || chunk.length >= keep) {
      this.tail = Buffer.from(chunk.subarray(Math.max(from, chunk.length - keep)));
    } else {
      // A chunk shorter than the marker, with nothing read in it: the stream's last bytes are the kept ones and it.
      const joined = Buffer.concat([this.tail, chunk]);
      this.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - keep)));
    }
  }

  /** Reads the status line starting at `start` of `chunk`; returns where to search on. */
  private statusAt(chunk: Buffer, start: number, at: number): number {
    const end = chunk.indexOf(10, start);
    if (end === -1 || end - start < HEAD_BYTES) {
      const text = chunk.toString('latin1', start, Math.min(end === -1 ? chunk.length : end, start + HEAD_BYTES));
      if (end === -1) {
        this.line = text;
        return chunk.length;
      }
      noteStatus(this.receipts, text, at);
      return end;
    }
    noteStatus(this.receipts, chunk.toString('latin1', start, start + HEAD_BYTES), at);
    return end;
  }
}

/** A WebSocket status message starts so: `{"event":"status","data":{"service":…`. */
const WS_STATUS = Buffer.from('{"event":"status","data":');

/** Clients connected to one server, and what they received. */
export interface Viewers {
  readonly receipts: Receipts;
  /** Destroys every socket. */
  close(): void;
}

function connectSse(port: number, agent: http.Agent, receipts: Receipts, closers: Array<() => void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, path: '/api/health/stream', agent, headers: { accept: 'text/event-stream' } },
      (response) => {
        if (response.statusCode !== 200) {
          reject(new Error(`SSE client refused: ${String(response.statusCode)}`));
          response.resume();
          return;
        }
        const reader = new SseStatusReader(receipts);
        response.on('data', (chunk: Buffer) => {
          reader.read(chunk);
          if (reader.snapshotSeen) resolve();
        });
        response.on('error', () => undefined);
      },
    );
    request.on('error', reject);
    closers.push(() => {
      request.destroy();
    });
    request.end();
  });
}

function connectWs(port: number, receipts: Receipts, closers: Array<() => void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${String(port)}/api/health/ws`, { perMessageDeflate: false });
    closers.push(() => {
      socket.terminate();
    });
    socket.on('message', (data: Buffer) => {
      if (data.length > WS_STATUS.length && data.compare(WS_STATUS, 0, WS_STATUS.length, 0, WS_STATUS.length) === 0) {
        noteStatus(receipts, data.toString('latin1', WS_STATUS.length, WS_STATUS.length + HEAD_BYTES), wallMs());
      } else {
        resolve();
      }
    });
    socket.on('error', reject);
  });
}

/**
 * Connects `count` clients of `transport` to the stream server on `port`, `CONNECT_BATCH` at a
 * time, each batch once all of it has its snapshot. SSE clients share one keep-alive agent
 * without a socket limit; WebSocket clients are `ws` clients without compression.
 */
export async function connectViewers(port: number, transport: Transport, count: number): Promise<Viewers> {
  const receipts = new Receipts();
  const closers: Array<() => void> = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const close = (): void => {
    for (const closer of closers) closer();
    agent.destroy();
  };
  try {
    for (let connected = 0; connected < count; connected += CONNECT_BATCH) {
      const batch = Math.min(CONNECT_BATCH, count - connected);
      await Promise.all(
        Array.from({ length: batch }, () =>
          transport === 'sse' ? connectSse(port, agent, receipts, closers) : connectWs(port, receipts, closers),
        ),
      );
    }
  } catch (error) {
    close();
    throw error;
  }
  return { receipts, close };
}

// --- The parent: one round of one configuration --------------------------------------------

interface Observation {
  cpuPercent: number;
  /** Delivery latency of each change, ms: its last client's receipt minus the change. */
  p50: number;
  p99: number;
  /** From each change's cause (its deadline or resuming pulse) to its last client's receipt, ms. */
  causeP50: number;
  causeP99: number;
  /** The monitor's lateness, ms: each change as the server saw it minus its cause. */
  latenessP99: number;
  /** The server's part of it, ms: from the change to its frame written to every client's socket. */
  writtenP99: number;
  /** Changes of the window that reached fewer than every client. */
  undelivered: number;
  changes: number;
  /** Connections open on the server at the window's end. */
  connected: number;
  /** The server's CPU time while the clients connected (each sent a snapshot), per client, µs. */
  joinMicros: number;
}

function nextMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => {
      reject(new Error(`The stream server exited with ${String(code)} before answering`));
    };
    child.once('exit', onExit);
    child.once('message', (message) => {
      child.off('exit', onExit);
      resolve(message as T);
    });
  });
}

async function observe(configuration: Configuration, window: Window): Promise<Observation> {
  const child = fork(__filename, ['server'], { execArgv: ['--no-memory-reducer'] });
  let viewers: Viewers | undefined;
  try {
    const { port } = await nextMessage<{ port: number }>(child);
    const serverCpu = async (): Promise<number> => {
      const answer = nextMessage<{ cpuMicros: number }>(child);
      child.send({ kind: 'cpu' });
      return (await answer).cpuMicros;
    };
    let joinMicros = 0;
    if (configuration !== 'none') {
      const before = await serverCpu();
      viewers = await connectViewers(port, configuration, CLIENTS);
      joinMicros = ((await serverCpu()) - before) / CLIENTS;
    }
    const reported = nextMessage<ServerReport>(child);
    child.send({ kind: 'measure', window });
    const { cpuPercent, changes, clients } = await reported;
    const delivered = (change: Change): boolean => (viewers?.receipts.of(change)?.count ?? 0) >= CLIENTS;
    const drainStarted = performance.now();
    while (viewers && !changes.every(delivered) && performance.now() - drainStarted < DRAIN_MS) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const latencies: number[] = [];
    const fromCause: number[] = [];
    const lateness = changes.map((change) => change.at - change.cause);
    const written: number[] = [];
    let undelivered = 0;
    if (viewers) {
      for (const change of changes) {
        const receipt = viewers.receipts.of(change);
        if (!receipt || receipt.count < CLIENTS) {
          undelivered++;
        } else {
          latencies.push(receipt.last - change.at);
          fromCause.push(receipt.last - change.cause);
        }
        written.push(change.written - change.at);
      }
    }
    const of = (samples: number[], p: number): number => (samples.length > 0 ? percentile(samples, p) : 0);
    return {
      cpuPercent,
      p50: of(latencies, 50),
      p99: of(latencies, 99),
      causeP50: of(fromCause, 50),
      causeP99: of(fromCause, 99),
      latenessP99: of(lateness, 99),
      writtenP99: of(written, 99),
      undelivered,
      changes: changes.length,
      connected: clients,
      joinMicros,
    };
  } finally {
    viewers?.close();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.connected) child.send({ kind: 'close' });
    await exited;
  }
}

export async function benchStreams(quick: boolean): Promise<Figure[]> {
  const window: Window = quick ? { settle: 1, ticks: 2 } : { settle: 2, ticks: 6 };
  const observations = await interleave(
    quick ? 1 : 3,
    {
      none: () => observe('none', window),
      sse: () => observe('sse', window),
      ws: () => observe('ws', window),
    },
    false,
  );
  const none = pick(observations.none, 'cpuPercent');
  const anchor = `CPU, ${SERVICES.toLocaleString('en-US')} services pulsing at 1 s, no client (anchor)`;
  const figures: Figure[] = [figure(anchor, '% of a core', none)];
  for (const transport of ['sse', 'ws'] as const) {
    const rounds = observations[transport];
    const name = transport === 'sse' ? 'SSE' : 'WebSocket';
    const cpu = pick(rounds, 'cpuPercent');
    figures.push(
      figure(`CPU, ${CLIENTS.toLocaleString('en-US')} ${name} clients`, '% of a core', cpu, {
        anchor,
        target: { text: '≤ 25% of a core', limit: 25, on: 'median' },
      }),
      figure(
        `CPU, ${CLIENTS.toLocaleString('en-US')} ${name} clients minus no client (paired difference)`,
        '% of a core',
        differences(cpu, none),
      ),
      figure(`delivery p50, ${name}, status change to last client`, 'ms', pick(rounds, 'p50')),
      figure(`delivery p99, ${name}, status change to last client`, 'ms', pick(rounds, 'p99'), {
        target: { text: '≤ 250 ms', limit: 250, on: 'median' },
      }),
      figure(`from cause p50, ${name}, deadline or resuming pulse to last client`, 'ms', pick(rounds, 'causeP50')),
      figure(`from cause p99, ${name}, deadline or resuming pulse to last client`, 'ms', pick(rounds, 'causeP99')),
      figure(`monitor's lateness p99, ${name}: status change minus its cause`, 'ms', pick(rounds, 'latenessP99')),
      figure(`server's part, p99: status change to its frame written for every client, ${name}`, 'ms', pick(rounds, 'writtenP99')),
      figure(`connections open at the window's end, ${name}`, 'connections', pick(rounds, 'connected')),
      figure(
        `server CPU per client joining, ${name} (its snapshot of ${SERVICES.toLocaleString('en-US')} services; ${String(CONNECT_BATCH)} connecting at once)`,
        'µs/client',
        pick(rounds, 'joinMicros'),
      ),
      // One figure, the sum over the rounds: a median of rounds would pass one bad round.
      figure(
        `status changes not delivered to every client, ${name} (all rounds together)`,
        'changes',
        [pick(rounds, 'undelivered').reduce((sum, count) => sum + count, 0)],
        { target: { text: '0', limit: 0, on: 'median' } },
      ),
    );
  }
  figures.push(figure('status changes per round (window)', 'changes', pick(observations.sse, 'changes')));
  return figures;
}

/**
 * Connects `count` viewers of `transport` to `port` from a child process (this file, forked
 * with `viewers`), so that their reading stays out of this process's CPU time and profile.
 * Resolves once every one has its snapshot; `close()` destroys their sockets and ends the child.
 */
export async function forkViewers(port: number, transport: Transport, count: number): Promise<{ close: () => Promise<void> }> {
  const child = fork(__filename, ['viewers', String(port), transport, String(count)]);
  await nextMessage<{ connected: number }>(child);
  return {
    close: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (child.connected) child.send({ kind: 'close' });
      await exited;
    },
  };
}

/** The viewers child: connects, says so, and closes when told. */
async function viewInChild(port: number, transport: Transport, count: number): Promise<void> {
  const viewers = await connectViewers(port, transport, count);
  process.once('message', () => {
    viewers.close();
    process.disconnect();
  });
  process.send?.({ connected: count });
}

if (require.main === module) {
  const [role, port, transport, count] = process.argv.slice(2);
  if (role === 'server') void serveInChild();
  if (role === 'viewers') void viewInChild(Number(port), transport as Transport, Number(count));
}
