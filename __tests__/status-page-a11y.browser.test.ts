/// <reference lib="dom" />
// The status page checked by axe-core in a real browser (Debian's Chromium, driven by
// playwright-core), light and dark, desktop and phone, with every kind of card, a card's
// details open and the incident timeline shown.
import { AxeBuilder } from '@axe-core/playwright';
import type { BrowserContext, Page } from 'playwright-core';
import { useFixturePages } from './helpers/status-page-browser';

const openFixturePage = useFixturePages();

async function openPage(width: number, height: number, colorScheme: 'light' | 'dark'): Promise<{ context: BrowserContext; page: Page }> {
  // No bypassCSP: axe's source goes in through DevTools evaluation, which the page's CSP allows.
  const opened = await openFixturePage({ viewport: { width, height }, colorScheme }, (page) =>
    page.waitForFunction(() => document.querySelectorAll('#incidents li').length === 2),
  );
  // One card's details open: its fields and list of changes are checked too.
  await opened.page.click('article.card[data-service="save_worker"] summary');
  return opened;
}

/** The serious and critical violations axe finds, each with the elements it names. */
async function seriousViolations(page: Page): Promise<Array<{ id: string; impact: string; targets: string[] }>> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => ({
      id: violation.id,
      impact: String(violation.impact),
      targets: violation.nodes.map((node) => node.target.join(' ')),
    }));
}

describe.each([
  ['light', 'desktop', 1280, 800],
  ['light', 'phone', 390, 844],
  ['dark', 'desktop', 1280, 800],
  ['dark', 'phone', 390, 844],
] as const)('%s, %s (%i px)', (colorScheme, _size, width, height) => {
  let context: BrowserContext;
  let page: Page;
  beforeAll(async () => {
    ({ context, page } = await openPage(width, height, colorScheme));
  }, 30_000);
  afterAll(async () => {
    await context.close();
  });

  it('has no serious or critical axe violation', async () => {
    expect(await page.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches)).toBe(colorScheme === 'dark');
    expect(await seriousViolations(page)).toEqual([]);
  }, 30_000);
});

it('is checked for real: axe finds text of too little contrast put on the page', async () => {
  const { context, page } = await openPage(1280, 800, 'light');
  try {
    await page.evaluate(() => {
      const faint = document.createElement('p');
      faint.id = 'faint';
      faint.textContent = 'Grey on white, 1.6:1';
      // Through the CSSOM, which the page's CSP allows (it blocks style attributes in markup).
      faint.style.color = '#c4c4c4';
      faint.style.background = '#ffffff';
      document.querySelector('article.card')?.appendChild(faint);
    });
    expect(await seriousViolations(page)).toEqual([{ id: 'color-contrast', impact: 'serious', targets: ['#faint'] }]);
  } finally {
    await context.close();
  }
}, 30_000);
