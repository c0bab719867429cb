/// <reference lib="dom" />
// The status page in a real browser: Debian's Chromium driven by playwright-core, against the
// demo server started as `npm start` starts it, with short intervals.
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from './helpers/child';
import { fastDemoConfig, startDemoProcess, type DemoProcess } from './helpers/demo';

const CHROMIUM = '/usr/bin/chromium';
const HOSTILE = '<img src=x onerror=alert(1)>';
const config = fastDemoConfig(0.5);
const withHostile = { ...config, services: { ...config.services, [HOSTILE]: { interval: 3600, critical: false } } };

let browser: Browser;
let demo: DemoProcess | undefined;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: npm test installs it (scripts/ensure-system-deps.js), or run apt-get install chromium.`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
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

  const screenshots = process.env.UPDATE_SCREENSHOTS ? join(ROOT, 'docs') : join(tmpdir(), 'heartbeat-screenshots');
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, 'status-page.png') });

  // On a phone the cards stack and nothing scrolls sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
  await page.screenshot({ path: join(screenshots, 'status-page-phone.png') });
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
