import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import request from 'supertest';
import { csvField } from '../lib/http/export';
import { HeartbeatManager } from '../lib/core/manager';
import { healthRouter } from '../lib/http/router';
import { createTestClock, type TestClock } from './helpers/clock';
import { closeManagers, trackManager } from './helpers/managers';

/** One call to `res.write` or `res.end` of an export: its size, and the event loop turns counted by then. */
interface Write {
  bytes: number;
  turn: number;
}

let clock: TestClock;
let manager: HeartbeatManager;
let app: express.Express;
let writes: Write[];
let closed: Promise<void>;
let turns = 0;
let counting = false;

beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  jest.setSystemTime(new Date('2024-05-01T12:00:00.000Z'));
  clock = createTestClock();
  manager = trackManager(new HeartbeatManager({ clock, config: { log_level: 'silent', history_size: 5000 } }));
  writes = [];
  closed = new Promise(() => undefined);
  app = express();
  app.use(recordWrites);
  app.use(healthRouter({ manager, registry: new Registry() }));
});
afterEach(() => {
  counting = false;
  closeManagers();
  jest.useRealTimers();
});

/** What the JSON export holds, built whole: every service's history with all its retained days, in the order of the status. */
function wholeHistories() {
  return [...manager.listedRecords()].map((record) => manager.history(record.tag, { days: manager.config.retention_days }));
}

/** Notes every write of the export's response, and when the response closes. */
function recordWrites(req: Request, res: Response, next: NextFunction): void {
  if (req.path !== '/api/health/export') {
    next();
    return;
  }
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  const note = (chunk: unknown): void => {
    if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) writes.push({ bytes: Buffer.byteLength(chunk), turn: turns });
  };
  res.write = ((...args: unknown[]) => {
    note(args[0]);
    return write(...args);
  }) as Response['write'];
  res.end = ((...args: unknown[]) => {
    note(args[0]);
    return end(...args);
  }) as Response['end'];
  closed = new Promise((resolve) =>
    res.once('close', () => {
      resolve();
    }),
  );
  next();
}

/** Counts turns of the event loop until the test ends: a blocked loop counts none. */
function countTurns(): void {
  counting = true;
  const tick = (): void => {
    turns++;
    if (counting) setImmediate(tick);
  };
  setImmediate(tick);
}

/** `services` services of `entries` status changes each, with 150-character reasons: about 230 bytes of JSON a change. */
function largeHistory(services: number, entries: number): void {
  for (let s = 0; s < services; s++) manager.heartbeat({ tag: `service_${s}`, interval: 60 }).start();
  const now = clock.now();
  for (const record of manager.listedRecords()) {
    for (let i = 0; i < entries; i++) {
      record.history.push({ at: now - entries + i, from: 'healthy', to: 'warning', reason: `error: ${'x'.repeat(143)}${i}` });
    }
  }
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('GET /api/health/export, streamed', () => {
  it('answers the JSON byte for byte as it was built whole, and the same CSV rows, for a small history', async () => {
    manager.heartbeat({ tag: 'save_worker', interval: 60 }).start();
    manager.heartbeat({ tag: '=cmd', interval: 60 }).error('a, "quoted"\nmessage');
    clock.advance(1500);
    manager.get('=cmd')?.pulse();
    clock.advance(1);
    manager.heartbeat({ tag: 'quiet', interval: 60 }).start();
    manager.heartbeat({ tag: 'ünï €', interval: 60 }).error('disk full', { critical: true });

    const json = await request(app).get('/api/health/export');
    expect(json.status).toBe(200);
    expect(json.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(json.headers['cache-control']).toBe('no-store');
    // What the endpoint answered before it streamed: res.json() of the whole body.
    expect(json.text).toBe(JSON.stringify({ generated_at: '2024-05-01T12:00:01.501Z', services: wholeHistories() }));
    // With the gaps and every retained day: here, today, the one day watched so far, with the
    // pulse of 1 ms ago in it: the export brings the totals up to the latest pulse first.
    const services = JSON.parse(json.text).services as { gaps: unknown[]; daily: { date: string; pulses: number; errors: number }[] }[];
    expect(services.map((service) => service.gaps)).toEqual([[], [], [], []]);
    expect(services.map((service) => service.daily.map(({ date, pulses, errors }) => [date, pulses, errors]))).toEqual([
      [['2024-05-01', 0, 0]],
      [['2024-05-01', 1, 1]],
      [['2024-05-01', 0, 0]],
      [['2024-05-01', 0, 1]],
    ]);

    const csv = await request(app).get('/api/health/export?format=csv');
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['content-disposition']).toBe('attachment; filename="heartbeat-history.csv"');
    // Every field quoted since the CSV became formula-safe whatever the separator; the rows are the same.
    expect(csv.text).toBe(
      '"service","time","from","to","reason","uptime_24h","uptime_7d"\r\n' +
        `"'=cmd","2024-05-01T12:00:00.000Z","healthy","warning","error: a, ""quoted""\nmessage","1","1"\r\n` +
        `"'=cmd","2024-05-01T12:00:01.501Z","warning","healthy","pulse received","1","1"\r\n` +
        '"ünï €","2024-05-01T12:00:01.501Z","healthy","critical","critical error: disk full","1","1"\r\n',
    );
  });

  it('answers HEAD with the headers alone', async () => {
    largeHistory(1, 10);
    const response = await request(app).head('/api/health/export?format=csv');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(writes.every((write) => write.bytes === 0)).toBe(true);
  });

  it.each(['json', 'csv'])('writes a large %s export in chunks, with a turn of the event loop between every two', async (format) => {
    largeHistory(4, 5000);
    countTurns();
    const response = await request(app).get(`/api/health/export?format=${format}`).buffer(true);
    expect(response.status).toBe(200);
    expect(response.text.length).toBeGreaterThan(4_000_000);
    if (format === 'json') {
      const generatedAt = new Date(clock.wallNow()).toISOString();
      expect(response.text).toBe(JSON.stringify({ generated_at: generatedAt, services: wholeHistories() }));
    } else {
      expect(response.text.split('\r\n')).toHaveLength(1 + 4 * 5000 + 1);
    }
    // Built whole, the body went out in one write, with no turn for anything else while it was built.
    expect(writes.length).toBeGreaterThan(50);
    for (let i = 1; i < writes.length; i++) expect((writes[i] as Write).turn).toBeGreaterThan((writes[i - 1] as Write).turn);
    expect(Math.max(...writes.map((write) => write.bytes))).toBeLessThan(200 * 1024);
  });

  it('stops building the export when the client goes away', async () => {
    largeHistory(4, 5000);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      await new Promise<void>((resolve, reject) => {
        const client = http.get({ host: '127.0.0.1', port, path: '/api/health/export' }, (response) => {
          response.once('data', () => {
            client.destroy();
            resolve();
          });
        });
        client.on('error', (error) => {
          if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(error);
        });
      });
      await closed;
      const written = writes.length;
      for (let i = 0; i < 20; i++) await nextTurn();
      expect(writes).toHaveLength(written);
      const bytes = writes.reduce((sum, write) => sum + write.bytes, 0);
      expect(bytes).toBeLessThan(4_000_000 / 4);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

/**
 * The cells a spreadsheet reads from `text` when it splits cells on `separator` and rows on
 * line breaks: with quote handling (a cell that begins with `"` runs to the lone closing quote,
 * anything after it is kept as it comes, as Excel and LibreOffice do), or without any.
 */
function cellsAsRead(text: string, separator: string, quotes: boolean): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  let atStart = true;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (quoted) {
      if (char !== '"') cell += char;
      else if (text[i + 1] === '"') {
        cell += '"';
        i++;
      } else quoted = false;
    } else if (quotes && atStart && char === '"') {
      quoted = true;
      atStart = false;
    } else if (char === separator || char === '\r' || char === '\n') {
      if (char === '\r' && text[i + 1] === '\n') i++;
      cells.push(cell);
      cell = '';
      atStart = true;
    } else {
      cell += char;
      atStart = false;
    }
  }
  cells.push(cell);
  return cells;
}

describe('GET /api/health/export, the long-term history', () => {
  it('gives each service in the JSON a rollup for every retained day, and keeps them out of the CSV', async () => {
    const local = trackManager(new HeartbeatManager({ clock, config: { log_level: 'silent', retention_days: 2 } }));
    const localApp = express().use(healthRouter({ manager: local, registry: new Registry() }));
    const worker = local.heartbeat({ tag: 'save_worker', interval: 60 }).start(); // 2024-05-01 12:00
    worker.error('disk full');
    for (let day = 0; day < 2; day++) {
      clock.skip(86_400_000); // a day later, with nothing in between
      worker.pulse();
    }
    const json = await request(localApp).get('/api/health/export');
    const [service] = JSON.parse(json.text).services as { daily: { date: string; errors: number }[] }[];
    // Three days watched, two retained: the first day, with its error, has gone.
    expect(service?.daily.map(({ date, errors }) => [date, errors])).toEqual([
      ['2024-05-02', 0],
      ['2024-05-03', 0],
    ]);
    const csv = await request(localApp).get('/api/health/export?format=csv');
    expect(csv.text.split('\r\n')[0]).toBe('"service","time","from","to","reason","uptime_24h","uptime_7d"');
    expect(csv.text).not.toContain('2024-05-02",');
  });
});

describe('GET /api/health/export?format=csv, formula-safe', () => {
  const names = ['=HYPERLINK("http://x")', 'a;=1+1', ' @SUM(A1)', '\tcmd', 'x|-2+3', 'plain'];
  const messages = ['disk full; =1+1', "line one\r\n=cmd|' /C calc'!A0", '"quoted", +1', '@here', 'tab\t-1', ' "=2"'];

  it('starts no formula in any cell, whatever separator a spreadsheet splits on, with or without quote handling', async () => {
    names.forEach((tag, i) => {
      manager.heartbeat({ tag, interval: 60 }).error(messages[i] as string);
    });
    const { text } = await request(app).get('/api/health/export?format=csv');
    for (const separator of [',', ';', '\t', '|']) {
      for (const quotes of [true, false]) {
        // A reader that trims spaces, or drops stray quotes or NULs, must still see text.
        const formulas = cellsAsRead(text, separator, quotes).filter((cell) => /^[\s"\0]*[=+\-@]/.test(cell));
        expect({ separator, quotes, formulas }).toEqual({ separator, quotes, formulas: [] });
      }
    }
  });

  it('quotes every field, so a reader splitting on commas gets the columns back, formulas shown as text', async () => {
    names.forEach((tag, i) => {
      manager.heartbeat({ tag, interval: 60 }).error(messages[i] as string);
    });
    const { text } = await request(app).get('/api/health/export?format=csv');
    expect(text.startsWith('"service","time","from","to","reason","uptime_24h","uptime_7d"\r\n')).toBe(true);
    expect(text.endsWith('"\r\n')).toBe(true);
    const cells = cellsAsRead(text.slice(0, -2), ',', true);
    expect(cells).toHaveLength(7 * (names.length + 1));
    const column = (index: number) => cells.filter((_cell, i) => i % 7 === index).slice(1);
    expect(column(0)).toEqual(['\'=HYPERLINK("http://x")', "a;'=1+1", " '@SUM(A1)", "'\tcmd", "x|'-2+3", 'plain']);
    expect(column(4)).toEqual([
      "error: disk full; '=1+1",
      "error: line one\r\n'=cmd|' /C calc'!A0",
      'error: "quoted", \'+1',
      'error: @here',
      "error: tab\t'-1",
      'error:  "=2"', // a colon starts no cell
    ]);
    expect(column(5)).toEqual(Array.from({ length: names.length }, () => '1'));
  });

  it('keeps any text made of separators, quotes, spaces and formula characters from starting a formula (fast-check)', () => {
    const nasty = fc.string({
      unit: fc.constantFrom('=', '+', '-', '@', ',', ';', '|', '\t', '\r', '\n', '"', "'", ' ', '\0', 'a', '1'),
      maxLength: 24,
    });
    fc.assert(
      fc.property(nasty, nasty, (first, second) => {
        const row = `${csvField(first)},${csvField(second)}\r\n`;
        for (const separator of [',', ';', '\t', '|']) {
          for (const quotes of [true, false]) {
            expect(cellsAsRead(row, separator, quotes).filter((cell) => /^[\s"\0]*[=+\-@]/.test(cell))).toEqual([]);
          }
        }
        expect(cellsAsRead(row.slice(0, -2), ',', true)).toHaveLength(2);
      }),
      { numRuns: 2000 },
    );
  });
});
