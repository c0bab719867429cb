/// <reference lib="dom" />
// When the status page reads a service's history again without a change to make it: a service
// that stays down (its uptime falls while nothing changes) and one that keeps changing (each
// change pushes the read back). Real Chromium; the page's own timers on Playwright's clock.
import type { Server } from 'node:http';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import { Registry } from 'prom-client';
import { HeartbeatManager, healthRouter } from '../lib';
import { HISTORY_DOWN_REFRESH_MS, HISTORY_REFETCH_MAX_MS, HISTORY_REFETCH_MS } from '../lib/page/history-script';
import { launchChromium } from './helpers/chromium';
import { pollUntil } from './helpers/demo';

let browser: Browser;
let manager: HeartbeatManager;
let server: Server;
let url: string;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser.close();
});
beforeEach(async () => {
  manager = new HeartbeatManager({
    config: {
      log_level: 'silent',
      services: { down_worker: { interval: 3600 }, up_worker: { interval: 3600 }, flapper: { interval: 3600 } },
    },
  });
  server = express()
    .use(healthRouter({ manager, registry: new Registry() }))
    .listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${String((server.address() as { port: number }).port)}/api/health/ui`;
});
afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await manager.close();
});

/** Opens the page on Playwright's clock and counts its history reads per service, once all cards have their bars. */
async function openCounting(page: Page): Promise<Map<string, number>> {
  const reads = new Map<string, number>();
  page.on('request', (request) => {
    const path = new URL(request.url()).pathname;
    const match = /\/service\/([^/]+)\/history$/.exec(path);
    if (match) reads.set(decodeURIComponent(match[1] as string), (reads.get(match[1] as string) ?? 0) + 1);
  });
  await page.clock.install({ time: Date.now() });
  await page.goto(url);
  await page.waitForFunction(() => document.querySelectorAll('article.card .beats-row:not([hidden])').length === 3);
  return reads;
}

it('reads a down service’s history again every minute, and a healthy one’s not', async () => {
  const down = manager.heartbeat({ tag: 'down_worker' }).start();
  manager.heartbeat({ tag: 'up_worker' }).start();
  manager.heartbeat({ tag: 'flapper' }).start();
  down.error('disk full', { critical: true });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const reads = await openCounting(page);
    expect(Object.fromEntries(reads)).toEqual({ down_worker: 1, up_worker: 1, flapper: 1 });
    await page.clock.runFor(HISTORY_DOWN_REFRESH_MS);
    await pollUntil(
      () => reads.get('down_worker') ?? 0,
      (count) => count === 2,
      10_000,
    );
    await page.clock.runFor(HISTORY_DOWN_REFRESH_MS);
    await pollUntil(
      () => reads.get('down_worker') ?? 0,
      (count) => count === 3,
      10_000,
    );
    expect([reads.get('up_worker'), reads.get('flapper')]).toEqual([1, 1]);
  } finally {
    await context.close();
  }
}, 40_000);

it('reads a flapping service’s history again within the longest wait, though each change pushes the read back', async () => {
  manager.heartbeat({ tag: 'down_worker' }).start();
  manager.heartbeat({ tag: 'up_worker' }).start();
  const flapper = manager.heartbeat({ tag: 'flapper' }).start();
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const reads = await openCounting(page);
    const word = () => page.$eval('article.card[data-service="flapper"] .word', (node) => node.textContent.trim());
    // A change a little more often than the page waits for quiet, for longer than its longest wait.
    const step = HISTORY_REFETCH_MS - 500;
    for (let elapsed = 0; elapsed <= HISTORY_REFETCH_MAX_MS + step && (reads.get('flapper') ?? 0) < 2; elapsed += step) {
      const bad = elapsed % (2 * step) === 0;
      if (bad) flapper.error('timeout');
      else flapper.pulse();
      await pollUntil(word, (text) => text.endsWith(bad ? 'warning' : 'healthy'), 10_000);
      await page.clock.runFor(step);
    }
    expect(reads.get('flapper')).toBeGreaterThanOrEqual(2);
  } finally {
    await context.close();
  }
}, 60_000);
