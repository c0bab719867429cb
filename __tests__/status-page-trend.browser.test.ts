/// <reference lib="dom" />
// The status page's "at risk" mark (issue 20) in a real browser (Debian's Chromium, driven by
// playwright-core): a card whose pulses drift toward their deadline gets the chip once the
// stream's trend event comes, with the reason for a caller with details and the flag alone for
// one without, loses it when the gaps recover, and has it on load while the service is at risk
// (from the snapshot). It changes neither the status colour nor the order, passes axe in light
// and dark, and fits a 320 px screen.
import type { Server } from 'node:http';
import { AxeBuilder } from '@axe-core/playwright';
import express from 'express';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { Registry } from 'prom-client';
import { healthRouter, type Heartbeat } from '../lib';
import { launchChromium } from './helpers/chromium';
import { startStatusPageFixture, type StatusPageFixture } from './helpers/status-page-fixture';
import { driftingGaps, pulseAfterGaps, steadyGaps } from './helpers/drift';

/** Pulses the drifter after each gap (seconds), on the fixture's clock. */
const pulseAfter = (gaps: readonly number[]): void => {
  pulseAfterGaps(fixture.clock, drifter, gaps);
};

const DRIFTER = 'queue_worker';
const CARD = `article.card[data-service="${DRIFTER}"]`;
const CHIP = `${CARD} .risk`;
const REASON = /^gaps growing 1\.5 s per beat: a miss expected in about \d+ s$/;
/** The fixture's nine services and the drifter. */
const SERVICES = 10;

let browser: Browser;
let fixture: StatusPageFixture;
/** The same manager behind a router that shows no details. */
let summaryServer: Server;
let summaryUrl: string;
let drifter: Heartbeat;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  fixture = await startStatusPageFixture();
  summaryServer = express()
    .use(healthRouter({ manager: fixture.manager, registry: new Registry(), details: 'never' }))
    .listen(0, '127.0.0.1');
  await new Promise((resolve) => summaryServer.once('listening', resolve));
  summaryUrl = `http://127.0.0.1:${String((summaryServer.address() as { port: number }).port)}/api/health/ui`;
  // Interval 30 s: a beat is missed once a gap passes 33 s.
  drifter = fixture.manager.heartbeat({ tag: DRIFTER, interval: 30 }).start();
  drifter.pulse();
}, 30_000);
afterAll(async () => {
  for (const context of contexts) await context.close();
  summaryServer.closeAllConnections();
  await new Promise((resolve) => summaryServer.close(resolve));
  await fixture.close();
  await browser.close();
});

async function open(url: string, options: BrowserContextOptions): Promise<Page> {
  const context = await browser.newContext(options);
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction((count) => document.querySelectorAll('article.card').length === count, SERVICES);
  return page;
}

/** What the drifter's card shows of its risk and status. */
const cardState = (page: Page) =>
  page.$eval(CARD, (card) => {
    const chip = card.querySelector<HTMLElement>('.risk') as HTMLElement;
    const name = card.querySelector('h3.name') as HTMLElement;
    return {
      chip: chip.hidden ? null : { text: chip.textContent, title: chip.getAttribute('title') },
      sameColourAsName: getComputedStyle(chip).color === getComputedStyle(name).color,
      status: card.querySelector('.word')?.textContent,
      // Its status classes; `beat`, the pulse animation's, comes and goes with each pulse.
      className: (card.getAttribute('class') ?? '')
        .split(' ')
        .filter((name: string) => name !== 'beat')
        .join(' '),
      trend: card.querySelector('dd.trend')?.textContent,
    };
  });

/** The cards of the ungrouped section, in order. */
const otherServices = (page: Page) =>
  page.$$eval('section.group', (groups) =>
    groups
      .filter((group) => group.querySelector('.group-title')?.textContent === 'Other services')
      .flatMap((group) => Array.from(group.querySelectorAll('article.card')).map((card) => card.getAttribute('data-service'))),
  );

async function seriousViolations(page: Page): Promise<Array<{ id: string; targets: string[] }>> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => ({ id: violation.id, targets: violation.nodes.map((node) => node.target.join(' ')) }));
}

it('marks the card at risk after the drifting pulses and the trend event, without touching its status or place, and unmarks it when the gaps recover', async () => {
  const page = await open(fixture.url, { viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
  const summaryPage = await open(summaryUrl, { viewport: { width: 1280, height: 800 } });
  const orderBefore = await otherServices(page);
  expect(orderBefore).toContain(DRIFTER);
  expect(await cardState(page)).toMatchObject({ chip: null, status: 'healthy', trend: 'learning: 0 of 10 gaps' });

  // Twenty steady gaps of 20 s, then eight growing by 1.5 s per beat: at risk, every gap within 33 s.
  pulseAfter(driftingGaps());
  expect(fixture.manager.service(DRIFTER)?.trend.at_risk).toBe(true);
  await page.waitForSelector(`${CHIP}:not([hidden])`);
  const marked = await cardState(page);
  expect(marked).toEqual({
    chip: { text: expect.stringMatching(/^at risk: gaps growing/), title: expect.stringMatching(/^at risk: gaps growing/) },
    sameColourAsName: true,
    status: 'healthy',
    className: 'card status-healthy',
    trend: expect.stringMatching(REASON),
  });
  expect(marked.chip?.title).toBe(`at risk: ${String(marked.trend)}`);
  expect(marked.chip?.text).toBe(marked.chip?.title);
  // Said once, politely; the order is the status's alone.
  await page.waitForFunction((name) => document.getElementById('announcer')?.textContent === `${name} is at risk.`, DRIFTER);
  expect(await otherServices(page)).toEqual(orderBefore);
  await page.click(`${CARD} summary`);
  expect(await seriousViolations(page)).toEqual([]);

  // Without details: the flag alone.
  await summaryPage.waitForSelector(`${CHIP}:not([hidden])`);
  expect(await cardState(summaryPage)).toMatchObject({ chip: { text: 'at risk', title: 'at risk' }, status: 'healthy' });

  pulseAfter(steadyGaps(10));
  expect(fixture.manager.service(DRIFTER)?.trend.at_risk).toBe(false);
  await page.waitForSelector(CHIP, { state: 'hidden' });
  await summaryPage.waitForSelector(CHIP, { state: 'hidden' });
  expect(await cardState(page)).toMatchObject({ chip: null, status: 'healthy', trend: 'steady' });
  expect(await page.$eval(CHIP, (chip) => chip.getAttribute('title'))).toBeNull();
}, 30_000);

it('shows the mark on load for a service already at risk, in dark mode at 320 px, within the screen and axe-clean', async () => {
  pulseAfter(driftingGaps().slice(10));
  expect(fixture.manager.service(DRIFTER)?.trend.at_risk).toBe(true);
  const page = await open(fixture.url, { viewport: { width: 320, height: 700 }, colorScheme: 'dark' });
  // From the snapshot, before any trend event could come.
  expect((await cardState(page)).chip).toEqual({
    text: expect.stringMatching(/^at risk: gaps growing/),
    title: expect.stringMatching(/^at risk: /),
  });
  await page.click(`${CARD} summary`);
  expect(await page.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches)).toBe(true);
  expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
  const fits = await page.$eval(CARD, (card) => {
    const box = card.getBoundingClientRect();
    const chip = (card.querySelector('.risk') as HTMLElement).getBoundingClientRect();
    return chip.left >= box.left && chip.right <= box.right;
  });
  expect(fits).toBe(true);
  expect(await seriousViolations(page)).toEqual([]);
  const summaryPage = await open(summaryUrl, { viewport: { width: 320, height: 700 }, colorScheme: 'dark' });
  expect((await cardState(summaryPage)).chip).toEqual({ text: 'at risk', title: 'at risk' });
  expect(await seriousViolations(summaryPage)).toEqual([]);
}, 30_000);
