import type { Page } from 'playwright-core';

/** One line of a status-page card's list of recent changes, as the page shows it. */
export interface ListedItem {
  time: string | null;
  move: string | null;
  reason: string | null;
  gap: boolean;
}

/** What the status page's card of `service` lists, oldest first. */
export const listOf = (page: Page, service: string): Promise<ListedItem[]> =>
  page.evaluate((name) => {
    const card = Array.from(document.querySelectorAll('article.card')).find((node) => node.getAttribute('data-service') === name);
    return Array.from(card?.querySelectorAll('.changes li') ?? []).map((item) => ({
      time: item.querySelector('time')?.getAttribute('datetime') ?? null,
      move: item.querySelector('.move')?.textContent ?? null,
      reason: item.querySelector('.reason')?.textContent ?? null,
      gap: item.classList.contains('gap'),
    }));
  }, service);
