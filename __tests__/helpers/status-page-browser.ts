/// <reference lib="dom" />
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { launchChromium } from './chromium';
import { startStatusPageFixture, type StatusPageFixture } from './status-page-fixture';

/** Opens the fixture's page in a fresh context; `drawn` waits for what the test needs on it. */
export type OpenFixturePage = (
  options: BrowserContextOptions,
  drawn: (page: Page) => Promise<unknown>,
) => Promise<{ context: BrowserContext; page: Page }>;

/**
 * One Chromium and one {@link startStatusPageFixture} for a test file, started before its first
 * test and closed after its last. The page it opens is laid out as it will stay: after `drawn`,
 * every card's beat bar is drawn from its history. Call at the top of the file.
 */
export function useFixturePages(): OpenFixturePage {
  let browser: Browser;
  let fixture: StatusPageFixture;
  beforeAll(async () => {
    browser = await launchChromium();
    fixture = await startStatusPageFixture();
  });
  afterAll(async () => {
    await fixture.close();
    await browser.close();
  });
  return async (options, drawn) => {
    const context = await browser.newContext(options);
    const page = await context.newPage();
    await page.goto(fixture.url);
    await drawn(page);
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll<HTMLElement>('article.card .beats-row')).every((row) => !row.hidden),
    );
    return { context, page };
  };
}
