import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express4 from 'express4';
import type { Browser } from 'playwright-core';
import { Registry } from 'prom-client';
import request from 'supertest';
import { uptimePercent } from '../lib/http/badge';
import { healthRouter } from '../lib/http/router';
import { createApp, type AppFixture } from './helpers/app';
import { launchChromium } from './helpers/chromium';
import { useManagerTimers } from './helpers/managers';
import { textBody } from './helpers/text-body';

const TOKEN = 'badge-token-0123456789abcdef';
const SVG_TYPE = 'image/svg+xml; charset=utf-8';
/** badge-maker's colours, by the names the badges use. */
const COLORS = {
  brightgreen: '#4c1',
  green: '#97ca00',
  yellowgreen: '#a4a61d',
  yellow: '#dfb317',
  orange: '#fe7d37',
  red: '#e05d44',
  lightgrey: '#9f9f9f',
};

/** What a badge says, read from its SVG: the accessible title (`label: message`) and the message's colour. */
function readBadge(svg: string): { title: string; color: string } {
  const title = /<title>([^<]*)<\/title>/.exec(svg)?.[1] ?? '';
  // The message's rectangle comes right after the label's grey one.
  const fills = [...svg.matchAll(/<rect[^>]*fill="(#[0-9a-f]+)"/g)].map((match) => match[1]);
  return { title, color: fills[fills.indexOf('#555') + 1] ?? '' };
}

/** The badge of a GET, checked to be an SVG badge with its headers; the SVG text. */
async function badge(app: AppFixture['app'], path: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await request(app).get(path).set(headers).buffer(true).parse(textBody);
  expect([path, response.status]).toEqual([path, 200]);
  expect(response.headers['content-type']).toBe(SVG_TYPE);
  expect(response.headers['x-content-type-options']).toBe('nosniff');
  expect(response.headers['content-security-policy']).toBe("default-src 'none'; style-src 'unsafe-inline'");
  const text = response.body as string;
  expect(text).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>[\s\S]*<\/svg>$/);
  return text;
}

let fixture: AppFixture;

useManagerTimers({ doNotFake: ['nextTick', 'setImmediate'] });

describe('status badges', () => {
  it('draw each status word in its colour, paused in grey, with a short public max-age', async () => {
    fixture = createApp();
    const { manager, clock, app } = fixture;
    const [up, late, , down] = ['up', 'late', 'slow', 'down', 'held'].map((tag) => manager.heartbeat({ tag, interval: 1 }).start());
    manager.pause('held');
    clock.advance(4500); // 'slow' has missed three or four beats by now (the first after its grace): degraded
    up?.pulse();
    late?.pulse();
    late?.error('slow disk');
    down?.error('gone', { critical: true });
    expect(['up', 'late', 'slow', 'down'].map((tag) => manager.service(tag)?.status)).toEqual([
      'healthy',
      'warning',
      'degraded',
      'critical',
    ]);

    const expected = [
      ['up', 'up: healthy', COLORS.brightgreen],
      ['late', 'late: warning', COLORS.yellow],
      ['slow', 'slow: degraded', COLORS.orange],
      ['down', 'down: critical', COLORS.red],
      ['held', 'held: paused', COLORS.lightgrey],
    ];
    for (const [tag, title, color] of expected) {
      const svg = await badge(app, `/api/health/badge/${tag as string}.svg`);
      expect([tag, readBadge(svg)]).toEqual([tag, { title, color }]);
    }
    const response = await request(app).get('/api/health/badge/up.svg');
    expect(response.headers['cache-control']).toBe('public, max-age=60');
  });

  it('draw the overall status as "health", offline in grey, with a label and a style of the query', async () => {
    fixture = createApp();
    const { manager, app } = fixture;
    const core = manager.heartbeat({ tag: 'core', interval: 30 }).start();
    expect(readBadge(await badge(app, '/api/health/badge.svg'))).toEqual({ title: 'health: healthy', color: COLORS.brightgreen });
    core.error('x', { critical: true });
    expect(readBadge(await badge(app, '/api/health/badge.svg?label=api'))).toEqual({ title: 'api: critical', color: COLORS.red });
    // for-the-badge writes capitals; flat-square has no gradient; plastic has two.
    expect(readBadge(await badge(app, '/api/health/badge.svg?style=for-the-badge')).title).toBe('HEALTH: CRITICAL');
    expect(await badge(app, '/api/health/badge.svg?style=flat-square')).not.toContain('linearGradient');
    expect(await badge(app, '/api/health/badge.svg?style=flat')).toContain('linearGradient');
    expect((await badge(app, '/api/health/badge.svg?style=plastic')).match(/<stop /g)?.length).toBeGreaterThan(2);
    // An empty label draws the message alone.
    expect(readBadge(await badge(app, '/api/health/badge.svg?label=')).title).toBe('critical');

    const off = createApp({ enabled: false });
    expect(readBadge(await badge(off.app, '/api/health/badge.svg'))).toEqual({ title: 'health: offline', color: COLORS.lightgrey });
  });

  it('answer HEAD without a body, another method with 405, and leave unknown query keys alone', async () => {
    fixture = createApp();
    fixture.manager.heartbeat({ tag: 'core', interval: 30 }).start();
    const head = await request(fixture.app).head('/api/health/badge/core.svg');
    expect([head.status, head.headers['content-type'], head.text]).toEqual([200, SVG_TYPE, undefined]);
    for (const path of ['/api/health/badge/core.svg', '/api/health/badge.svg']) {
      const post = await request(fixture.app).post(path);
      expect([post.status, post.headers.allow, post.body.path]).toEqual([405, 'GET, HEAD', path]);
    }
    expect(readBadge(await badge(fixture.app, '/api/health/badge/core.svg?v=2&cacheSeconds=5')).title).toBe('core: healthy');
  });
});

describe('uptime badges', () => {
  it('draw the 24 h and 7 d uptime the history holds, cut to two decimals, coloured by thresholds', async () => {
    fixture = createApp();
    const { manager, clock, app } = fixture;
    const worker = manager.heartbeat({ tag: 'save_worker', interval: 1 }).start();
    manager.heartbeat({ tag: 'steady', interval: 60 }).start();
    worker.error('disk full', { critical: true });
    clock.advance(30_000); // critical until its next pulse: 30 s down
    worker.pulse();
    clock.advance(60_000);
    worker.pulse();
    const history = (await request(app).get('/api/health/service/save_worker/history')).body as { uptime: { '24h': number; '7d': number } };
    expect(history.uptime['24h']).toBeLessThan(1);
    for (const window of ['24h', '7d'] as const) {
      const expected = uptimePercent(history.uptime[window]);
      const svg = await badge(app, `/api/health/badge/save_worker.svg?type=uptime&window=${window}`);
      expect(readBadge(svg).title).toBe(`save_worker: ${expected.text}`);
      expect(readBadge(svg).color).toBe(COLORS.red); // about two thirds up
    }
    // 24h is the default window.
    expect(readBadge(await badge(app, '/api/health/badge/save_worker.svg?type=uptime')).title).toBe(
      `save_worker: ${uptimePercent(history.uptime['24h']).text}`,
    );
    expect(readBadge(await badge(app, '/api/health/badge/steady.svg?type=uptime&label=uptime'))).toEqual({
      title: 'uptime: 100%',
      color: COLORS.brightgreen,
    });
  });

  it('write percentages cut, never rounded up to 100%, and free of binary fractions', () => {
    expect([1, 0.99996, 0.9995, 0.29, 0.5, 0, 1.2, -0.1].map((ratio) => uptimePercent(ratio).text)).toEqual([
      '100%',
      '99.99%',
      '99.95%',
      '29%',
      '50%',
      '0%',
      '100%',
      '0%',
    ]);
  });

  it('refuse a caller the details policy does not admit, as the history does, while status badges stay open', async () => {
    fixture = createApp({ remote_token: TOKEN }, { details: 'when-authorized' });
    fixture.manager.heartbeat({ tag: 'core', interval: 30 }).start();
    const refused = await request(fixture.app).get('/api/health/badge/core.svg?type=uptime');
    expect([refused.status, refused.headers['www-authenticate'], refused.headers['cache-control'], refused.body]).toEqual([
      401,
      'Bearer realm="heartbeat"',
      'no-store',
      { error: 'Details need authentication: send Authorization: Bearer <token>.' },
    ]);
    const history = await request(fixture.app).get('/api/health/service/core/history');
    expect([history.status, history.body]).toEqual([refused.status, refused.body]);
    // With the token: the uptime, for this caller only.
    const allowed = await request(fixture.app).get('/api/health/badge/core.svg?type=uptime').set('Authorization', `Bearer ${TOKEN}`);
    expect([allowed.status, allowed.headers['cache-control']]).toEqual([200, 'private, max-age=60']);
    // The status word is no detail.
    expect(readBadge(await badge(fixture.app, '/api/health/badge/core.svg')).title).toBe('core: healthy');

    const never = createApp({ remote_token: TOKEN }, { details: 'never' });
    never.manager.heartbeat({ tag: 'core', interval: 30 }).start();
    const forbidden = await request(never.app).get('/api/health/badge/core.svg?type=uptime').set('Authorization', `Bearer ${TOKEN}`);
    expect([forbidden.status, forbidden.body]).toEqual([403, { error: 'Details are turned off on this server (details: "never").' }]);
    expect(readBadge(await badge(never.app, '/api/health/badge/core.svg')).title).toBe('core: healthy');
  });
});

describe('mistakes', () => {
  it.each<[string, string, Record<string, unknown>]>([
    ['type=bad', 'type', { value: 'bad', allowed: ['status', 'uptime'] }],
    ['type=uptime&window=30d', 'window', { value: '30d', allowed: ['24h', '7d'] }],
    ['window=7d', 'window', { value: '7d' }],
    ['style=social', 'style', { value: 'social', allowed: ['flat', 'flat-square', 'plastic', 'for-the-badge'] }],
    ['style=flat&style=plastic', 'style', { value: '["flat","plastic"]' }],
    ['type=', 'type', { value: '' }],
    [`label=${'x'.repeat(101)}`, 'label', { value: 'x'.repeat(101) }],
    ['label=a&label=b', 'label', { value: '["a","b"]' }],
  ])('answer ?%s with a JSON 400 naming %s', async (query, parameter, named) => {
    fixture = createApp();
    fixture.manager.heartbeat({ tag: 'core', interval: 30 }).start();
    const response = await request(fixture.app).get(`/api/health/badge/core.svg?${query}`);
    expect([response.status, response.headers['content-type'], response.headers['cache-control']]).toEqual([
      400,
      'application/json; charset=utf-8',
      'no-store',
    ]);
    expect(response.body).toMatchObject({ parameter, ...named });
    expect(response.body.error).toContain(`The ${parameter} parameter`);
  });

  it('refuses an uptime badge of the overall status with a 400 naming type', async () => {
    fixture = createApp();
    const response = await request(fixture.app).get('/api/health/badge.svg?type=uptime');
    expect([response.status, response.body.parameter, response.body.allowed]).toEqual([400, 'type', ['status']]);
  });

  it('answers an unknown service, a name that does not decode and __proto__ like /service/{name}, and a file that is no SVG like an unknown path', async () => {
    fixture = createApp();
    for (const [name, service] of [
      ['nope', 'nope'],
      ['__proto__', '__proto__'],
      ['%E0%A4%A', '%E0%A4%A'],
      ['%FF', '%FF'],
    ]) {
      const response = await request(fixture.app).get(`/api/health/badge/${name as string}.svg`);
      expect([name, response.status, response.body]).toEqual([
        name,
        404,
        { error: `No service named ${JSON.stringify(service)} is monitored.`, service },
      ]);
      const same = await request(fixture.app).get(`/api/health/service/${name as string}`);
      expect(same.body).toEqual(response.body);
    }
    const png = await request(fixture.app).get('/api/health/badge/core.png');
    expect([png.status, png.body.endpoints]).toEqual([
      404,
      expect.arrayContaining(['/api/health', '/api/health/badge.svg', '/api/health/badge/{name}.svg']),
    ]);
  });
});

describe('names are text', () => {
  let browser: Browser | undefined;
  let server: Server | undefined;
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    server?.closeAllConnections();
    const closing = server;
    if (closing) await new Promise((resolve) => closing.close(resolve));
    server = undefined;
  });

  it('escapes markup and drops control characters: a real XML parser reads the name back as text, with no element from it', async () => {
    const name = '<script>alert(1)</script> & "co" \u0001\uFFFE';
    fixture = createApp();
    fixture.manager.heartbeat({ tag: name, interval: 30 }).start();
    const path = `/api/health/badge/${encodeURIComponent(name)}.svg`;
    const svg = await badge(fixture.app, path);
    expect(svg).not.toContain('<script');
    expect(svg).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;co&quot;');

    jest.useRealTimers(); // Chromium's protocol runs on real timers
    browser = await launchChromium();
    const page = await browser.newPage();
    const parsed = await page.evaluate((text) => {
      const document = new DOMParser().parseFromString(text, 'image/svg+xml');
      return {
        error: document.querySelector('parsererror')?.textContent ?? null,
        elements: Array.from(document.querySelectorAll('*'))
          .map((element) => element.localName)
          .filter((tag, at, all) => all.indexOf(tag) === at),
        title: document.querySelector('title')?.textContent ?? null,
      };
    }, svg);
    expect(parsed).toEqual({
      error: null,
      elements: ['svg', 'title', 'linearGradient', 'stop', 'clipPath', 'rect', 'g', 'text'],
      title: '<script>alert(1)</script> & "co" \uFFFD\uFFFD: healthy',
    });

    // Opened on its own, the badge is a document under its CSP: it renders, and runs nothing.
    const app = fixture.app;
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server?.once('listening', resolve));
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const opened = await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`);
    expect(opened?.status()).toBe(200);
    expect(await page.evaluate(() => [document.documentElement.localName, document.querySelectorAll('script').length])).toEqual(['svg', 0]);
    expect(errors).toEqual([]);
  }, 30_000);
});

it('serves badges from an Express 4 app', async () => {
  jest.useRealTimers();
  const { manager } = createApp();
  manager.heartbeat({ tag: 'flask_bridge', interval: 15 }).start();
  const app = express4();
  app.use(healthRouter({ manager, registry: new Registry() }));
  const svg = await request(app).get('/api/health/badge/flask_bridge.svg').buffer(true).parse(textBody);
  expect([svg.status, svg.headers['content-type'], svg.headers['cache-control']]).toEqual([200, SVG_TYPE, 'public, max-age=60']);
  expect(readBadge(svg.body as string)).toEqual({ title: 'flask_bridge: healthy', color: COLORS.brightgreen });
  const missing = await request(app).get('/api/health/badge/%FF.svg');
  expect([missing.status, missing.body.service]).toEqual([404, '%FF']);
  expect((await request(app).get('/api/health/badge.svg?style=nope')).status).toBe(400);
  expect((await request(app).delete('/api/health/badge/flask_bridge.svg')).status).toBe(405);
});
