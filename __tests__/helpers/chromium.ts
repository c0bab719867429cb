import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium: playwright-core drives it, and downloads no browser of its own. */
export const CHROMIUM = '/usr/bin/chromium';

/** Starts a headless Chromium for a browser test; close it in `afterAll`. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: npm test installs it (scripts/ensure-system-deps.js), or run apt-get install chromium.`);
  return chromium.launch({
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
}
