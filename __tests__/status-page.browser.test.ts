/// <reference lib="dom" />
// The status page in a real browser: Debian's Chromium driven by playwright-core, against the
// demo server started as `npm start` starts it, with short intervals.
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import { Registry } from 'prom-client';
import { HeartbeatManager, fileStore, healthRouter, type HeartbeatConfig, type ServiceHistory, type StatusChange } from '../lib';
import { HISTORY_FETCHED, HISTORY_SHOWN } from '../lib/page/history-script';
import { fastDemoConfig, pollUntil, startDemoProcess, untilLogged, type DemoProcess } from './helpers/demo';
import { launchChromium } from './helpers/chromium';
import { listOf, type ListedItem } from './helpers/page-lists';

const HOSTILE = '<img src=x onerror=alert(1)>';
const config = fastDemoConfig(0.5);
const withHostile = { ...config, services: { ...config.services, [HOSTILE]: { interval: 3600, critical: false } } };

let browser: Browser;
let demo: DemoProcess | undefined;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await demo?.stop();
  await browser.close();
});

const ORDER = ['healthy', 'warning', 'degraded', 'critical'];

/**
 * Whether a stalled service showed every step, healthy → warning → degraded → critical. If
 * the demo itself was stalled (a loaded machine blocked its event loop for 250 ms or more), the
 * monitor rightly waits out the stall and may skip a step; then the steps need only get worse.
 */
function worsening(seen: string[], logs: Array<Record<string, unknown>>): boolean {
  if (JSON.stringify(seen) === JSON.stringify(ORDER)) return true;
  const stalled = logs.some((line) => String(line.msg).startsWith('Heartbeat monitor was stalled'));
  const ranks = seen.map((word) => ORDER.indexOf(word));
  return (
    stalled && seen[0] === 'healthy' && seen.at(-1) === 'critical' && ranks.every((rank, i) => i === 0 || rank > (ranks[i - 1] as number))
  );
}

/** The status word shown on a service's card. */
const statusOf = (page: Page, service: string) =>
  page.evaluate((name) => {
    const card = Array.from(document.querySelectorAll('article.card')).find((node) => node.getAttribute('data-service') === name);
    return card?.querySelector('.word')?.textContent ?? null;
  }, service);

it('shows live status, escapes names, survives losing the server and recovers', async () => {
  demo = await startDemoProcess(withHostile);
  const port = new URL(demo.bridgeUrl).port;
  const page = await browser.newPage({ viewport: { width: 1100, height: 820 } });
  const dialogs: string[] = [];
  const pageErrors: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/.test(message.text())) pageErrors.push(message.text());
  });

  await page.goto(`${demo.bridgeUrl}/api/health/ui`);
  await page.waitForFunction(() => document.querySelectorAll('article.card').length === 7);
  expect(await page.textContent('#banner-text')).toBe('All services healthy');

  // The HTML in a service name is text: shown as written, never parsed into an element.
  const names = await page.$$eval('article.card .name', (nodes) => nodes.map((node) => node.textContent));
  expect(names).toContain(HOSTILE);
  expect(await page.$$eval('img', (images) => images.length)).toBe(0);

  // Record every status the save_worker card shows, from now on, without reloading.
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { seen: string[] }).seen = seen;
    const word = Array.from(document.querySelectorAll('article.card'))
      .find((node) => node.getAttribute('data-service') === 'save_worker')
      ?.querySelector('.word');
    if (!word) throw new Error('no save_worker card');
    seen.push(word.textContent);
    new MutationObserver(() => {
      if (seen[seen.length - 1] !== word.textContent) seen.push(word.textContent);
    }).observe(word, { childList: true, characterData: true, subtree: true });
  });
  await fetch(`${demo.bridgeUrl}/demo/services/save_worker/stall`, { method: 'POST' });
  await fetch(`${demo.bridgeUrl}/demo/services/file_indexer/fail`, { method: 'POST' });
  await page.waitForFunction(() => (window as unknown as { seen: string[] }).seen.includes('critical'), undefined, { timeout: 10_000 });
  const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
  await untilLogged(demo, 'save_worker', 'critical'); // the page's stream may overtake a stall warning on stdout
  expect(worsening(seen, demo.logs)).toBe(true);
  expect(await page.getAttribute('#banner', 'class')).toContain('status-critical');
  expect(await page.textContent('#banner-text')).toBe('Critical service issues: save_worker');
  // Its error lasted until its next pulse; the card keeps showing the last one.
  const lastError = await page.evaluate(
    () =>
      Array.from(document.querySelectorAll('article.card'))
        .find((node) => node.getAttribute('data-service') === 'file_indexer')
        ?.querySelector('.error')?.textContent,
  );
  expect(lastError).toBe('simulated failure in file_indexer');

  // On a phone the cards stack and nothing scrolls sideways. (The docs' pictures come from
  // `npm run screenshots`, which shows the demo as a user sees it.)
  await page.setViewportSize({ width: 390, height: 844 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
  await page.setViewportSize({ width: 1100, height: 820 });

  // The server goes away: the page says so.
  await demo.stop();
  await page.waitForFunction(() => document.getElementById('banner-text')?.textContent.startsWith('No signal'), undefined, {
    timeout: 10_000,
  });
  expect(await page.evaluate(() => document.body.classList.contains('no-signal'))).toBe(true);

  // It comes back on the same port: the page reconnects and recovers by itself.
  demo = await startDemoProcess(withHostile, { PORT: port });
  await page.waitForFunction(() => !document.body.classList.contains('no-signal'), undefined, { timeout: 15_000 });
  await page.waitForFunction(() => document.getElementById('banner-text')?.textContent === 'All services healthy', undefined, {
    timeout: 10_000,
  });
  expect(await statusOf(page, 'save_worker')).toBe('healthy');

  expect(dialogs).toEqual([]);
  expect(pageErrors).toEqual([]);
}, 60_000);

describe('each card’s recent changes', () => {
  const HOSTILE_ERROR = '<img src=x onerror=alert(2)> disk full';
  const TOKEN = 'page-history-token-0123456789';
  let dir = '';
  const managers: HeartbeatManager[] = [];
  const servers: Server[] = [];
  const pages: Page[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'heartbeat-page-history-'));
  });
  afterEach(async () => {
    for (const page of pages.splice(0)) await page.close();
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    for (const manager of managers.splice(0)) void manager.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function open(config: HeartbeatConfig = {}): HeartbeatManager {
    const manager = new HeartbeatManager({ config: { log_level: 'silent', ...config }, store: fileStore({ dir }) });
    managers.push(manager);
    return manager;
  }

  /** The manager's health API on a loopback port, as an app mounts it; returns the page's URL. */
  async function serve(manager: HeartbeatManager, details: 'always' | 'when-authorized' | 'never' = 'always'): Promise<string> {
    const app = express().use(healthRouter({ manager, registry: new Registry(), details }));
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await new Promise((resolve) => server.once('listening', resolve));
    return `http://127.0.0.1:${String((server.address() as { port: number }).port)}/api/health/ui`;
  }

  /** Resolves with the manager's next status change of `tag` to `to`. */
  const changeTo = (manager: HeartbeatManager, tag: string, to: string) =>
    new Promise<StatusChange>((resolve) => {
      const listener = (change: StatusChange) => {
        if (change.service !== tag || change.to !== to) return;
        manager.off('status', listener);
        resolve(change);
      };
      manager.on('status', listener);
    });

  /** A page that records every script error, dialog, console error and history request; `prepare` runs before it loads. */
  async function openPage(url: string, prepare?: (page: Page) => Promise<void>) {
    const page = await browser.newPage({ viewport: { width: 1100, height: 820 } });
    pages.push(page);
    await prepare?.(page);
    const problems: string[] = [];
    const historyRequests: string[] = [];
    page.on('dialog', (dialog) => {
      problems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('request', (sent) => {
      const url = new URL(sent.url());
      if (url.pathname.endsWith('/history')) historyRequests.push(`${decodeURIComponent(url.pathname)}${url.search}`);
    });
    await page.goto(url);
    return { page, problems, historyRequests };
  }

  const waitForItems = (page: Page, service: string, count: number) =>
    pollUntil(
      () => listOf(page, service),
      (items) => items.length === count,
    );

  /** The transitions as a card lists them. */
  const listed = (transitions: ServiceHistory['transitions']): ListedItem[] =>
    transitions.map(({ time, from, to, reason }) => ({ time, move: `${from} → ${to}`, reason, gap: false }));

  /**
   * The times of a change the stream brought may be a millisecond off those /history serves
   * (read through the wall clock's offset anew): the same changes, in order, to within 2 ms.
   */
  function expectSameItems(shown: ListedItem[], expected: ListedItem[]): void {
    const withoutTime = (items: ListedItem[]) => items.map(({ move, reason, gap }) => ({ move, reason, gap }));
    expect(withoutTime(shown)).toEqual(withoutTime(expected));
    const drift = shown.map((item, i) => Math.abs(Date.parse(item.time ?? '') - Date.parse(expected[i]?.time ?? '')));
    expect(drift.filter((ms) => !(ms <= 2))).toEqual([]);
  }

  it('lists the saved changes and the offline gap after a restart, escaped, then appends live ones from the stream, reading the history again only once the service is quiet', async () => {
    const first = open();
    const worker = first.heartbeat({ tag: 'save_worker', interval: 3600 }).start();
    const critical = changeTo(first, 'save_worker', 'critical');
    worker.error(HOSTILE_ERROR, { critical: true });
    await critical;
    const recovered = changeTo(first, 'save_worker', 'healthy');
    worker.pulse();
    await recovered;
    const before = first.history('save_worker')?.transitions ?? [];
    expect(before.map(({ from, to }) => `${from} → ${to}`)).toEqual(['healthy → critical', 'critical → healthy']);
    void first.close();

    const second = open();
    const again = second.heartbeat({ tag: 'save_worker', interval: 3600 }).start();
    second.heartbeat({ tag: 'flask_bridge', interval: 3600 }).start();
    const { page, problems, historyRequests } = await openPage(await serve(second));

    // The two saved changes, then the time the monitor was down, as /history has them.
    const [shown] = (await waitForItems(page, 'save_worker', 3)).slice(-1) as [ListedItem[]];
    const history = second.history('save_worker') as ServiceHistory;
    expect(history.gaps).toHaveLength(1);
    const [gap] = history.gaps as [ServiceHistory['gaps'][number]];
    expect(shown.slice(0, 2)).toEqual(listed(before));
    expect(shown[2]).toEqual({ time: gap.start, move: 'monitor offline', reason: expect.stringMatching(/^for \d+s, until /), gap: true });
    // As assistive technology reads it, once the card's details are open: a titled list of
    // items, each a time and a sentence.
    await page.click('article.card[data-service="save_worker"] summary');
    const tree = await page.locator('article.card[data-service="save_worker"] .history').ariaSnapshot();
    expect(tree).toContain('- heading "Recent changes" [level=4]');
    expect(tree.match(/- listitem:\n\s+- time: \S/g)).toHaveLength(3);
    expect(tree).toContain(`"healthy → critical : critical error: ${HOSTILE_ERROR}"`);
    // The error's HTML is text: shown as written, never parsed into an element.
    expect(shown[0]?.reason).toBe(`critical error: ${HOSTILE_ERROR}`);
    expect(await page.$$eval('img', (images) => images.length)).toBe(0);
    // A service with no change says so, rather than showing an empty box.
    await pollUntil(
      () => page.textContent('article.card[data-service="flask_bridge"] .history-state'),
      (text) => text === 'No status changes yet.',
    );

    // Live changes come from the stream: appended in order, with no request per change.
    const warned = changeTo(second, 'save_worker', 'warning');
    again.error('disk full again');
    await warned;
    await waitForItems(page, 'save_worker', 4);
    const healthy = changeTo(second, 'save_worker', 'healthy');
    again.pulse();
    await healthy;
    const [live] = (await waitForItems(page, 'save_worker', 5)).slice(-1) as [ListedItem[]];
    expect(live.slice(3).map(({ move, reason }) => ({ move, reason }))).toEqual([
      { move: 'healthy → warning', reason: 'error: disk full again' },
      { move: 'warning → healthy', reason: 'pulse received' },
    ]);
    expectSameItems(live.slice(3), listed((second.history('save_worker') as ServiceHistory).transitions.slice(2)));
    // The list took them from the stream; the history is read again (for the uptime) only once
    // the service has been quiet a moment, not per change: at most once per change here.
    expect(historyRequests.filter((path) => path.endsWith(`/save_worker/history?limit=${HISTORY_FETCHED}`)).length).toBeLessThanOrEqual(3);

    // The list keeps the last few; a long reason is cut as the history cuts it, and wraps on a phone.
    for (const message of ['a'.repeat(300), 'b', 'c']) {
      const down = changeTo(second, 'save_worker', 'warning');
      again.error(message);
      await down;
      const up = changeTo(second, 'save_worker', 'healthy');
      again.pulse();
      await up;
    }
    const all = (second.history('save_worker') as ServiceHistory).transitions;
    expect(all).toHaveLength(2 + 2 + 6);
    await pollUntil(
      () => listOf(page, 'save_worker'),
      (items) => items.at(-1)?.move === 'warning → healthy' && items.filter((item) => item.reason === 'error: c').length === 1,
    );
    expectSameItems(await listOf(page, 'save_worker'), listed(all.slice(-HISTORY_SHOWN)));
    expect(listed(all.slice(-HISTORY_SHOWN)).some((item) => item.reason === `error: ${'a'.repeat(193)}…`)).toBe(true);
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);

    // Changes while the stream is down reach the list when the page reconnects by itself
    // (EventSource retries after 2 s): the sockets go at once, so no event can carry them, and
    // the service is back to healthy, so only the reconnect tells the page to read again.
    const lost = servers[0] as Server;
    lost.closeAllConnections();
    const unseen = changeTo(second, 'save_worker', 'warning');
    again.error('while the page was away');
    await unseen;
    const back = changeTo(second, 'save_worker', 'healthy');
    again.pulse();
    await back;
    const lastShown = listed((second.history('save_worker') as ServiceHistory).transitions.slice(-HISTORY_SHOWN));
    expect(lastShown.at(-2)?.reason).toBe('error: while the page was away');
    await pollUntil(
      () => listOf(page, 'save_worker'),
      (items) => items.at(-2)?.reason === 'error: while the page was away',
    );
    expectSameItems(await listOf(page, 'save_worker'), lastShown);

    // A reload reads the same list from /history alone.
    await page.reload();
    await waitForItems(page, 'save_worker', HISTORY_SHOWN);
    expect(await listOf(page, 'save_worker')).toEqual(lastShown);
    // The one console error the test caused: the stream it cut off.
    expect(problems.filter((problem) => !problem.includes('ERR_INCOMPLETE_CHUNKED_ENCODING'))).toEqual([]);
  }, 30_000);

  it.each(['never', 'when-authorized'] as const)(
    'with details: %s, shows status words and a note, and asks for no history',
    async (details) => {
      const manager = open({ remote_token: TOKEN });
      const worker = manager.heartbeat({ tag: 'save_worker', interval: 3600 }).start();
      worker.error(HOSTILE_ERROR, { critical: true });
      const { page, problems, historyRequests } = await openPage(await serve(manager, details));
      await page.waitForFunction(() => document.querySelector('article.card .word')?.textContent === 'critical');
      expect(await page.isVisible('#details-note')).toBe(true);

      const recovered = changeTo(manager, 'save_worker', 'healthy');
      worker.pulse();
      await recovered;
      await page.waitForFunction(() => document.querySelector('article.card .word')?.textContent === 'healthy');
      expect(await page.$$eval('.history', (sections) => sections.length)).toBe(0);
      // No beat bar, uptime or incident timeline: they come from the history.
      expect(await page.$$eval('.beats-row', (rows) => rows.filter((row) => !(row as HTMLElement).hidden).length)).toBe(0);
      expect(await page.$$eval('.tick', (ticks) => ticks.length)).toBe(0);
      expect(await page.isVisible('#timeline')).toBe(false);
      // The change this page saw, and since when, in words.
      expect(await page.textContent('article.card .since')).toMatch(/^healthy for \d+ s$/);
      expect(await page.textContent('#cards')).not.toContain('disk full');
      expect(historyRequests).toEqual([]);
      expect(problems).toEqual([]);
    },
  );
  /** The note of `kind` (run, pause, held) on a service's card, or null while it is hidden. */
  const noteOf = (page: Page, service: string, kind: 'run' | 'pause' | 'held') =>
    page.evaluate(
      ([name, className]) => {
        const card = Array.from(document.querySelectorAll('article.card')).find((node) => node.getAttribute('data-service') === name);
        const note = card?.querySelector<HTMLElement>(`.notes .${className}`);
        return note && !note.hidden ? note.textContent : null;
      },
      [service, kind] as const,
    );

  it('shows a running job counting on, its last run, a paused card muted with its end and reason, and alerts held by a dependency', async () => {
    const manager = open({
      services: {
        router_tasks: { interval: 3600, max_runtime: 600 },
        save_worker: { interval: 3600 },
        file_indexer: { interval: 3600, depends_on: ['save_worker'] },
      },
    });
    const tasks = manager.heartbeat({ tag: 'router_tasks' }).start();
    const worker = manager.heartbeat({ tag: 'save_worker' }).start();
    manager.heartbeat({ tag: 'file_indexer' }).start();
    const run = tasks.begin();
    worker.error('volume offline', { critical: true });
    // The page's own clock is Playwright's: a minute passes in it at once, and the open run's time counts on.
    const { page, problems } = await openPage(await serve(manager), (opened) => opened.clock.install());

    // From the first snapshot: the open run, and the dependency that holds file_indexer's alerts.
    await pollUntil(
      () => noteOf(page, 'router_tasks', 'run'),
      (text) => text !== null && /^running for \d+s$/.test(text),
    );
    await pollUntil(
      () => noteOf(page, 'file_indexer', 'held'),
      (text) => text === 'held: depends on save_worker',
    );
    await page.clock.fastForward(61_000);
    await pollUntil(
      () => noteOf(page, 'router_tasks', 'run'),
      (text) => text === 'running for 1m',
    );

    // The run ends: the stream's run batch says so, with its duration.
    run.success();
    await pollUntil(
      () => noteOf(page, 'router_tasks', 'run'),
      (text) => text !== null && /^last run \d+(\.\d)?s$/.test(text),
    );
    // A new run begun while the page is open: running again, the last one's time beside it (the
    // page's clock is the minute ahead it was moved).
    tasks.begin();
    await pollUntil(
      () => noteOf(page, 'router_tasks', 'run'),
      (text) => text !== null && /^running for (\d+s|1m) · last run \d+(\.\d)?s$/.test(text),
    );

    // A pause changes no status here (save_worker stays critical by its error): the pause event tells the page.
    const until = Date.now() + 2 * 3600_000;
    manager.pause('save_worker', { until, reason: 'disk swap' });
    const untilShown = await page.evaluate(
      (at) => new Date(at).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }),
      until,
    );
    const [paused] = (
      await pollUntil(
        () => noteOf(page, 'save_worker', 'pause'),
        (text) => text !== null && text.endsWith(' — disk swap'),
      )
    ).slice(-1);
    // The viewer's local time, with the day only when it is not today.
    expect(paused).toMatch(new RegExp(`^paused until (.+ )?${untilShown} — disk swap$`));
    const look = await page.evaluate(() => {
      const card = document.querySelector('article.card[data-service="save_worker"]') as HTMLElement;
      const style = getComputedStyle(card);
      return { paused: card.classList.contains('paused'), word: card.querySelector('.word')?.textContent, shadow: style.boxShadow };
    });
    // Muted, not red: no critical ring, and the status word still there beside the pause.
    expect(look).toEqual({ paused: true, word: 'critical', shadow: 'none' });
    // A paused service says nothing of the system's health.
    await pollUntil(
      () => page.textContent('#banner-text'),
      (text) => text === 'All services healthy',
    );

    // Resumed without a pulse: no longer paused; its error still shows.
    expect(manager.resume('save_worker')).toBe(true);
    await pollUntil(
      () => page.evaluate(() => document.querySelector('article.card[data-service="save_worker"]')?.classList.contains('paused')),
      (isPaused) => isPaused === false,
    );
    expect(await noteOf(page, 'save_worker', 'pause')).toBeNull();

    // save_worker recovers: file_indexer's alerts are held no more, though nothing of file_indexer changed.
    worker.pulse();
    await pollUntil(
      () => noteOf(page, 'file_indexer', 'held'),
      (text) => text === null,
    );
    expect(problems).toEqual([]);
  }, 30_000);
});
