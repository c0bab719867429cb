/// <reference lib="dom" />
// The status page's layout in a real browser (Debian's Chromium, driven by playwright-core) at a
// desktop and a phone width, measured from the boxes the browser laid out: nothing scrolls
// sideways, no name breaks inside a word, the pulse ring clears the name, the critical card
// comes first.
import type { BrowserContext, Page } from 'playwright-core';
import { useFixturePages } from './helpers/status-page-browser';
import { LONG_NAMES } from './helpers/status-page-fixture';

const SERVICES = 9;
const openFixturePage = useFixturePages();

function openAt(width: number, height: number): Promise<{ context: BrowserContext; page: Page }> {
  return openFixturePage({ viewport: { width, height } }, (page) =>
    page.waitForFunction((count) => document.querySelectorAll('article.card').length === count, SERVICES),
  );
}

/** How each name is laid out: its characters' line boxes, and whether it is cut with an ellipsis. */
const nameLayouts = (page: Page) =>
  page.$$eval('article.card h3.name', (headings) =>
    headings.map((heading) => {
      const chars: Array<{ char: string; top: number }> = [];
      for (const node of Array.from(heading.childNodes)) {
        if (node.nodeType !== Node.TEXT_NODE) continue;
        const text = node.textContent ?? '';
        for (let i = 0; i < text.length; i++) {
          const range = document.createRange();
          range.setStart(node, i);
          range.setEnd(node, i + 1);
          const rect = range.getClientRects()[0];
          chars.push({ char: text.charAt(i), top: rect ? Math.round(rect.top) : NaN });
        }
      }
      const style = getComputedStyle(heading);
      return {
        name: heading.closest('article')?.getAttribute('data-service') ?? '',
        text: chars.map((c) => c.char).join(''),
        // Where a line ends: the character before each break.
        breaksAfter: chars.slice(0, -1).flatMap((c, i) => (chars[i + 1]?.top !== c.top ? [c.char] : [])),
        lines: new Set(chars.map((c) => c.top)).size,
        cut: heading.scrollWidth > heading.clientWidth,
        ellipsis: style.textOverflow === 'ellipsis',
        title: heading.getAttribute('title'),
      };
    }),
  );

describe.each([
  ['desktop', 1280, 800],
  ['phone', 390, 844],
] as const)('at %s width (%i px)', (_label, width, height) => {
  let context: BrowserContext;
  let page: Page;
  beforeAll(async () => {
    ({ context, page } = await openAt(width, height));
  });
  afterAll(async () => {
    await context.close();
  });

  it('scrolls nothing sideways', async () => {
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
  });

  it('breaks names only after _, - or . (or a space), or cuts a part too long with an ellipsis and the full name in title', async () => {
    const layouts = await nameLayouts(page);
    expect(layouts.map((layout) => layout.text).sort()).toEqual(layouts.map((layout) => layout.name).sort());
    for (const layout of layouts) {
      expect({ name: layout.name, breaks: layout.breaksAfter.filter((char) => !/[_.\- ]/.test(char)) }).toEqual({
        name: layout.name,
        breaks: [],
      });
      expect(layout.title).toBe(layout.name);
      if (layout.cut) expect({ name: layout.name, ellipsis: layout.ellipsis }).toEqual({ name: layout.name, ellipsis: true });
    }
    // The names with separators wrap there rather than being cut; the one without any is cut.
    const byName = new Map(layouts.map((layout) => [layout.name, layout]));
    expect(byName.get(LONG_NAMES.unbroken)).toMatchObject({ cut: true, lines: 1, ellipsis: true });
    expect(byName.get(LONG_NAMES.underscores)?.cut).toBe(false);
    expect(byName.get(LONG_NAMES.dotted)?.cut).toBe(false);
    if (width < 500) expect(byName.get(LONG_NAMES.underscores)?.lines).toBeGreaterThan(1);
  });

  it('keeps the pulse ring clear of the first letter, at its widest', async () => {
    const overlaps = await page.$$eval('article.card', (cards: HTMLElement[]) =>
      cards.map((card) => {
        const dot = card.querySelector<HTMLElement>('.dot') as HTMLElement;
        card.classList.remove('beat');
        // A layout in between restarts the animation, as the page's own beat does.
        card.getBoundingClientRect();
        card.classList.add('beat');
        // The beat at its widest (30% of the animation: scaled up, with its shadow ring).
        const [animation] = dot.getAnimations();
        if (!animation) return { name: card.getAttribute('data-service'), error: 'no beat animation' };
        animation.pause();
        animation.currentTime = 0.3 * 450;
        const ring = dot.getBoundingClientRect();
        const spread = (parseFloat(getComputedStyle(dot).boxShadow.split(' ').at(-1) ?? '0') || 0) + 0.5;
        const heading = card.querySelector('h3.name') as HTMLElement;
        const first = heading.firstChild as Text;
        const range = document.createRange();
        range.setStart(first, 0);
        range.setEnd(first, 1);
        const letter = range.getBoundingClientRect();
        animation.cancel();
        const apart =
          ring.right + spread <= letter.left ||
          ring.left - spread >= letter.right ||
          ring.bottom + spread <= letter.top ||
          ring.top - spread >= letter.bottom;
        return { name: card.getAttribute('data-service'), apart, scaled: ring.width > dot.offsetWidth };
      }),
    );
    expect(overlaps).toHaveLength(SERVICES);
    for (const overlap of overlaps) expect(overlap).toEqual({ name: overlap.name, apart: true, scaled: true });
  });

  it('shows the critical card first, above the fold', async () => {
    const first = await page.$eval('article.card', (card) => ({
      name: card.getAttribute('data-service'),
      top: card.getBoundingClientRect().top,
      status: card.querySelector('.word')?.textContent,
      fold: window.innerHeight,
    }));
    expect(first).toMatchObject({ name: 'save_worker', status: 'critical' });
    expect(first.top).toBeLessThan(first.fold);
    // The worst first within each section, the sections by their worst: the ungrouped
    // section's warning (web_listener) comes before the Jobs group's healthy and paused ones.
    const order = await page.$$eval('section.group', (groups) =>
      groups.map((group) => ({
        title: group.querySelector('.group-title')?.textContent,
        cards: Array.from(group.querySelectorAll('article.card')).map((card) => card.getAttribute('data-service')),
      })),
    );
    expect(order).toEqual([
      { title: 'Workers', cards: ['save_worker', 'file_indexer', LONG_NAMES.underscores] },
      {
        title: 'Other services',
        cards: ['web_listener', LONG_NAMES.hostile, LONG_NAMES.unbroken, LONG_NAMES.dotted].sort((a, b) =>
          a === 'web_listener' ? -1 : b === 'web_listener' ? 1 : a < b ? -1 : 1,
        ),
      },
      { title: 'Jobs', cards: ['router_tasks', 'nightly_backup'] },
    ]);
  });
});
