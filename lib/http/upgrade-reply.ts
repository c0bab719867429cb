import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Answers an upgrade request that will not be upgraded with an HTTP error and a JSON body, as
 * the router answers its other errors, then closes the socket: after an `upgrade` event Node
 * has handed the raw socket over, and a request left unanswered would hang.
 */
export function refuseUpgrade(socket: Duplex, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const json = JSON.stringify(body);
  const lines = [
    `HTTP/1.1 ${String(status)} ${STATUS_CODES[status] ?? ''}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    'Cache-Control: no-store',
    `Content-Length: ${String(Buffer.byteLength(json))}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  // Closed once written, whatever the client does: it cannot hold the socket open.
  socket.once('finish', () => socket.destroy());
  socket.end(`${lines.join('\r\n')}\r\n\r\n${json}`);
}
