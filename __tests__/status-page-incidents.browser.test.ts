/// <reference lib="dom" />
// What the status page tells of each service's recent past, and how it is reached, in a real
// browser (Debian's Chromium, driven by playwright-core) against a scripted outage on the
// injected clock: the beat bar, the uptime figures, the incident timeline, the live region's
// announcements, the keyboard and the #service fragment.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { ServiceHistory } from '../lib';
import { BEAT_TICKS } from '../lib/page/beat-bar-script';
import { launchChromium } from './helpers/chromium';
import { pollUntil } from './helpers/demo';
import { changeTo, LONG_NAMES, OUTAGE_MS, startStatusPageFixture, type StatusPageFixture } from './helpers/status-page-fixture';

let browser: Browser;
let fixture: StatusPageFixture;
let context: BrowserContext;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser.close();
});
beforeEach(async () => {
  fixture = await startStatusPageFixture();
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
});
afterEach(async () => {
  await context.close();
  await fixture.close();
});

/** The last /history body the page received, by service. */
const historiesRead = new Map<string, ServiceHistory>();

async function openPage(fragment = ''): Promise<Page> {
  const page = await context.newPage();
  historiesRead.clear();
  page.on('response', (response) => {
    const path = new URL(response.url()).pathname;
    if (!path.endsWith('/history')) return;
    void response.json().then((body: ServiceHistory) => historiesRead.set(body.service, body));
  });
  await page.goto(`${fixture.url}${fragment}`);
  await page.waitForFunction(() => document.querySelectorAll('#incidents li').length === 2);
  // Every history read: each card's beat bar drawn.
  await page.waitForFunction(() =>
    Array.from(document.querySelectorAll<HTMLElement>('article.card .beats-row')).every((row) => !row.hidden),
  );
  return page;
}

const history = async (name: string): Promise<ServiceHistory> =>
  (await (await fetch(`${new URL(fixture.url).origin}/api/health/service/${encodeURIComponent(name)}/history`)).json()) as ServiceHistory;

/** The page's own percentage: floored to hundredths, so 99.996% up never reads as 100%. */
const percent = (ratio: number) => (ratio >= 1 ? '100%' : `${(Math.floor(ratio * 10000 + 1e-7) / 100).toFixed(2)}%`);

it('draws each service’s beat bar by status, with each tick’s time on hover and in words, and the uptime /history gives', async () => {
  const page = await openPage();
  const bars = await page.$$eval('article.card', (cards) =>
    cards.map((card) => {
      const rootStyle = getComputedStyle(document.documentElement);
      const colourOf = (value: string) => {
        // The browser's own reading of a status colour, to compare with a tick's.
        const probe = document.createElement('span');
        probe.style.color = value;
        document.body.appendChild(probe);
        const colour = getComputedStyle(probe).color;
        probe.remove();
        return colour;
      };
      return {
        name: card.getAttribute('data-service'),
        ticks: Array.from(card.querySelectorAll<HTMLElement>('.beats .tick')).map((tick) => ({
          status: tick.getAttribute('data-status'),
          start: tick.getAttribute('data-start'),
          title: tick.title,
          said: tick.querySelector('.visually-hidden')?.textContent,
          local: new Date(tick.getAttribute('data-start') ?? '').toLocaleTimeString(),
          colour: getComputedStyle(tick).backgroundColor,
          expected: colourOf(rootStyle.getPropertyValue(`--${tick.getAttribute('data-status') ?? ''}`).trim() || 'transparent'),
        })),
        uptime: Array.from(card.querySelectorAll('.uptime-figures .window')).map((node) => node.textContent),
        since: card.querySelector('.since')?.textContent,
      };
    }),
  );
  const byName = new Map(bars.map((bar) => [bar.name, bar]));
  for (const bar of bars) {
    expect(bar.ticks).toHaveLength(BEAT_TICKS);
    // One tick per interval (an hour here), oldest first, each saying its time and status on hover and to a screen reader.
    const starts = bar.ticks.map((tick) => Date.parse(tick.start ?? ''));
    expect(starts.slice(1).map((start, i) => start - (starts[i] as number))).toEqual(Array(BEAT_TICKS - 1).fill(3_600_000));
    for (const tick of bar.ticks) {
      // The viewer's local time, after the day when it is not today.
      expect(tick.title.endsWith(`${tick.local}: ${tick.status === 'none' ? 'not started' : tick.status}`)).toBe(true);
      expect(tick.said).toBe(tick.title);
    }
    // Empty before the service started (in the last hour, or the one before it at a turn of the hour).
    expect(bar.ticks.slice(0, -2).every((tick) => tick.status === 'none')).toBe(true);
  }
  const last = (name: string) => byName.get(name)?.ticks.at(-1);
  // The hour save_worker is critical in, the hour file_indexer was (its worst), and healthy ones, in their status colours.
  expect(last('save_worker')).toMatchObject({ status: 'critical' });
  // The hour of file_indexer's outage: critical, though it recovered within it.
  const outageAt = Date.parse(fixture.outage.start);
  expect(
    byName.get('file_indexer')?.ticks.find((tick) => {
      const start = Date.parse(tick.start ?? '');
      return start <= outageAt && outageAt < start + 3_600_000;
    })?.status,
  ).toBe('critical');
  expect(last('web_listener')).toMatchObject({ status: 'warning' });
  expect(last(LONG_NAMES.dotted)).toMatchObject({ status: 'healthy' });
  for (const name of ['save_worker', 'web_listener', LONG_NAMES.dotted]) {
    const tick = last(name);
    expect(tick?.colour).toBe(tick?.expected);
  }
  expect(new Set(['save_worker', 'web_listener', LONG_NAMES.dotted].map((name) => last(name)?.colour)).size).toBe(3);

  // The uptime figures are those of the /history the page read (over a life this short, they
  // move with every second): file_indexer was down for 30 s of its life so far.
  // The page has them already; their bodies reach this test a moment later.
  await pollUntil(
    () => ['file_indexer', 'save_worker', 'web_listener'].every((name) => historiesRead.has(name)),
    (all) => all,
  );
  for (const name of ['file_indexer', 'save_worker', 'web_listener']) {
    const read = historiesRead.get(name);
    if (!read) throw new Error(`the page read no history of ${name}`);
    expect(byName.get(name)?.uptime).toEqual([`24 h ${percent(read.uptime['24h'])}`, `7 d ${percent(read.uptime['7d'])}`]);
  }
  expect(historiesRead.get('file_indexer')?.uptime['24h']).toBeLessThan(1);
  expect((await history(LONG_NAMES.dotted)).uptime['24h']).toBe(1);
  expect(byName.get(LONG_NAMES.dotted)?.uptime).toEqual(['24 h 100%', '7 d 100%']);
  // How long each has been as it is: critical (or healthy) since its last change.
  expect(byName.get('save_worker')?.since).toMatch(/^critical for \d+ s$/);
  expect(byName.get('file_indexer')?.since).toMatch(/^healthy for \d+ s$/);
});

it('lists the incidents: which service, the status reached, when, how long, and whether resolved', async () => {
  const page = await openPage();
  const incidents = () =>
    page.$$eval('#incidents li', (items) =>
      items.map((item) => ({
        service: item.getAttribute('data-service'),
        status: item.getAttribute('data-status'),
        start: item.getAttribute('data-start'),
        end: item.getAttribute('data-end'),
        text: item.textContent,
        time: item.querySelector('time')?.textContent,
        local: new Date(item.getAttribute('data-start') ?? '').toLocaleTimeString(),
        length: item.querySelector('.incident-length')?.textContent,
        state: item.querySelector('.incident-state')?.textContent,
      })),
    );
  const [ongoing, resolved] = await incidents();
  // Newest first: save_worker's ongoing outage, then file_indexer's 30 s one, as their histories have them.
  expect(resolved).toMatchObject({
    service: 'file_indexer',
    status: 'critical',
    start: fixture.outage.start,
    end: fixture.outage.end,
    // The 30 s the clock was moved, and the moment the recovery took to be seen.
    length: `for ${String(Math.floor((Date.parse(fixture.outage.end) - Date.parse(fixture.outage.start)) / 1000))}s`,
    state: 'resolved',
  });
  expect(Date.parse(fixture.outage.end) - Date.parse(fixture.outage.start)).toBeGreaterThanOrEqual(OUTAGE_MS);
  expect(resolved?.time).toBe(resolved?.local);
  expect(resolved?.text).toContain('file_indexer went critical');
  expect(ongoing).toMatchObject({ service: 'save_worker', status: 'critical', start: fixture.ongoingSince, end: null, state: 'ongoing' });
  expect(ongoing?.length).toMatch(/^for \d+s$/);

  // save_worker recovers: its incident is resolved, with its length, from the stream's change.
  const up = changeTo(fixture.manager, 'save_worker', 'healthy');
  fixture.beat('save_worker').pulse();
  const recovered = await up;
  const [latest] = (await pollUntil(incidents, (items) => items[0]?.state === 'resolved')).at(-1) ?? [];
  expect(latest).toMatchObject({ service: 'save_worker', start: fixture.ongoingSince, end: recovered.time, state: 'resolved' });
  // Two incidents still, one per outage.
  expect((await incidents()).map((item) => item.service)).toEqual(['save_worker', 'file_indexer']);
});

it('announces status changes in a polite live region, not pulses, and reorders without losing the keyboard focus', async () => {
  const page = await openPage();
  const region = await page.$eval('#announcer', (node) => ({
    role: node.getAttribute('role'),
    live: node.getAttribute('aria-live'),
    text: node.textContent,
  }));
  // The first snapshot says nothing: the banner, the page's heading, says it.
  expect(region).toEqual({ role: 'status', live: 'polite', text: '' });

  // Focus on save_worker's details control, then save_worker recovers and moves down its group.
  await page.focus('article.card[data-service="save_worker"] summary');
  const up = changeTo(fixture.manager, 'save_worker', 'healthy');
  fixture.beat('save_worker').pulse();
  await up;
  await pollUntil(
    () => page.textContent('#announcer'),
    (text) => text === 'save_worker is now healthy.',
  );
  await pollUntil(
    () =>
      page.$$eval('section.group', (groups) =>
        Array.from(
          groups.find((group) => group.querySelector('.group-title')?.textContent === 'Workers')?.querySelectorAll('article.card') ?? [],
        ).map((card) => card.getAttribute('data-service')),
      ),
    (names) => names.join() === `file_indexer,${LONG_NAMES.underscores},save_worker`,
  );
  expect(await page.evaluate(() => document.activeElement?.closest('article.card')?.getAttribute('data-service') ?? null)).toBe(
    'save_worker',
  );

  // Pulses change nothing it says; a new change replaces what it said.
  for (let i = 0; i < 3; i++) fixture.beat('file_indexer').pulse();
  await page.waitForFunction(() => document.querySelector('article.card[data-service="file_indexer"] .pulses')?.textContent === '4');
  expect(await page.textContent('#announcer')).toBe('save_worker is now healthy.');
  const critical = changeTo(fixture.manager, 'web_listener', 'critical');
  fixture.beat('web_listener').error('listener down', { critical: true });
  await critical;
  await pollUntil(
    () => page.textContent('#announcer'),
    (text) => text === 'web_listener is now critical.',
  );

  // Changes of one moment (the stream sends a turn's changes together) are said in one announcement.
  const both = Promise.all([
    changeTo(fixture.manager, 'file_indexer', 'critical'),
    changeTo(fixture.manager, LONG_NAMES.dotted, 'critical'),
  ]);
  fixture.beat('file_indexer').error('disk full', { critical: true });
  fixture.beat(LONG_NAMES.dotted).error('queue gone', { critical: true });
  await both;
  const [said] = (
    await pollUntil(
      () => page.textContent('#announcer'),
      (text) => text !== 'web_listener is now critical.',
    )
  ).slice(-1);
  expect(said).toBe(`file_indexer is now critical. ${LONG_NAMES.dotted} is now critical.`);
});

it('keeps a focused card where it was on the screen when a change sorts it elsewhere', async () => {
  await context.close();
  // One column, as on a small phone: save_worker recovering moves it two cards down its group,
  // and its group (all healthy then) below the ungrouped section's warning. The short screen
  // leaves the page room to scroll with it that far.
  context = await browser.newContext({ viewport: { width: 390, height: 500 } });
  const page = await openPage();
  await page.focus('article.card[data-service="save_worker"] summary');
  const topOf = () => page.$eval('article.card[data-service="save_worker"]', (card) => card.getBoundingClientRect().top);
  const before = await topOf();
  const up = changeTo(fixture.manager, 'save_worker', 'healthy');
  fixture.beat('save_worker').pulse();
  await up;
  await page.waitForFunction(() => Boolean(document.querySelector('article.card[data-service="save_worker"]')?.previousElementSibling));
  // Moved down the page, and the page scrolled with it: under the reader, nothing jumped.
  expect(await page.evaluate(() => window.scrollY)).toBeGreaterThan(200);
  expect(Math.abs((await topOf()) - before)).toBeLessThanOrEqual(1);
  expect(await page.evaluate(() => document.activeElement?.closest('article.card')?.getAttribute('data-service'))).toBe('save_worker');
});

it('reaches a card’s details with Tab, opens them with Enter, with a visible focus ring', async () => {
  const page = await openPage();
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => {
    const active = document.activeElement as HTMLElement;
    const style = getComputedStyle(active);
    return {
      tag: active.tagName,
      card: active.closest('article.card')?.getAttribute('data-service'),
      outline: `${style.outlineStyle} ${style.outlineWidth}`,
      open: (active.parentElement as HTMLDetailsElement).open,
    };
  });
  // The first stop is the first card's (the critical one's) details.
  expect(focused).toEqual({ tag: 'SUMMARY', card: 'save_worker', outline: 'solid 3px', open: false });
  await page.keyboard.press('Enter');
  expect(await page.$eval('article.card[data-service="save_worker"] details', (node) => (node as HTMLDetailsElement).open)).toBe(true);
  expect(await page.isVisible('article.card[data-service="save_worker"] .history')).toBe(true);
  // A critical card says when the service started, not an "uptime" that reads as if it were up.
  const fields = await page.$$eval('article.card[data-service="save_worker"] dt', (terms) => terms.map((term) => term.textContent));
  expect(fields).toContain('Started');
  expect(fields).not.toContain('Uptime');
  expect(await page.textContent('article.card[data-service="save_worker"] dd.started')).toMatch(/^\d+ s ago$/);
  // The next Tab goes on to the next card's details.
  await page.keyboard.press('Tab');
  expect(await page.evaluate(() => document.activeElement?.closest('article.card')?.getAttribute('data-service'))).toBe('file_indexer');
});

it('opens the card a #service fragment names, as an alert’s link does, and another when the fragment changes', async () => {
  const page = await openPage(`#${encodeURIComponent(LONG_NAMES.dotted)}`);
  const opened = (name: string) =>
    page.evaluate((service) => {
      const card = Array.from(document.querySelectorAll('article.card')).find((node) => node.getAttribute('data-service') === service);
      const rect = card?.getBoundingClientRect();
      return {
        open: (card?.querySelector('details') as HTMLDetailsElement | null)?.open,
        focused: document.activeElement?.closest('article.card') === card,
        inView: rect !== undefined && rect.top >= 0 && rect.top < window.innerHeight,
      };
    }, name);
  // The dotted name's card is last on the page: scrolled to.
  await pollUntil(
    () => opened(LONG_NAMES.dotted),
    (state) => state.open === true,
  );
  expect(await opened(LONG_NAMES.dotted)).toEqual({ open: true, focused: true, inView: true });
  expect(await page.evaluate(() => window.scrollY)).toBeGreaterThan(0);
  // A name with HTML in it, percent-encoded, names its card too.
  await page.evaluate((hash) => {
    window.location.hash = hash;
  }, encodeURIComponent(LONG_NAMES.hostile));
  await pollUntil(
    () => opened(LONG_NAMES.hostile),
    (state) => state.open === true,
  );
  expect(await opened(LONG_NAMES.hostile)).toEqual({ open: true, focused: true, inView: true });
});
