import http from 'node:http';

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

export interface SseClient {
  status: number;
  headers: http.IncomingHttpHeaders;
  events: SseEvent[];
  /** Raw text received, comments included. */
  raw: () => string;
  /** Whether the server ended the response. */
  ended: () => boolean;
  /** Resolves once `count` events (of `name`, if given) have arrived; gives up after `timeoutMs`. */
  waitFor(count: number, name?: string, timeoutMs?: number): Promise<SseEvent[]>;
  close(): void;
}

/** A minimal EventSource over node:http, parsing frames exactly as the SSE spec splits them. */
export function openStream(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (response) => {
      let buffer = '';
      let raw = '';
      let ended = false;
      response.on('end', () => (ended = true));
      const events: SseEvent[] = [];
      const waiters: Array<() => void> = [];
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        raw += chunk;
        buffer += chunk;
        let end: number;
        while ((end = buffer.search(/\r\n\r\n|\n\n|\r\r/)) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = { event: 'message', data: '' };
          const data: string[] = [];
          let hasData = false;
          for (const line of block.split(/\r\n|\n|\r/)) {
            if (line.startsWith(':') || line === '') continue;
            const colon = line.indexOf(':');
            const field = colon === -1 ? line : line.slice(0, colon);
            const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'data') {
              data.push(value);
              hasData = true;
            } else if (field === 'event') event.event = value;
            else if (field === 'id') event.id = value;
          }
          if (!hasData) continue;
          event.data = data.join('\n');
          events.push(event);
          for (const wake of waiters.splice(0)) wake();
        }
      });
      resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        events,
        raw: () => raw,
        ended: () => ended,
        waitFor: (count, name, timeoutMs) => waitForEvents(events, waiters, count, name, timeoutMs),
        close: () => request.destroy(),
      });
    });
    request.on('error', reject);
  });
}

/**
 * Resolves once `events` holds `count` events (of `name`, if given), checked each time the
 * reader wakes `waiters` and on each turn of the event loop; gives up after `timeoutMs` of real
 * time. Shared by the SSE and WebSocket readers.
 */
export function waitForEvents(
  events: readonly SseEvent[],
  waiters: Array<() => void>,
  count: number,
  name?: string,
  timeoutMs = 5000,
): Promise<SseEvent[]> {
  return new Promise((done, fail) => {
    const matching = () => events.filter((event) => !name || event.event === name);
    // The real time: the tests run on jest's fake timers, which stop Date.now and hrtime alike.
    const started = jest.getRealSystemTime();
    const check = () => {
      if (matching().length >= count) {
        done(matching());
        return;
      }
      if (jest.getRealSystemTime() - started > timeoutMs) {
        fail(new Error(`Saw ${JSON.stringify(events.map((e) => e.event))}; wanted ${String(count)} ${name ?? 'events'}`));
        return;
      }
      waiters.push(check);
      setImmediate(() => {
        const index = waiters.indexOf(check);
        if (index !== -1) {
          waiters.splice(index, 1);
          check();
        }
      });
    };
    check();
  });
}
