import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Request, Response } from 'express';
import { WebSocket, WebSocketServer, type ServerOptions } from 'ws';
import { OptionReader } from '../util/validate';
import { AUTH_ERRORS, type BearerAuth, type Credentials } from './auth';
import type { DetailsGate } from './details';
import { clientAddress, requestHosts, trustOf, type TrustProxy } from './proxy-trust';
import type { FrameFormat, StreamClient, StreamHub } from './stream';
import { originRefusal } from './stream-origin';
import { refuseUpgrade } from './upgrade-reply';
import { sendError } from './respond';

/** A server the WebSocket stream can attach to: `app.listen()`'s, or one of `http`/`https.createServer()`. */
export type UpgradableServer = HttpServer | HttpsServer;

/** What `attachWebSocket()` takes. Every key is optional. */
export interface AttachWebSocketOptions {
  /**
   * The path of the stream on this server, as clients ask for it. Defaults to
   * `{basePath}/ws`; give it when the router is mounted under a prefix
   * (`app.use('/ops', health)` → `{ path: '/ops/api/health/ws' }`), which the router cannot
   * know before a request passes through it.
   */
  readonly path?: string;
}

/**
 * WebSocket frames: one JSON text message per event, `{"event":"status","data":{…}}`, `data`
 * as the SSE event's.
 */
const WS_FRAMES: FrameFormat = {
  encode: (_id, event, data) => JSON.stringify({ event, data }),
};

/** Messages a client may send are not read, only discarded: a small cap keeps each one small. */
const MAX_INBOUND_BYTES = 4096;

/**
 * Milliseconds a client has to answer the server's close before its socket is cut: the timer
 * is ws's own and holds the process, so a client that never answers must not hold a shutdown
 * for ws's default 30 s.
 */
const CLOSE_TIMEOUT_MS = 2000;

/** `closeTimeout` is an option of ws 8's server that its type declarations do not list yet. */
const SERVER_OPTIONS: ServerOptions = Object.assign(
  {
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: MAX_INBOUND_BYTES,
    // The stream speaks no subprotocol: a client asking for one gets none and decides.
    handleProtocols: () => false as const,
  },
  { closeTimeout: CLOSE_TIMEOUT_MS },
);

/** One WebSocket client of the hub. */
class WebSocketClient implements StreamClient {
  readonly format = WS_FRAMES;
  /** Whether a ping is out without its pong: at the next keep-alive, the peer is gone. */
  private awaitingPong = false;

  constructor(
    private readonly socket: WebSocket,
    private readonly hub: StreamHub,
    readonly detailed: boolean,
    readonly address: string,
  ) {
    socket.on('pong', () => {
      this.awaitingPong = false;
    });
  }

  get open(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  get bufferedBytes(): number {
    return this.socket.bufferedAmount;
  }

  send(frame: Buffer): void {
    // A text message still: the bytes are the UTF-8 of the JSON.
    this.socket.send(frame, { binary: false });
  }

  keepAlive(): void {
    if (!this.open) return;
    if (this.awaitingPong) {
      // No pong for a whole keep-alive period: the peer or the path to it is gone.
      this.destroy();
      return;
    }
    this.awaitingPong = true;
    this.socket.ping();
  }

  end(): void {
    // 1001, "going away": the server is shutting down.
    this.socket.close(1001, 'The server is closing');
  }

  destroy(): void {
    this.socket.terminate();
    this.hub.leave(this);
  }
}

/** An `upgrade` listener of a transport, and the paths it answers (its own, and all under its base path). */
type UpgradeListener = ((req: IncomingMessage, socket: Duplex, head: Buffer) => void) & {
  readonly claims: (pathname: string) => boolean;
};

/** One server the stream is attached to, and its listener. */
interface Attachment {
  readonly path: string;
  readonly listener: UpgradeListener;
}

/**
 * Every transport's `upgrade` listener: with two routers attached to one server, each would
 * otherwise leave a path neither answers to the other, and the request would hang.
 */
const OWN_LISTENERS = new WeakSet();

/**
 * Whether `listener` answers 404 to an upgrade for `pathname`, which it does not claim: only
 * when every `upgrade` listener of the server is a transport's, none claims the path, and
 * `listener` is the first of them, so that exactly one answers.
 */
function answersUnclaimed(server: UpgradableServer, listener: object, pathname: string): boolean {
  const all = server.listeners('upgrade');
  return all[0] === listener && all.every((other) => OWN_LISTENERS.has(other) && !(other as UpgradeListener).claims(pathname));
}

/**
 * The WebSocket transport of a {@link StreamHub}: it answers upgrade requests for its path on
 * the servers it is attached to, with the same origin check, places and details policy as the
 * SSE stream, and an optional bearer token. Upgrades for other paths are left to the server's
 * other listeners (answered 404 under the router's base path, or when no other listener is
 * there to answer). The hub's close removes every listener and closes every socket.
 */
export class WebSocketTransport {
  private readonly server = new WebSocketServer(SERVER_OPTIONS);
  private readonly attachments = new Map<UpgradableServer, Attachment>();

  constructor(
    private readonly hub: StreamHub,
    private readonly basePath: string,
    private readonly details: DetailsGate,
    /** The token the `webSocket.token` option sets, and the config's `remote_token`, either of which admits. */
    private readonly tokens: { readonly stream: BearerAuth | null; readonly remote: BearerAuth | null },
  ) {
    // ws's own handshake checks (method, Sec-WebSocket-Key, version): answered in JSON too.
    this.server.on('wsClientError', (error: Error, socket: Duplex, req: IncomingMessage) => {
      const status = req.method === 'GET' ? 400 : 405;
      const headers: Record<string, string> = status === 405 ? { Allow: 'GET' } : { 'Sec-WebSocket-Version': '13' };
      const path = status === 405 ? { path: (req.url ?? '').split('?')[0] ?? '' } : {};
      refuseUpgrade(socket, status, { error: `Not a valid WebSocket handshake: ${error.message}.`, ...path }, headers);
    });
    hub.onClose(() => {
      this.detachAll();
    });
  }

  /** See `HealthRouter.attachWebSocket`. */
  attach(server: UpgradableServer, options: AttachWebSocketOptions = {}): void {
    const read = new OptionReader('Invalid attachWebSocket options');
    if (typeof (server as Partial<UpgradableServer> | null)?.on !== 'function' || typeof server.listenerCount !== 'function') {
      read.fail('server', server, "the app's HTTP or HTTPS server, e.g. the one app.listen() returns");
    }
    const given = read.object('', options, ['path']);
    const path = given.path === undefined ? `${this.basePath}/ws` : read.plainPath('path', given.path);
    const existing = this.attachments.get(server);
    if (existing) {
      if (existing.path === path) return;
      throw new Error(
        `attachWebSocket(): the stream is already attached to this server at ${existing.path}; it cannot be attached again at ${path}.`,
      );
    }
    if (this.hub.manager.isClosed) throw new Error('attachWebSocket(): the heartbeat manager is closed.');
    const listener = this.upgradeListener(server, path);
    server.on('upgrade', listener);
    this.attachments.set(server, { path, listener });
  }

  private upgradeListener(server: UpgradableServer, path: string): UpgradeListener {
    const exact = new RegExp(`^${escapeRegExp(path)}/?$`, 'i');
    // Under the router's base path (as mounted), every upgrade is ours to answer, as every
    // request there is the router's; elsewhere only our own path is.
    const baseSuffix = `${this.basePath}/ws`;
    const base = path.toLowerCase().endsWith(baseSuffix.toLowerCase()) ? path.slice(0, path.length - 3) : null;
    const under = base === null ? null : new RegExp(`^${escapeRegExp(base)}(?:/|$)`, 'i');
    const claims = (pathname: string): boolean => exact.test(pathname) || under?.test(pathname) === true;
    const listener = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
      const pathname = (req.url ?? '').split('?')[0] ?? '';
      if (exact.test(pathname)) {
        this.upgrade(server, req, socket, head);
        return;
      }
      // Another listener's path: left alone, unless no other listener would answer it.
      if (under?.test(pathname) === true || answersUnclaimed(server, listener, pathname)) {
        socket.on('error', ignore);
        refuseUpgrade(socket, 404, { error: `No WebSocket endpoint at ${pathname.slice(0, 200)}.`, path: pathname.slice(0, 200) });
      }
    };
    OWN_LISTENERS.add(listener);
    return Object.assign(listener, { claims });
  }

  private upgrade(server: UpgradableServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A client that resets the connection mid-handshake must not crash the process.
    socket.on('error', ignore);
    const trust = trustOfServer(server);
    const origin = req.headers.origin;
    if (!this.hub.origins.admits(origin, requestHosts(req, trust))) {
      refuseUpgrade(socket, 403, originRefusal(origin as string));
      return;
    }
    // BearerAuth and DetailsGate read a request's headers and query only, which an upgrade
    // request has too once its query is parsed.
    const view: Credentials = {
      headers: req.headers,
      query: Object.fromEntries(new URL(req.url ?? '/', 'http://x').searchParams),
    };
    const { stream: streamAuth, remote } = this.tokens;
    if (streamAuth) {
      const result = streamAuth.check(view);
      if (result !== 'ok' && remote?.check(view) !== 'ok') {
        refuseUpgrade(socket, 401, { error: AUTH_ERRORS[result] }, { 'WWW-Authenticate': 'Bearer realm="heartbeat"' });
        return;
      }
    }
    const address = clientAddress(req, trust);
    const refusal = this.hub.refusal(address);
    if (refusal) {
      refuseUpgrade(socket, refusal.status, refusal.body, refusal.retryAfter === undefined ? {} : { 'Retry-After': refusal.retryAfter });
      return;
    }
    const detailed = this.details.allows(view);
    // Synchronous once the handshake is valid: the place checked above is still free.
    this.server.handleUpgrade(req, socket, head, (ws) => {
      socket.off('error', ignore);
      const client = new WebSocketClient(ws, this.hub, detailed, address);
      ws.on('close', () => {
        this.hub.leave(client);
      });
      // A reset connection: 'close' follows and gives the place back.
      ws.on('error', ignore);
      this.hub.join(client);
    });
  }

  private detachAll(): void {
    for (const [server, { listener }] of this.attachments) server.off('upgrade', listener);
    this.attachments.clear();
    this.server.close();
  }
}

/** The `trust proxy` of the Express app serving `server` (`app.listen()` or `createServer(app)`), if it is one. */
function trustOfServer(server: UpgradableServer): TrustProxy | undefined {
  for (const listener of server.listeners('request')) {
    const trust = trustOf(listener);
    if (trust) return trust;
  }
  return undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function ignore(): void {
  // Errors of a socket being refused or closed: its 'close' is what matters.
}

/**
 * `GET {basePath}/ws` reached as plain HTTP: a client without `Upgrade: websocket`, or a server
 * the stream was not attached to (or no longer is, once the manager closed).
 */
export function webSocketOverHttp(manager: { readonly isClosed: boolean }) {
  return (req: Request, res: Response): void => {
    if (manager.isClosed) {
      sendError(res, 503, 'The heartbeat manager is closed.');
      return;
    }
    if (req.headers.upgrade?.toLowerCase() === 'websocket') {
      sendError(res, 503, 'The WebSocket stream is not attached to this server: the app calls attachWebSocket(server) after listen().');
      return;
    }
    res.set('Upgrade', 'websocket');
    sendError(
      res,
      426,
      'This is a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket), or use the event stream at ./stream.',
    );
  };
}
