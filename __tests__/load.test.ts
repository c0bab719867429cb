// Load on loopback: hundreds of connections for a few seconds against the demo server, run as
// `npm start` runs it. Zero errors, every pulse counted, and a SIGTERM under load loses nothing.
import http from 'node:http';
import autocannon from 'autocannon';
import { fastDemoConfig, pollUntil, startDemoProcess, type DemoProcess } from './helpers/demo';
import { reportFigure } from './helpers/figures';

const TOKEN = 'load-test-token-0123456789';
let demo: DemoProcess | undefined;

afterEach(async () => {
  await demo?.stop();
  demo = undefined;
});

function figures(label: string, result: autocannon.Result): void {
  reportFigure(
    `${label}: ${result.requests.sent} requests, ${Math.round(result.requests.average)} req/s, ` +
      `latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms; ` +
      `errors ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx}`,
  );
}

it('serves /api/health/status and counts every remote pulse under hundreds of connections', async () => {
  const config = fastDemoConfig(30);
  demo = await startDemoProcess(
    { ...config, services: { ...config.services, csharp_client: { interval: 30 } } },
    { HEARTBEAT_TOKEN: TOKEN },
  );

  const status = await autocannon({ url: `${demo.bridgeUrl}/api/health/status`, connections: 200, duration: 3, timeout: 10 });
  figures('GET /api/health/status, 200 connections, 3 s', status);
  expect([status.errors, status.timeouts, status.non2xx]).toEqual([0, 0, 0]);
  expect(status.requests.sent).toBeGreaterThan(1000);

  const pulses = await autocannon({
    url: `${demo.bridgeUrl}/api/health/service/csharp_client/pulse`,
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
    connections: 200,
    amount: 20_000,
    timeout: 10,
  });
  figures('POST remote pulses, 200 connections, 20,000 pulses', pulses);
  expect([pulses.errors, pulses.timeouts, pulses.non2xx]).toEqual([0, 0, 0]);
  const service = (await (await fetch(`${demo.bridgeUrl}/api/health/service/csharp_client`)).json()) as { total_pulses: number };
  expect(service.total_pulses).toBe(20_000);
}, 60_000);

it('closes within 2 s of SIGTERM under load and answers every request it had accepted', async () => {
  demo = await startDemoProcess(fastDemoConfig(30));
  const { hostname, port } = new URL(demo.bridgeUrl);
  const outcomes = { answered: 0, refused: 0, reset: 0, other: [] as string[] };
  let stopping = false;
  // 100 clients, each sending slow requests one after another on fresh connections.
  const client = async (): Promise<void> => {
    for (;;) {
      const result = await new Promise<string>((resolve) => {
        const req = http.get({ hostname, port, path: '/demo/slow?ms=200', agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => {
            resolve(res.statusCode === 200 && body.includes('waited_ms') ? 'answered' : `status ${res.statusCode}`);
          });
          res.on('error', (error: NodeJS.ErrnoException) => {
            resolve(error.code ?? error.message);
          });
        });
        req.on('error', (error: NodeJS.ErrnoException) => {
          resolve(error.code ?? error.message);
        });
      });
      if (result === 'answered') outcomes.answered++;
      else if (result === 'ECONNREFUSED') outcomes.refused++;
      else if (result === 'ECONNRESET' || result === 'socket hang up') outcomes.reset++;
      else outcomes.other.push(result);
      if (stopping && result !== 'answered') return;
    }
  };
  const clients = Array.from({ length: 100 }, client);
  // Until over a hundred answers are in, not a fixed 500 ms: a busy machine answers fewer in that time.
  await pollUntil(
    () => outcomes.answered,
    (count) => count > 100,
    15_000,
  );
  stopping = true;
  const stopped = demo;
  const exit = await stopped.stop();
  demo = undefined;
  await Promise.all(clients);
  await new Promise((resolve) => {
    if (!stopped.child.stdout || stopped.child.stdout.readableEnded) resolve(null);
    else stopped.child.stdout.once('end', resolve);
  });
  // What the server accepted, from its own request log: each request pino-http saw ends as
  // "request completed" or, had it been cut off, "request aborted" / "request errored".
  const accepted = stopped.logs.filter(
    (line) => line.component === 'http' && String((line.req as { url?: string } | undefined)?.url).startsWith('/demo/slow'),
  );
  const completed = accepted.filter(
    (line) => line.msg === 'request completed' && (line.res as { statusCode?: number }).statusCode === 200,
  ).length;
  const cut = accepted.length - completed;
  reportFigure(
    `SIGTERM under load: exit ${exit.code} after ${exit.ms} ms; the server accepted ${accepted.length} requests and completed ${completed}; ` +
      `clients got ${outcomes.answered} answers, ${outcomes.refused} refusals and ${outcomes.reset} resets of connections the server never accepted`,
  );
  expect(exit.code).toBe(0);
  expect(exit.ms).toBeLessThan(2000);
  expect(completed).toBeGreaterThan(100);
  expect(cut).toBe(0);
  expect(outcomes.answered).toBe(completed);
  expect(outcomes.other).toEqual([]);
}, 30_000);
