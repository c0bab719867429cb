import type { Request, Response } from 'express';
import type { DetailsGate } from './details';
import { sendError } from './respond';
import type { FrameFormat, StreamClient, StreamHub } from './stream';
import { originRefusal } from './stream-origin';
import { requestHosts, trustOf } from './proxy-trust';

/**
 * Server-Sent Events frames: `JSON.stringify` escapes every line break, so the payload is
 * always exactly one `data:` line and no service name or error message can forge an event.
 */
const SSE_FRAMES: FrameFormat = {
  encode: (id, event, data) => `id: ${String(id)}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`,
};

const KEEP_ALIVE = `: keep-alive\n\n`;

/** One EventSource: an Express response held open. */
class SseClient implements StreamClient {
  readonly format = SSE_FRAMES;

  constructor(
    private readonly res: Response,
    readonly detailed: boolean,
    readonly address: string,
  ) {}

  get open(): boolean {
    return !this.res.writableEnded && !this.res.destroyed;
  }

  get bufferedBytes(): number {
    return this.res.writableLength;
  }

  send(frame: Buffer): void {
    this.res.write(frame);
  }

  keepAlive(): void {
    if (this.open) this.res.write(KEEP_ALIVE);
  }

  end(): void {
    this.res.end();
  }

  destroy(): void {
    this.res.destroy();
  }
}

/** The Express handler for `GET {basePath}/stream`: Server-Sent Events from `hub`, details as `details` decides per request. */
export function sseHandler(hub: StreamHub, details: DetailsGate) {
  return (req: Request, res: Response): void => {
    const origin = req.headers.origin;
    if (!hub.origins.admits(origin, requestHosts(req, trustOf(req.app)))) {
      sendError(res, 403, ...errorOf(originRefusal(origin as string)));
      return;
    }
    const address = req.ip ?? req.socket.remoteAddress ?? '';
    const refusal = hub.refusal(address);
    if (refusal) {
      if (refusal.retryAfter !== undefined) res.set('Retry-After', refusal.retryAfter);
      sendError(res, refusal.status, ...errorOf(refusal.body));
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
    const client = new SseClient(res, details.allows(req), address);
    res.on('close', () => {
      hub.leave(client);
    });
    res.write(`retry: 2000\n\n`);
    hub.join(client);
  };
}

/** `sendError`'s arguments from an error body. */
function errorOf(body: { error: string; [key: string]: unknown }): [string, Record<string, unknown>] {
  const { error, ...extra } = body;
  return [error, extra];
}
