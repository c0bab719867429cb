/// <reference lib="dom" />
// The screenshots of the README and docs/status-page.md: the demo's status page as a user sees
// it, taken from the real demo in real Chromium so that they can be made again after the page
// changes.
//
//   npm run screenshots                 writes docs/images/status-page.png, -phone.png, -dark.png
//   npm run screenshots -- --out DIR    writes them to DIR instead
//
// It starts `npm start`'s program with demo-app/fast-config.json (intervals of seconds, so the
// story takes seconds) on free loopback ports and a temporary state directory, waits until
// every service is healthy, lets file_indexer report one failure (a warning that clears on its
// next pulse, so its beat bar shows one that passed), then stalls save_worker and crashes it:
// it stops pulsing and reports a critical error, so it stays critical. A few seconds later
// Chromium (CHROMIUM_PATH, default /usr/bin/chromium) opens the demo's front door three times:
// desktop light, phone light, desktop dark. The three files are written together at the end or
// not at all. Progress goes to stderr; stdout gets one JSON summary of what each page showed.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

const ROOT = join(__dirname, '..');
const DEMO_ENTRY = join(ROOT, 'demo-app', 'server.ts');
const DEMO_CONFIG = join(ROOT, 'demo-app', 'fast-config.json');
const DEFAULT_OUT = join(ROOT, 'docs', 'images');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** The demo's settings from the environment that would send its alerts somewhere or change what it shows. */
const USER_SETTINGS = ['ALERT_WEBHOOK_URL', 'ALERTMANAGER_URL', 'NTFY_URL', 'HEARTBEAT_TOKEN', 'HEARTBEAT_REDIS_URL'];

/** The service the screenshots show critical, and the one whose failure passed before it. */
const CRITICAL_SERVICE = 'save_worker';
const RECOVERED_SERVICE = 'file_indexer';
const STATUS_WORDS = ['healthy', 'warning', 'degraded', 'critical', 'offline'];

/** Healthy beats before anything goes wrong, and how long the outage lasts when captured. */
const HEALTHY_FOR_MS = 5000;
const CRITICAL_FOR_MS = 4000;
/** The whole run, from start to the files written; past it the script stops everything and fails. */
const DEADLINE_MS = 55_000;
/** Each wait for the demo or the page to reach a state. */
const WAIT_MS = 15_000;
/**
 * The page's names, statuses and banner must read the same this long, with no request open,
 * before a capture: past the page's once-a-second refresh of its times, so every shot has them.
 */
const STABLE_MS = 1500;

interface Shot {
  readonly file: string;
  readonly width: number;
  readonly height: number;
  readonly colorScheme: 'light' | 'dark';
  readonly phone: boolean;
}
const SHOTS: readonly Shot[] = [
  { file: 'status-page.png', width: 1280, height: 800, colorScheme: 'light', phone: false },
  { file: 'status-page-phone.png', width: 390, height: 844, colorScheme: 'light', phone: true },
  { file: 'status-page-dark.png', width: 1280, height: 800, colorScheme: 'dark', phone: false },
];

/** What a page showed: the banner's text and each service card in page order with its status word. */
interface PageReading {
  banner: string;
  cards: Array<{ name: string; status: string | null }>;
}
type Statuses = Record<string, string>;

/** A failure with a message meant for the person running the script. */
class ScreenshotError extends Error {}

/** The run was stopped by a signal; the exit code says which, as a shell's would. */
class Interrupted extends ScreenshotError {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

const log = (message: string): void => {
  process.stderr.write(`screenshots: ${message}\n`);
};
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

function outDirFrom(args: readonly string[]): string {
  if (args.length === 0) return DEFAULT_OUT;
  const [flag, dir] = args;
  // npm runs scripts in the package's folder; INIT_CWD is where `npm run` was typed.
  if (flag === '--out' && dir && !dir.startsWith('--') && args.length === 2) return resolve(process.env.INIT_CWD ?? process.cwd(), dir);
  throw new ScreenshotError(`unexpected arguments ${JSON.stringify(args)}; usage: npm run screenshots [-- --out DIR]`);
}

/** Fails before anything starts when the demo or Chromium is not there. */
function checkPrerequisites(): void {
  for (const file of [DEMO_ENTRY, DEMO_CONFIG])
    if (!existsSync(file))
      throw new ScreenshotError(`the demo is missing: ${file} does not exist; run this from a checkout of express-heartbeat.`);
  try {
    require.resolve('tsx', { paths: [ROOT] });
  } catch {
    throw new ScreenshotError('tsx, which runs the demo, is not installed; run npm install.');
  }
  if (!existsSync(CHROMIUM))
    throw new ScreenshotError(`Chromium is missing: ${CHROMIUM} does not exist; run apt-get install chromium, or set CHROMIUM_PATH.`);
}

/** Everything the run starts, so that every path out (success, error, deadline, Ctrl-C) stops it. */
class Resources {
  demo: ChildProcess | undefined;
  browser: Browser | undefined;
  stateDir: string | undefined;
  private released: Promise<void> | undefined;

  release(): Promise<void> {
    this.released ??= (async () => {
      const browser = this.browser;
      if (browser) await Promise.race([browser.close().catch(() => undefined), sleep(5000)]);
      const demo = this.demo;
      if (demo) await stopProcess(demo);
      if (this.stateDir) rmSync(this.stateDir, { recursive: true, force: true });
    })();
    return this.released;
  }
}

/**
 * SIGINT, Ctrl-C's signal, which the demo answers by stopping at once (a SIGTERM would have it
 * drain for its load balancer first), then SIGKILL if it is still there after 3 s.
 */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGINT');
  if (await Promise.race([exited.then(() => true), sleep(3000).then(() => false)])) return;
  log(`the demo did not stop within 3 s of SIGINT; killing it`);
  child.kill('SIGKILL');
  await Promise.race([exited, sleep(1000)]);
}

/** Starts the demo as `npm start` does (`node --import tsx demo-app/server.ts`) and resolves with its bridge's URL. */
async function startDemo(resources: Resources): Promise<string> {
  const stateDir = mkdtempSync(join(tmpdir(), 'heartbeat-screenshots-'));
  resources.stateDir = stateDir;
  // The user's own alert targets, token or Redis must not reach a throwaway demo.
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !USER_SETTINGS.includes(name))),
    PORT: '0',
    WEB_PORT: '0',
    HOST: '127.0.0.1',
    HEARTBEAT_CONFIG: DEMO_CONFIG,
    HEARTBEAT_STATE_DIR: join(stateDir, 'state'),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', DEMO_ENTRY], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  resources.demo = child;
  log(`demo started (pid ${child.pid ?? '?'})`);
  // The last lines only, for the message if it fails: the demo logs for as long as it runs.
  const recent: string[] = [];
  const remember = (chunk: Buffer) => {
    recent.push(...chunk.toString().split('\n').filter(Boolean));
    recent.splice(0, recent.length - 20);
  };
  child.stderr.on('data', remember);
  return new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => {
      reject(new ScreenshotError(`the demo did not listen within ${WAIT_MS / 1000} s; its last lines:\n${recent.join('\n')}`));
    }, WAIT_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new ScreenshotError(`the demo exited (${signal ?? `code ${code}`}) before it listened; its last lines:\n${recent.join('\n')}`),
      );
    });
    let partial = '';
    child.stdout.on('data', (chunk: Buffer) => {
      remember(chunk);
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const match = /"url":"([^"]+)","msg":"Bridge server listening/.exec(line);
        if (match?.[1]) {
          clearTimeout(timer);
          resolveUrl(match[1]);
        }
      }
      if (partial.length > 65_536) partial = '';
    });
  });
}

async function statuses(bridgeUrl: string): Promise<Statuses> {
  const response = await fetch(`${bridgeUrl}/api/health/status`, { signal: AbortSignal.timeout(5000) });
  const body = (await response.json()) as { services: Record<string, { status: string }> };
  return Object.fromEntries(Object.entries(body.services).map(([name, service]) => [name, service.status]));
}

/** Polls the demo's health API until `done` holds; the error names what it last saw. */
async function waitForStatuses(bridgeUrl: string, what: string, done: (seen: Statuses) => boolean): Promise<Statuses> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const seen = await statuses(bridgeUrl);
    if (done(seen)) return seen;
    if (Date.now() > deadline)
      throw new ScreenshotError(`the demo did not reach ${what} within ${WAIT_MS / 1000} s; it shows ${JSON.stringify(seen)}`);
    await sleep(100);
  }
}

async function control(bridgeUrl: string, service: string, action: string): Promise<void> {
  const response = await fetch(`${bridgeUrl}/demo/services/${service}/${action}`, { method: 'POST', signal: AbortSignal.timeout(5000) });
  if (!response.ok)
    throw new ScreenshotError(`POST /demo/services/${service}/${action} answered ${response.status}: ${await response.text()}`);
}

/** The demo's story up to the moment of the screenshots: healthy, one failure that passed, then one service critical. */
async function stageOutage(bridgeUrl: string, services: readonly string[]): Promise<Statuses> {
  const allHealthy = (seen: Statuses) => services.every((name) => seen[name] === 'healthy');
  await waitForStatuses(bridgeUrl, 'every service healthy', allHealthy);
  log('every service healthy');
  await sleep(HEALTHY_FOR_MS);
  await control(bridgeUrl, RECOVERED_SERVICE, 'fail');
  await waitForStatuses(bridgeUrl, `${RECOVERED_SERVICE} recovered`, allHealthy);
  await sleep(HEALTHY_FOR_MS / 2);
  // Stalled, it stops pulsing; crashed, it is critical at once, with the crash as its last error.
  await control(bridgeUrl, CRITICAL_SERVICE, 'stall');
  await control(bridgeUrl, CRITICAL_SERVICE, 'crash');
  await sleep(CRITICAL_FOR_MS);
  const onlyOneCritical = (seen: Statuses) => services.every((name) => seen[name] === (name === CRITICAL_SERVICE ? 'critical' : 'healthy'));
  const seen = await waitForStatuses(bridgeUrl, `${CRITICAL_SERVICE} critical and the others healthy`, onlyOneCritical);
  log(`${CRITICAL_SERVICE} critical for ${CRITICAL_FOR_MS / 1000} s`);
  return seen;
}

/**
 * Runs in the page: reads what a person reads, the banner's text and each heading that
 * names a service, with the first status word of the card around it. Only roles, headings and
 * visible text, none of the page's classes, so that a redesign of the page keeps it working.
 * Plain JavaScript in a string: tsx compiles a function with names inside it into calls of a
 * helper that exists in Node only, and the page would throw on them.
 */
const READ_PAGE = `(arg) => {
  const visible = (node) => node.innerText.replace(/[\\u200b\\u00ad]/g, '').replace(/\\s+/g, ' ').trim();
  // The banner landmark (the page's own header), else its first heading.
  const banner = document.querySelector('body > header, [role="banner"]') || document.querySelector('h1');
  const headings = Array.from(document.querySelectorAll('h1, h2, h3, h4, h5, h6, [role="heading"]'))
    .filter((node) => arg.services.includes(visible(node)));
  const word = new RegExp('\\\\b(' + arg.words.join('|') + ')\\\\b', 'i');
  return {
    banner: banner ? visible(banner) : '',
    cards: headings.map((heading) => {
      const name = visible(heading);
      const card = heading.closest('article, li, section, [role="article"], [role="listitem"], [role="region"]') || heading.parentElement;
      const text = card ? visible(card) : '';
      // After the name: what precedes it (a group's title) is no status of this service.
      const found = word.exec(text.slice(text.indexOf(name) + name.length));
      return { name, status: found ? found[1].toLowerCase() : null };
    }),
  };
}`;

function readPage(page: Page, services: readonly string[]): Promise<PageReading> {
  return page.evaluate<PageReading>(`(${READ_PAGE})(${JSON.stringify({ services, words: STATUS_WORDS })})`);
}

const matches = (reading: PageReading, expected: Statuses): boolean =>
  reading.cards.length === Object.keys(expected).length &&
  reading.cards.every((card) => expected[card.name] === card.status) &&
  reading.banner.includes(CRITICAL_SERVICE);

/**
 * Waits until the page shows `expected` and has held still for {@link STABLE_MS}: the same
 * names, statuses and banner (its clock's digits aside), and no request open but the event stream.
 */
async function waitForDrawn(page: Page, expected: Statuses, openRequests: () => number): Promise<PageReading> {
  const deadline = Date.now() + WAIT_MS;
  let last = '';
  let stableSince = Date.now();
  for (;;) {
    const reading = await readPage(page, Object.keys(expected));
    const key = JSON.stringify(reading).replace(/\d/g, '#');
    if (key !== last || openRequests() > 0 || !matches(reading, expected)) {
      last = key;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= STABLE_MS) {
      return reading;
    }
    if (Date.now() > deadline)
      throw new ScreenshotError(
        `the page did not show ${JSON.stringify(expected)} within ${WAIT_MS / 1000} s; it shows ${JSON.stringify(reading)}`,
      );
    await sleep(100);
  }
}

async function capture(browser: Browser, url: string, shot: Shot, expected: Statuses) {
  const context = await browser.newContext({
    viewport: { width: shot.width, height: shot.height },
    deviceScaleFactor: 1,
    isMobile: shot.phone,
    hasTouch: shot.phone,
    colorScheme: shot.colorScheme,
    reducedMotion: 'reduce',
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  try {
    const page = await context.newPage();
    const open = new Set<unknown>();
    page.on('request', (request) => {
      if (request.resourceType() !== 'eventsource') open.add(request);
    });
    page.on('requestfinished', (request) => open.delete(request));
    page.on('requestfailed', (request) => open.delete(request));
    await page.goto(url, { timeout: WAIT_MS });
    await page.evaluate(() => document.fonts.ready.then(() => undefined));
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const reading = await waitForDrawn(page, expected, () => open.size);
      const png = await page.screenshot({ animations: 'disabled', caret: 'hide', timeout: WAIT_MS });
      // What the picture shows must still be the story: read again once it is taken. On a busy
      // machine a healthy service may miss a beat meanwhile; then the picture is taken again.
      const after = await readPage(page, Object.keys(expected));
      if (matches(after, expected)) return { png, reading };
      if (Date.now() > deadline)
        throw new ScreenshotError(`the page kept changing while ${shot.file} was taken; last: ${JSON.stringify(after)}`);
      log(`the page changed while ${shot.file} was taken (${JSON.stringify(after.cards)}); taking it again`);
    }
  } finally {
    await context.close();
  }
}

async function run(outDir: string, resources: Resources) {
  const services = Object.keys((JSON.parse(readFileSync(DEMO_CONFIG, 'utf8')) as { services: Record<string, unknown> }).services);
  // Chromium first: when it cannot start, nothing else need be.
  const browser = await chromium
    .launch({ executablePath: CHROMIUM, timeout: WAIT_MS, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] })
    .catch((error: unknown) => {
      throw new ScreenshotError(
        `Chromium (${CHROMIUM}) did not start: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
      );
    });
  resources.browser = browser;
  const bridgeUrl = await startDemo(resources);
  log(`demo listening on ${bridgeUrl}, state in ${resources.stateDir ?? '?'}`);
  const expected = await stageOutage(bridgeUrl, services);
  // The three at once, each in a context of its own, at the demo's front door (which redirects
  // to the status page) as a user opens it.
  const shots = await Promise.all(
    SHOTS.map(async (shot) => {
      const { png, reading } = await capture(browser, `${bridgeUrl}/`, shot, expected);
      log(`captured ${shot.file} (${shot.width}×${shot.height}, ${shot.colorScheme})`);
      return { shot, png, reading };
    }),
  );
  mkdirSync(outDir, { recursive: true });
  for (const { shot, png } of shots) writeFileSync(join(outDir, shot.file), png);
  return {
    out: outDir,
    demo: { pid: resources.demo?.pid, config: 'demo-app/fast-config.json', state_dir: resources.stateDir, api: expected },
    shots: shots.map(({ shot, reading }) => ({ ...shot, ...reading })),
  };
}

async function main(): Promise<void> {
  const outDir = outDirFrom(process.argv.slice(2));
  checkPrerequisites();
  const resources = new Resources();
  let deadline: NodeJS.Timeout | undefined;
  try {
    const summary = await Promise.race([
      run(outDir, resources),
      new Promise<never>((_, reject) => {
        deadline = setTimeout(() => {
          reject(new ScreenshotError(`gave up after ${DEADLINE_MS / 1000} s`));
        }, DEADLINE_MS);
      }),
      // Ctrl-C or a SIGTERM ends the run the way an error does: through the release below.
      new Promise<never>((_, reject) => {
        for (const [signal, exitCode] of [
          ['SIGINT', 130],
          ['SIGTERM', 143],
        ] as const) {
          process.once(signal, () => {
            log(`${signal}: stopping the demo and Chromium`);
            reject(new Interrupted(`stopped by ${signal}; no picture written`, exitCode));
          });
        }
      }),
    ]);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    clearTimeout(deadline);
    await resources.release();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(error instanceof ScreenshotError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(error instanceof Interrupted ? error.exitCode : 1);
  },
);
