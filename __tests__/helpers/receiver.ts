import http from 'node:http';

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: any;
}

export type Behaviour = 'ok' | 'hang' | 'endless' | 'stalled-body' | number | { redirect: string };

export interface Receiver {
  url: string;
  received: Received[];
  /**
   * How the next requests are answered: `ok` (204), an HTTP status, `hang` (never answer),
   * `endless` (a 200 whose body never ends), `stalled-body` (a 200 whose body never comes), or
   * `{ redirect }` (a 307 to that URL).
   */
  behave(behaviour: Behaviour): void;
  /** Body bytes written by `endless` answers so far, and how many of those answers the client hung up on. */
  readonly endless: { bytes: number; hungUp: number };
  close(): Promise<void>;
}

/** A real webhook receiver on a loopback port. */
export async function startReceiver(path = '/hooks/SECRET-TOKEN-1234'): Promise<Receiver> {
  let behaviour: Behaviour = 'ok';
  const received: Received[] = [];
  const endless = { bytes: 0, hungUp: 0 };
  const server = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: text ? JSON.parse(text) : undefined });
      if (behaviour === 'hang') return;
      if (behaviour === 'endless') {
        stream(res, endless);
        return;
      }
      if (behaviour === 'stalled-body') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.flushHeaders();
        return;
      }
      if (typeof behaviour === 'object') {
        res.writeHead(307, { location: behaviour.redirect });
        res.end();
        return;
      }
      res.writeHead(behaviour === 'ok' ? 204 : behaviour);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}${path}`,
    received,
    endless,
    behave: (next) => (behaviour = next),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

const CHUNK = Buffer.alloc(16 * 1024, 'x');

/** A 200 that writes as fast as the client reads, until the client hangs up. */
function stream(res: http.ServerResponse, counts: { bytes: number; hungUp: number }): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  let open = true;
  res.on('close', () => {
    open = false;
    counts.hungUp++;
  });
  const write = (): void => {
    while (open && res.write(CHUNK)) counts.bytes += CHUNK.length;
    if (open) {
      counts.bytes += CHUNK.length;
      res.once('drain', write);
    }
  };
  write();
}
