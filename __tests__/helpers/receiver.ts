import http from 'node:http';

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: any;
}

export type Behaviour = 'ok' | 'hang' | number;

export interface Receiver {
  url: string;
  received: Received[];
  /** How the next requests are answered: `ok` (204), an HTTP status, or `hang` (never answer). */
  behave(behaviour: Behaviour): void;
  close(): Promise<void>;
}

/** A real webhook receiver on a loopback port. */
export async function startReceiver(path = '/hooks/SECRET-TOKEN-1234'): Promise<Receiver> {
  let behaviour: Behaviour = 'ok';
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: text ? JSON.parse(text) : undefined });
      if (behaviour === 'hang') return;
      res.writeHead(behaviour === 'ok' ? 204 : behaviour);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}${path}`,
    received,
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
