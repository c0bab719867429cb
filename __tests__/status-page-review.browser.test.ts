/// <reference lib="dom" />
// The status page in a real browser (Debian's Chromium, driven by playwright-core) in the states
// a review found it wrong in: the reads it makes when it opens, a service that leaves and comes
// back, a restart with other groups, and a pause in the beat bar.
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AxeBuilder } from '@axe-core/playwright';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import { Registry } from 'prom-client';
import { HeartbeatManager, fileStore, healthRouter, type HeartbeatConfig } from '../lib';
import { launchChromium } from './helpers/chromium';
import { pollUntil } from './helpers/demo';
import { changeTo, startStatusPageFixture } from './helpers/status-page-fixture';

const HOUR = 3_600_000;

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser.close();
});

interface Served {
  manager: HeartbeatManager;
  server: Server;
  port: number;
  url: string;
}

/** A router on `manager` on a loopback port (0: any free one). */
async function serve(manager: HeartbeatManager, port = 0): Promise<Served> {
  const server = express()
    .use(healthRouter({ manager, registry: new Registry() }))
    .listen(port, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const bound = (server.address() as { port: number }).port;
  return { manager, server, port: bound, url: `http://127.0.0.1:${String(bound)}/api/health/ui` };
}

async function stop({ manager, server }: Served): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await manager.close();
}

/** A manager of the configured services, each started; a clock when the test moves time. */
function managerOf(services: HeartbeatConfig['services'], clock?: { now(): number; wallNow(): number }): HeartbeatManager {
  const manager = new HeartbeatManager({ ...(clock ? { clock } : {}), config: { log_level: 'silent', services } });
  for (const tag of Object.keys(services ?? {})) manager.heartbeat({ tag }).start();
  return manager;
}

/** Runs `test` on a fresh browser context's page, closing it after. */
async function withPage(test: (page: Page) => Promise<void>): Promise<void> {
  const context = await browser.newContext();
  try {
    await test(await context.newPage());
  } finally {
    await context.close();
  }
}

it('reads each card’s history once when it opens: the first snapshot does not ask again for the cards it just made', async () => {
  const fixture = await startStatusPageFixture();
  try {
    await withPage(async (page) => {
      const reads = new Map<string, number>();
      const open = new Set<unknown>();
      page.on('request', (request) => {
        const path = new URL(request.url()).pathname;
        if (!path.endsWith('/history')) return;
        open.add(request);
        reads.set(path, (reads.get(path) ?? 0) + 1);
      });
      const ended = (request: unknown) => open.delete(request);
      page.on('requestfinished', ended);
      page.on('requestfailed', ended);
      await page.goto(fixture.url);
      await page.waitForFunction(() => document.querySelectorAll('article.card .beats-row:not([hidden])').length === 9);
      // A second read would start as the first one ends: let every read out end, twice over a moment.
      for (let round = 0; round < 2; round++) {
        await page.waitForFunction(
          () =>
            new Promise((resolve) => {
              setTimeout(() => {
                resolve(true);
              }, 200);
            }),
        );
        await pollUntil(
          () => open.size,
          (size) => size === 0,
        );
      }
      expect(reads.size).toBe(9);
      expect([...reads.entries()].filter(([, count]) => count !== 1)).toEqual([]);
    });
  } finally {
    await fixture.close();
  }
}, 30_000);

it('announces a change of a service that left and came back under its name, which had the same status when it left', async () => {
  const served = await serve(managerOf({ steady: { interval: 3600, critical: false } }));
  const { manager } = served;
  const card = 'article.card[data-service="batch_loader"]';
  try {
    await withPage(async (page) => {
      const first = manager.heartbeat({ tag: 'batch_loader', interval: 3600 }).start();
      const down = changeTo(manager, 'batch_loader', 'critical');
      first.error('disk full', { critical: true });
      await down;
      await page.goto(served.url);
      await page.waitForFunction((selector) => document.querySelector(`${selector} .word`)?.textContent === 'critical', card);
      // It leaves (its card goes), then a new one takes the name, healthy, and fails as the first had.
      first.stop();
      await page.waitForFunction((selector) => !document.querySelector(selector), card);
      const second = manager.heartbeat({ tag: 'batch_loader', interval: 3600 }).start();
      await page.waitForFunction((selector) => document.querySelector(`${selector} .word`)?.textContent === 'healthy', card);
      const again = changeTo(manager, 'batch_loader', 'critical');
      second.error('disk full again', { critical: true });
      await again;
      await pollUntil(
        () => page.textContent('#announcer'),
        (text) => text === 'batch_loader is now critical.',
        5_000,
      );
    });
  } finally {
    await stop(served);
  }
}, 30_000);

it('labels each group by its own heading after the server restarts with a group gone and another new', async () => {
  const grouped = (groups: Record<string, string>) =>
    managerOf(Object.fromEntries(Object.entries(groups).map(([tag, group]) => [tag, { interval: 3600, critical: false, group }])));
  const before = await serve(grouped({ api_gateway: 'Edge', save_worker: 'Workers' }));
  let after: Served | undefined;
  try {
    await withPage(async (page) => {
      await page.goto(before.url);
      await page.waitForFunction(() => document.querySelectorAll('section.group').length === 2);
      // Redeployed without Edge and with Jobs, on the same port: the page reconnects by itself.
      await stop(before);
      after = await serve(grouped({ save_worker: 'Workers', nightly_backup: 'Jobs' }), before.port);
      await page.waitForFunction(() => document.querySelector('article.card[data-service="nightly_backup"]') !== null, undefined, {
        timeout: 15_000,
      });
      const labels = await page.$$eval('section.group', (sections) =>
        sections.map((section) => ({
          own: section.querySelector('.group-title')?.textContent,
          labelledBy: document.getElementById(section.getAttribute('aria-labelledby') ?? '')?.textContent,
        })),
      );
      // Workers' section was labelled "Jobs": the new group's heading took the id of one still shown.
      expect(labels).toEqual([
        { own: 'Jobs', labelledBy: 'Jobs' },
        { own: 'Workers', labelledBy: 'Workers' },
      ]);
      const ids = await page.$$eval('[id]', (nodes) => nodes.map((node) => node.id));
      expect(ids.length).toBe(new Set(ids).size);
    });
  } finally {
    if (after) await stop(after);
    else await stop(before).catch(() => undefined);
  }
}, 40_000);

it('greys the beat bar’s ticks of a pause, while it lasts and once it has ended', async () => {
  const skew = { ms: 0 };
  const clock = { now: () => performance.now() + skew.ms, wallNow: () => Date.now() + skew.ms };
  const served = await serve(managerOf({ nightly_backup: { interval: 3600, critical: false } }, clock));
  const card = 'article.card[data-service="nightly_backup"]';
  // The statuses of the bar's ticks that begin at `from` or later.
  const ticksFrom = (page: Page, from: number) =>
    page.$$eval(
      `${card} .beats li`,
      (ticks, after) =>
        ticks
          .map((tick) => [Date.parse(tick.getAttribute('data-start') ?? ''), tick.getAttribute('data-status')] as const)
          .filter(([start]) => start >= after)
          .map(([, status]) => status),
      from,
    );
  try {
    served.manager.pause('nightly_backup', { reason: 'disk swap' });
    const pausedAt = clock.wallNow();
    skew.ms += 3 * HOUR;
    await withPage(async (page) => {
      await page.goto(served.url);
      await page.waitForFunction((selector) => document.querySelector(`${selector} .beats li`) !== null, card);
      // The hour-long ticks since the pause began, the newest still counting: grey, not healthy green.
      const during = await ticksFrom(page, pausedAt);
      expect(during).toEqual(['paused', 'paused', 'paused']);
      served.manager.resume('nightly_backup');
      await page.waitForFunction((selector) => document.querySelector(`${selector} .pause`)?.hasAttribute('hidden'), card);
      // Those wholly inside the pause stay grey; the one it ended in shows the status.
      expect(await ticksFrom(page, pausedAt)).toEqual(['paused', 'paused', 'healthy']);
      // And the card's list of changes shows the pause, as the history will once read again.
      expect(await page.$$eval(`${card} .changes li.gap .move`, (moves) => moves.map((move) => move.textContent))).toEqual(['paused']);
    });
  } finally {
    await stop(served);
  }
}, 30_000);

it('counts an ongoing incident on in place, not by rebuilding the timeline each second', async () => {
  const fixture = await startStatusPageFixture();
  try {
    await withPage(async (page) => {
      await page.goto(fixture.url);
      // Every history read, so nothing but the clock changes the timeline from here.
      await page.waitForFunction(() => document.querySelectorAll('article.card .beats-row:not([hidden])').length === 9);
      await page.waitForFunction(() => document.querySelectorAll('#incidents li.ongoing').length === 1);
      const before = await page.evaluate(() => {
        const item = document.querySelector('#incidents li.ongoing');
        (window as unknown as { kept: Element | null }).kept = item;
        return item?.querySelector('.incident-length')?.textContent;
      });
      await page.waitForFunction((text) => document.querySelector('#incidents li.ongoing .incident-length')?.textContent !== text, before, {
        timeout: 5_000,
      });
      // The item a screen reader (or a selection) was on is still the one shown.
      expect(await page.evaluate(() => (window as unknown as { kept: Element }).kept.isConnected)).toBe(true);
    });
  } finally {
    await fixture.close();
  }
}, 30_000);

it('greys the cards while the stream is lost, every text still at AA contrast, light and dark', async () => {
  const fixture = await startStatusPageFixture();
  const server = { closed: false };
  try {
    await withPage(async (page) => {
      await page.goto(fixture.url);
      await page.waitForFunction(() => document.querySelectorAll('article.card .beats-row:not([hidden])').length === 9);
      await fixture.close();
      server.closed = true;
      await page.waitForFunction(() => document.body.classList.contains('no-signal'));
      for (const colorScheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme });
        const results = await new AxeBuilder({ page }).analyze();
        // Faded to 55% opacity, the status words, times and uptime figures fell to about 2.5:1.
        const serious = results.violations
          .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
          .map((violation) => ({ colorScheme, id: violation.id, nodes: violation.nodes.length }));
        expect(serious).toEqual([]);
      }
      // Still told apart from a live page: the critical badge in the banner's offline grey, no ring.
      const critical = await page.$eval('article.card[data-service="save_worker"]', (card) => ({
        animation: getComputedStyle(card).animationName,
        badge: getComputedStyle(card.querySelector('.badge') as Element).backgroundColor,
        banner: getComputedStyle(document.getElementById('banner') as Element).backgroundColor,
      }));
      expect(critical).toEqual({ animation: 'none', badge: critical.banner, banner: expect.stringMatching(/^rgb/) as unknown });
    });
  } finally {
    if (!server.closed) await fixture.close();
  }
}, 40_000);

it('keeps the beat bar of the time before a restart, and greys the time the monitor was offline', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'heartbeat-review-bar-'));
  const first = new HeartbeatManager({ config: { log_level: 'silent' }, store: fileStore({ dir }) });
  const worker = first.heartbeat({ tag: 'save_worker', interval: 60 }).start();
  const down = changeTo(first, 'save_worker', 'critical');
  worker.error('volume offline', { critical: true });
  await down;
  const up = changeTo(first, 'save_worker', 'healthy');
  worker.pulse();
  await up;
  await first.close();
  // Restarted ten minutes later, as far as the monitor can tell: its start is now, its history older.
  const skew = 10 * 60_000;
  const clock = { now: () => performance.now() + skew, wallNow: () => Date.now() + skew };
  const second = new HeartbeatManager({ clock, config: { log_level: 'silent' }, store: fileStore({ dir }) });
  second.heartbeat({ tag: 'save_worker', interval: 60 }).start();
  const served = await serve(second);
  try {
    await withPage(async (page) => {
      await page.goto(served.url);
      await page.waitForFunction(() => document.querySelector('article.card .beats-row:not([hidden])') !== null);
      const ticks = await page.$$eval('article.card .beats li', (nodes) => nodes.map((node) => node.getAttribute('data-status')));
      // Every tick before the restart read "not started": the outage and the offline time were not on the bar.
      const known = ticks.slice(ticks.indexOf('critical'));
      const offline = known.filter((status) => status === 'monitor offline').length;
      expect(offline).toBeGreaterThanOrEqual(8);
      expect(known).toEqual([
        'critical',
        ...Array<string>(offline).fill('monitor offline'),
        ...known.slice(offline + 1).map(() => 'healthy'),
      ]);
      expect(known.length).toBeGreaterThan(offline + 1);
    });
  } finally {
    await stop(served);
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);

it('names in the banner a service not marked critical whose critical status makes the system degraded', async () => {
  const served = await serve(
    managerOf({ file_indexer: { interval: 3600, critical: false }, web_listener: { interval: 3600, critical: false } }),
  );
  try {
    await withPage(async (page) => {
      await page.goto(served.url);
      await page.waitForFunction(() => document.querySelectorAll('article.card').length === 2);
      const degraded = changeTo(served.manager, 'file_indexer', 'critical');
      served.manager.get('file_indexer')?.error('disk full', { critical: true });
      await degraded;
      // It said "Services degraded" and no name: it named only the services whose status was the overall one.
      await pollUntil(
        () => page.textContent('#banner-text'),
        (text) => text === 'Services degraded: file_indexer',
        5_000,
      );
    });
  } finally {
    await stop(served);
  }
}, 30_000);
