import http from 'node:http';
import WebSocket from 'ws';
import { waitForEvents, type SseEvent } from './sse';

/** An open WebSocket to the stream, read as the SSE helper reads a stream: its handshake, its messages, its events. */
export interface WsClient {
  /** 101. */
  status: number;
  /** The handshake answer's headers. */
  headers: http.IncomingHttpHeaders;
  /** Every message, as the text received. */
  messages: string[];
  /** Each message's `event`, and its `data` as JSON text (as an SSE event's `data:` line). */
  events: SseEvent[];
  /** Resolves once `count` events (of `name`, if given) have arrived; gives up after `timeoutMs` of real time. */
  waitFor(count: number, name?: string, timeoutMs?: number): Promise<SseEvent[]>;
  close(): void;
}

/** A handshake the server refused: its HTTP answer. */
export interface UpgradeRefusal {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body's text. */
  text: string;
}

/** Opens a WebSocket as .NET's ClientWebSocket does (no subprotocol, no compression); rejects if it is refused. */
export function openWebSocket(url: string, headers: Record<string, string> = {}): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers, perMessageDeflate: false });
    const messages: string[] = [];
    const events: SseEvent[] = [];
    const waiters: Array<() => void> = [];
    let handshake: http.IncomingMessage | undefined;
    socket.on('upgrade', (response) => {
      handshake = response;
    });
    socket.on('message', (message: Buffer) => {
      const text = message.toString('utf8');
      messages.push(text);
      const { event, data } = JSON.parse(text) as { event: string; data: unknown };
      events.push({ event, data: JSON.stringify(data) });
      for (const wake of waiters.splice(0)) wake();
    });
    socket.on('unexpected-response', (_request, response) => {
      socket.terminate();
      reject(new Error(`The handshake was refused: ${String(response.statusCode)}`));
    });
    socket.on('error', reject);
    socket.on('open', () => {
      resolve({
        status: handshake?.statusCode ?? 0,
        headers: handshake?.headers ?? {},
        messages,
        events,
        waitFor: (count, name, timeoutMs) => waitForEvents(events, waiters, count, name, timeoutMs),
        close: () => {
          socket.terminate();
        },
      });
    });
  });
}

/**
 * Sends an upgrade request of any method and headers (a handshake `ws` would not send) and
 * resolves with the HTTP answer that refused it; rejects if the server switched protocols.
 */
export function refusedUpgrade(url: string, method = 'GET', headers: Record<string, string> = {}): Promise<UpgradeRefusal> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method, headers: { Connection: 'Upgrade', Upgrade: 'websocket', ...headers } });
    request.on('upgrade', (_response, socket) => {
      socket.destroy();
      reject(new Error('The server switched protocols'));
    });
    request.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, headers: response.headers, text });
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

/** A valid handshake's own headers, for `refusedUpgrade()`: a key and version 13. */
export const HANDSHAKE = { 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' } as const;
