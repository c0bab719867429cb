import http from 'node:http';
import { setTimeout as realDelay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import type { Alert, Notifier } from '../lib/alerts/alert';
import { AlertDispatcher } from '../lib/alerts/dispatcher';
import { describeAlert, formatDuration, truncate } from '../lib/alerts/targets/alert-words';
import { discordNotifier } from '../lib/alerts/targets/discord';
import { ntfyNotifier } from '../lib/alerts/targets/ntfy';
import { slackNotifier } from '../lib/alerts/targets/slack';
import { teamsNotifier } from '../lib/alerts/targets/teams';
import { HeartbeatManager } from '../lib/core/manager';
import { ConfigError } from '../lib/util/validate';
import { createTestClock, type TestClock } from './helpers/clock';
import { fastDemoConfig, pollUntil, startDemoProcess } from './helpers/demo';
import { captureLogger } from './helpers/logger';
import { closeManagers, trackManager } from './helpers/managers';

// The chat and push targets (issue 19): ntfy, Slack, Microsoft Teams and Discord. Real HTTP
// receivers on loopback stand in for each service and record exactly what it would get; the
// monitor runs on jest's fake timers through the test clock, and deliveries, real HTTP, are
// waited for in real time.

const SECOND = 1000;
/** Every receiver's path holds this, as a real webhook URL holds its key: it must never be logged. */
const URL_SECRET = 'SECRET-PATH-7f3a';
const TOKEN = 'tk_SECRET-TOKEN-9b1c';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

interface Request {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  text: string;
  body: any;
}

/** A real receiver: records each request whole, and answers the statuses of `answers` in turn, then `ok`. */
interface Recorder {
  url: string;
  requests: Request[];
  answers: number[];
  close(): Promise<void>;
}

const recorders: Recorder[] = [];

async function startRecorder(ok: number, path = `/hooks/${URL_SECRET}`): Promise<Recorder> {
  const requests: Request[] = [];
  const answers: number[] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, text, body });
      res.writeHead(answers.shift() ?? ok, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const recorder: Recorder = {
    url: `http://127.0.0.1:${port}${path}`,
    requests,
    answers,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
  recorders.push(recorder);
  return recorder;
}

/** The four targets, each in front of its own recorder answering as the service does. */
async function startTargets(): Promise<{ kind: string; recorder: Recorder; notifier: Notifier }[]> {
  // ntfy answers 200 with the message, Slack 200 "ok", Teams' workflow 202 Accepted, Discord 204.
  const ntfy = await startRecorder(200, `/${URL_SECRET}`);
  const slack = await startRecorder(200);
  const teams = await startRecorder(202);
  const discord = await startRecorder(204);
  return [
    {
      kind: 'ntfy',
      recorder: ntfy,
      notifier: ntfyNotifier({ url: ntfy.url, token: TOKEN, click: 'https://status.example.com/api/health/ui' }),
    },
    { kind: 'slack', recorder: slack, notifier: slackNotifier({ url: slack.url }) },
    { kind: 'teams', recorder: teams, notifier: teamsNotifier({ url: teams.url }) },
    { kind: 'discord', recorder: discord, notifier: discordNotifier({ url: discord.url }) },
  ];
}

let clock: TestClock;
let manager: HeartbeatManager;
let dispatcher: AlertDispatcher;
let registry: Registry;
let logs: ReturnType<typeof captureLogger>;

beforeEach(() => {
  // Promise jobs, nextTick and setImmediate stay real: fetch and the receivers run on them.
  jest.useFakeTimers({ now: Date.parse('2026-11-30T15:00:00Z'), doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  clock = createTestClock();
  logs = captureLogger('info');
  registry = new Registry();
});
afterEach(async () => {
  closeManagers();
  jest.useRealTimers();
  await Promise.all(recorders.splice(0).map((recorder) => recorder.close()));
});

function monitor(targets: Notifier[], options: { attempts?: number; backoffMs?: number } = {}): void {
  manager = trackManager(new HeartbeatManager({ clock, logger: logs.logger, config: { log_level: 'info' } }));
  dispatcher = new AlertDispatcher(manager, {
    targets: targets.map((notifier) => ({ notifier })),
    registry,
    attempts: options.attempts ?? 3,
    backoffMs: options.backoffMs ?? 100,
  });
}

/**
 * Waits until every alert made so far was delivered or given up on, moving the clock past each
 * backoff meanwhile: what the receivers hold then is all they get.
 */
async function delivered(): Promise<void> {
  // The manager reports some changes (a recovery) from its timer, a millisecond on; alerts are made and
  // stamped in promise jobs, and leave their queue from one: let those run first.
  await new Promise((resolve) => setImmediate(resolve));
  clock.advance(1);
  await new Promise((resolve) => setImmediate(resolve));
  for (let waited = 0; dispatcher.pending > 0; waited += 10) {
    if (waited > 10_000) throw new Error(`alerts still pending after 10 s: ${dispatcher.pending}`);
    clock.advance(100);
    await realDelay(10);
  }
}

/** Every string in `value`, however deep. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (typeof value === 'object' && value !== null) return Object.values(value).flatMap(strings);
  return [];
}

/** Asserts what Block Kit requires of the blocks sent, and its limits. */
function expectBlockKit(body: any): void {
  expect(typeof body.text).toBe('string');
  expect(body.text.length).toBeGreaterThan(0);
  expect(body.blocks.length).toBeLessThanOrEqual(50);
  for (const block of body.blocks) {
    if (block.type === 'header') {
      expect(block.text.type).toBe('plain_text');
      expect(block.text.text.length).toBeGreaterThan(0);
      expect(block.text.text.length).toBeLessThanOrEqual(150);
    } else {
      expect(block.type).toBe('section');
      expect(block.text ?? block.fields).toBeDefined();
      if (block.text) {
        expect(block.text.type).toBe('mrkdwn');
        expect(block.text.text.length).toBeGreaterThan(0);
        expect(block.text.text.length).toBeLessThanOrEqual(3000);
      }
      if (block.fields) {
        expect(block.fields.length).toBeLessThanOrEqual(10);
        for (const field of block.fields) {
          expect(field.type).toBe('mrkdwn');
          expect(field.text.length).toBeLessThanOrEqual(2000);
        }
      }
    }
  }
}

/** Asserts what a Teams workflow and the Adaptive Card schema require of the message sent. */
function expectAdaptiveCard(body: any): void {
  expect(body.type).toBe('message');
  expect(body.attachments).toHaveLength(1);
  const [attachment] = body.attachments;
  expect(attachment.contentType).toBe('application/vnd.microsoft.card.adaptive');
  const card = attachment.content;
  expect(card.type).toBe('AdaptiveCard');
  expect(card.$schema).toBe('http://adaptivecards.io/schemas/adaptive-card.json');
  expect(['1.4', '1.5']).toContain(card.version);
  expect(card.body.length).toBeGreaterThan(0);
  for (const element of card.body) {
    // RichTextBlock needs inlines; each TextRun needs its text (the schema's required fields).
    expect(element.type).toBe('RichTextBlock');
    expect(element.inlines.length).toBeGreaterThan(0);
    for (const inline of element.inlines) {
      expect(inline.type).toBe('TextRun');
      expect(typeof inline.text).toBe('string');
      expect(inline.text.length).toBeGreaterThan(0);
    }
  }
  // A Teams message holds about 28 KB.
  expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThan(28 * 1024);
}

interface DiscordEmbed {
  title: string;
  description: string;
  footer: { text: string };
  fields: { name: string; value: string; inline: boolean }[];
}

/** Asserts Discord's limits on the message sent. */
function expectDiscordLimits(body: any): void {
  expect(body.content.length).toBeLessThanOrEqual(2000);
  expect(body.embeds).toHaveLength(1);
  const embed = body.embeds[0] as DiscordEmbed;
  expect(embed.title.length).toBeLessThanOrEqual(256);
  expect(embed.description.length).toBeLessThanOrEqual(4096);
  expect(embed.fields.length).toBeLessThanOrEqual(25);
  let total = embed.title.length + embed.description.length + embed.footer.text.length;
  for (const field of embed.fields) {
    expect(field.name.length).toBeLessThanOrEqual(256);
    expect(field.value.length).toBeGreaterThan(0);
    expect(field.value.length).toBeLessThanOrEqual(1024);
    total += field.name.length + field.value.length;
  }
  // Discord refuses an embed whose texts together pass 6,000 characters.
  expect(total).toBeLessThanOrEqual(6000);
  expect(body.allowed_mentions).toEqual({ parse: [] });
}

describe('what each service receives', () => {
  it('warning, critical, resolved with its down time, then flapping: the same words in each format', async () => {
    const targets = await startTargets();
    monitor(targets.map((target) => target.notifier));
    const worker = manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
    worker.error('disk full');
    await delivered();
    clock.advance(10 * SECOND);
    worker.error('disk full', { critical: true });
    await delivered();
    clock.advance(260 * SECOND); // missed beats meanwhile: still critical, nothing new to say
    worker.pulse();
    await delivered();
    // Three more changes within the flapping window: past the default threshold of 5.
    worker.error('disk full again');
    await delivered();
    worker.pulse();
    await delivered();
    worker.error('and again');
    await delivered();

    const [ntfy, slack, teams, discord] = targets.map((target) => target.recorder.requests);
    for (const requests of [ntfy, slack, teams, discord]) {
      expect(requests?.map((request) => request.method)).toEqual(['POST', 'POST', 'POST', 'POST', 'POST', 'POST']);
      for (const request of requests ?? []) {
        expect(request.headers['content-type']).toBe('application/json');
        expect(request.headers['user-agent']).toBe('express-heartbeat');
      }
    }
    // ntfy: JSON published to the server's root, the topic in the body, the token as a bearer.
    expect(ntfy?.map((request) => request.path)).toEqual(Array(6).fill('/'));
    expect(ntfy?.every((request) => request.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(ntfy?.map((request) => request.body)).toEqual([
      {
        topic: URL_SECRET,
        title: 'save_worker has a warning',
        message: 'error: disk full\n2026-11-30 15:00:00 UTC',
        priority: 3,
        tags: ['warning', 'save_worker'],
        click: 'https://status.example.com/api/health/ui',
      },
      expect.objectContaining({
        title: 'save_worker is critical',
        message: 'critical error: disk full\n2026-11-30 15:00:10 UTC',
        priority: 5,
        tags: ['rotating_light', 'save_worker'],
      }),
      expect.objectContaining({
        title: 'save_worker recovered',
        message: 'pulse received (down for 4m 30s)\n2026-11-30 15:04:30 UTC',
        priority: 3,
        tags: ['white_check_mark', 'save_worker'],
      }),
      expect.objectContaining({ priority: 3 }),
      expect.objectContaining({ priority: 3 }),
      expect.objectContaining({
        title: 'save_worker is flapping',
        message: 'changed status 6 times within 600 s; alerts are held until it is calm for 600 s\n2026-11-30 15:04:30 UTC',
        priority: 4,
        tags: ['repeat', 'save_worker'],
      }),
    ]);

    // Slack: the fallback text and Block Kit, within its limits.
    expect(slack?.every((request) => request.path === `/hooks/${URL_SECRET}`)).toBe(true);
    for (const request of slack ?? []) expectBlockKit(request.body);
    expect(slack?.[1]?.body).toEqual({
      text: '🚨 save_worker is critical: critical error: disk full',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: '🚨 save_worker is critical', emoji: true } },
        { type: 'section', text: { type: 'mrkdwn', text: 'critical error: disk full' } },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Status*\ncritical' },
            { type: 'mrkdwn', text: '*Service*\nsave_worker' },
            { type: 'mrkdwn', text: '*Time*\n2026-11-30 15:00:10 UTC' },
            { type: 'mrkdwn', text: '*Overall*\ncritical' },
          ],
        },
      ],
    });
    expect(slack?.[2]?.body.blocks[2].fields).toContainEqual({ type: 'mrkdwn', text: '*Down for*\n4m 30s' });
    expect(slack?.map((request) => request.body.blocks[0].text.text)).toEqual([
      '⚠️ save_worker has a warning',
      '🚨 save_worker is critical',
      '✅ save_worker recovered',
      '⚠️ save_worker has a warning',
      '✅ save_worker recovered',
      '🔁 save_worker is flapping',
    ]);

    // Teams: one Adaptive Card per message, its title coloured by status.
    for (const request of teams ?? []) expectAdaptiveCard(request.body);
    const titles = teams?.map((request) => request.body.attachments[0].content.body[0].inlines[0]);
    expect(titles?.map((title) => [title.text, title.color])).toEqual([
      ['⚠️ save_worker has a warning', 'Warning'],
      ['🚨 save_worker is critical', 'Attention'],
      ['✅ save_worker recovered', 'Good'],
      ['⚠️ save_worker has a warning', 'Warning'],
      ['✅ save_worker recovered', 'Good'],
      ['🔁 save_worker is flapping', 'Accent'],
    ]);
    const resolvedCard = teams?.[2]?.body.attachments[0].content;
    expect(resolvedCard.body.map((element: any) => element.inlines.map((inline: any) => inline.text).join(''))).toEqual([
      '✅ save_worker recovered',
      'pulse received (down for 4m 30s)',
      'Status: resolved (was critical)',
      'Service: save_worker',
      'Time: 2026-11-30 15:04:30 UTC',
      'Down for: 4m 30s',
      'Overall: healthy',
    ]);

    // Discord: content, one embed coloured by status with the alert's time, no mention parsed.
    for (const request of discord ?? []) expectDiscordLimits(request.body);
    expect(discord?.map((request) => [request.body.embeds[0].title, request.body.embeds[0].color])).toEqual([
      ['save\\_worker has a warning', 0xa86b00],
      ['save\\_worker is critical', 0xc81e1e],
      ['save\\_worker recovered', 0x16813a],
      ['save\\_worker has a warning', 0xa86b00],
      ['save\\_worker recovered', 0x16813a],
      ['save\\_worker is flapping', 0x7c3aed],
    ]);
    expect(discord?.[2]?.body.embeds[0]).toMatchObject({
      timestamp: expect.stringMatching(/^2026-11-30T15:04:30\.\d{3}Z$/),
      fields: expect.arrayContaining([{ name: 'Down for', value: '4m 30s', inline: true }]),
    });
    expect(discord?.[1]?.body.content).toBe('🚨 save\\_worker is critical: critical error: disk full');
  });
});

describe('delivery', () => {
  it('retries a 429 (Slack and Discord rate limits) and a 503 with the same words, and never a 400', async () => {
    const targets = await startTargets();
    for (const { recorder } of targets) recorder.answers.push(429, 503);
    monitor(
      targets.map((target) => target.notifier),
      { attempts: 3 },
    );
    const worker = manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
    worker.error('disk full', { critical: true });
    await delivered();
    for (const { kind, recorder } of targets) {
      expect(recorder.requests).toHaveLength(3);
      expect(new Set(recorder.requests.map((request) => request.text)).size).toBe(1);
      expect(await registry.metrics()).toContain(`heartbeat_alerts_sent_total{target="${kind}"} 1`);
    }

    for (const { recorder } of targets) recorder.answers.push(400);
    worker.pulse();
    await delivered();
    for (const { kind, recorder } of targets) {
      expect(recorder.requests).toHaveLength(4); // the resolved, refused once, not retried
      expect(await registry.metrics()).toContain(`heartbeat_alerts_failed_total{target="${kind}"} 1`);
    }
    expect(logs.lines.filter((line) => line.msg.endsWith('failed: the receiver answered HTTP 400')).map((line) => line.msg)).toEqual([
      'Alert to ntfy failed: the receiver answered HTTP 400',
      'Alert to slack failed: the receiver answered HTTP 400',
      'Alert to teams failed: the receiver answered HTTP 400',
      'Alert to discord failed: the receiver answered HTTP 400',
    ]);
  });

  it('never shows a URL or the ntfy token in logs, metrics or errors, whatever fails', async () => {
    const targets = await startTargets();
    // One more ntfy target whose server is gone: a network error.
    const gone = await startRecorder(200, `/${URL_SECRET}`);
    await gone.close();
    recorders.splice(recorders.indexOf(gone), 1);
    const unreachable = ntfyNotifier({ url: gone.url, token: TOKEN, name: 'ntfy-gone' });
    for (const { recorder } of targets) recorder.answers.push(500, 500, 500);
    monitor([...targets.map((target) => target.notifier), unreachable], { attempts: 3 });
    manager.heartbeat({ tag: 'save_worker', interval: 30 }).start().error('disk full');
    await delivered();
    expect(await registry.metrics()).toContain('heartbeat_alerts_failed_total{target="ntfy-gone"} 1');
    expect(logs.messages()).toContain('Alert to ntfy-gone failed: network error (ECONNREFUSED)');
    expect(logs.messages()).toContain('Alert to slack failed: the receiver answered HTTP 500');
    const everything = JSON.stringify(logs.lines) + (await registry.metrics());
    expect(everything).not.toContain(URL_SECRET);
    expect(everything).not.toContain('SECRET-TOKEN');
    expect(everything).not.toContain('127.0.0.1');
  });
});

describe('names and reasons that try to be markup', () => {
  const NAME = '<b>&@everyone';

  it('cannot format, link or mention in any target', async () => {
    const targets = await startTargets();
    monitor(targets.map((target) => target.notifier));
    manager.heartbeat({ tag: NAME, interval: 30 }).start().error('<!channel> *bold* [x](https://evil.example) <@123>', { critical: true });
    await delivered();
    const [ntfy, slack, teams, discord] = targets.map((target) => target.recorder.requests[0]);

    // ntfy: plain text in a JSON body (Markdown is off unless asked for); no header holds the name.
    expect(ntfy?.body.title).toBe(`${NAME} is critical`);
    expect(ntfy?.body.markdown).toBeUndefined();
    expect(JSON.stringify(ntfy?.headers)).not.toContain('everyone');

    // Slack: every mrkdwn text escaped, so `<!channel>` is no mention and `<b>` no tag; the
    // header is plain_text, which Slack never parses.
    const slackBody = slack?.body;
    const mrkdwn = [slackBody.text, slackBody.blocks[1].text.text, ...slackBody.blocks[2].fields.map((field: any) => field.text)];
    for (const text of mrkdwn) expect(text).not.toMatch(/[<>]|&(?!amp;|lt;|gt;)/);
    expect(slack?.body.text).toBe(
      '🚨 &lt;b&gt;&amp;@everyone is critical: critical error: &lt;!channel&gt; *bold* [x](https://evil.example) &lt;@123&gt;',
    );
    expect(slack?.body.blocks[0].text).toEqual({ type: 'plain_text', text: `🚨 ${NAME} is critical`, emoji: true });

    // Teams: only TextRuns, which Teams shows as written (a TextBlock would read Markdown).
    expectAdaptiveCard(teams?.body);
    expect(teams?.body.attachments[0].content.body[0].inlines[0].text).toBe(`🚨 ${NAME} is critical`);

    // Discord: no mention parsed, Markdown and `<…>` escaped.
    expect(discord?.body.allowed_mentions).toEqual({ parse: [] });
    expect(discord?.body.content).toBe(
      '🚨 \\<b\\>&@everyone is critical: critical error: \\<!channel\\> \\*bold\\* \\[x\\](https://evil.example) \\<@123\\>',
    );
    expect(discord?.body.embeds[0].title).toBe('\\<b\\>&@everyone is critical');
  });

  it('keeps a line break in a reason out of every title and tag', async () => {
    const targets = await startTargets();
    monitor(targets.map((target) => target.notifier));
    manager.heartbeat({ tag: 'line\r\nbreak', interval: 30 }).start().error('first line\nsecond line');
    await delivered();
    const [ntfy, slack, teams, discord] = targets.map((target) => target.recorder.requests[0]?.body);
    expect(ntfy.title).toBe('line break has a warning');
    expect(ntfy.tags).toEqual(['warning', 'line break']);
    expect(ntfy.message).toBe('error: first line\nsecond line\n2026-11-30 15:00:00 UTC');
    expect(slack.blocks[0].text.text).toBe('⚠️ line break has a warning');
    expect(slack.text).toBe('⚠️ line break has a warning: error: first line second line');
    expect(teams.attachments[0].content.body[0].inlines[0].text).toBe('⚠️ line break has a warning');
    expect(discord.embeds[0].title).toBe('line break has a warning');
  });
});

describe('limits', () => {
  /** An alert as the dispatcher makes it, with a name and a reason longer than any service takes. */
  const longAlert = (name: string, reason: string): Alert => ({
    id: '3f1b7c2e-0000-4000-8000-000000000000',
    service: name,
    status: 'critical',
    previous: 'healthy',
    time: '2026-11-30T15:00:00.000Z',
    reason,
    overall_status: 'critical',
    affected: Array.from({ length: 400 }, (_, index) => `dependent_${index}`),
  });

  it.each([
    ['emoji, two code units each', '😀'.repeat(100), '😀'.repeat(5000)],
    ['characters every target escapes', '<&_>'.repeat(50), '<&*>'.repeat(3000)],
  ])('shortens every text to its limit with an ellipsis, surrogate pairs whole: %s', async (_what, name, reason) => {
    const targets = await startTargets();
    const signal = new AbortController().signal;
    for (const { notifier } of targets) await notifier.send(longAlert(name, reason), { signal });
    const [ntfy, slack, teams, discord] = targets.map((target) => target.recorder.requests[0]?.body);
    for (const body of [ntfy, slack, teams, discord]) {
      for (const text of strings(body)) expect(text).not.toMatch(LONE_SURROGATE);
    }

    expect(ntfy.title.length).toBeLessThanOrEqual(250);
    expect(ntfy.message).toMatch(/…$/);
    // Past 4,096 bytes ntfy would turn the message into an attachment.
    expect(Buffer.byteLength(ntfy.message)).toBeLessThanOrEqual(4096);
    expect(ntfy.tags[1].length).toBeLessThanOrEqual(64);
    expect(ntfy.tags[1]).toMatch(/…$/);

    expectBlockKit(slack);
    expect(slack.blocks[1].text.text).toMatch(/…$/);
    expect(slack.blocks[1].text.text.length).toBeGreaterThan(2900); // shortened, not emptied
    expect(slack.blocks[0].text.text).toMatch(/…$/);

    expectAdaptiveCard(teams);

    expectDiscordLimits(discord);
    expect(discord.embeds[0].title.length).toBeLessThanOrEqual(256);
    expect(discord.embeds[0].description).toMatch(/…$/);
    expect(discord.content).toMatch(/…$/);
    if (name.startsWith('<')) {
      // Cut between escapes, never inside one: no dangling "&am" and no escaping backslash left alone before the ellipsis.
      expect(slack.blocks[1].text.text).toMatch(/(&lt;|&amp;|\*|&gt;)…$/);
      expect(discord.embeds[0].description).toMatch(/(\\<|&|\\\*|>)…$/);
    }
  });
});

describe('the words', () => {
  const alert = (extra: Partial<Alert>): Alert => ({
    id: 'x',
    service: 'db',
    status: 'critical',
    previous: 'degraded',
    time: '2026-11-30T15:00:00.000Z',
    reason: 'missed 5 heartbeats',
    overall_status: 'critical',
    ...extra,
  });

  it('says how long in the two largest units', () => {
    expect([0, 0.9, 45, 270, 3600, 11_100, 86_399, 273_600, 90 * 86_400].map(formatDuration)).toEqual([
      '0s',
      '0s',
      '45s',
      '4m 30s',
      '1h',
      '3h 5m',
      '23h 59m',
      '3d 4h',
      '90d',
    ]);
  });

  it('names reminders, degraded services and the services affected', () => {
    const reminder = describeAlert(alert({ reminder: 2, affected: ['api', 'web'] }));
    expect(reminder.title).toBe('db is still critical (reminder 2)');
    expect(reminder.facts).toEqual([
      { label: 'Status', value: 'critical' },
      { label: 'Service', value: 'db' },
      { label: 'Time', value: '2026-11-30 15:00:00 UTC' },
      { label: 'Reminder', value: '2' },
      { label: 'Affected', value: 'api, web' },
      { label: 'Overall', value: 'critical' },
    ]);
    const degraded = describeAlert(alert({ status: 'degraded', previous: 'warning' }));
    expect([degraded.title, degraded.statusWord, degraded.colour, degraded.shortcode]).toEqual([
      'db is degraded',
      'Degraded',
      0xc2410c,
      'orange_circle',
    ]);
  });

  it('cuts only what is over the limit, and never inside a surrogate pair', () => {
    expect(truncate('abc', 3)).toBe('abc');
    expect(truncate('abcd', 3)).toBe('ab…');
    // "a😀b" is 4 code units; at 3 the emoji would be split, so it is left out whole.
    expect(truncate('a😀b', 3)).toBe('a…');
    expect(truncate('a😀b', 4)).toBe('a😀b');
  });
});

describe('options', () => {
  const factories = {
    ntfy: (options: unknown) => ntfyNotifier(options as never),
    slack: (options: unknown) => slackNotifier(options as never),
    teams: (options: unknown) => teamsNotifier(options as never),
    discord: (options: unknown) => discordNotifier(options as never),
  };

  /** The ConfigError `make` throws; the test fails if it throws none. */
  function configError(make: () => unknown): ConfigError {
    try {
      make();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return error as ConfigError;
    }
    throw new Error('no ConfigError was thrown');
  }

  it.each(Object.entries(factories))('%s: names the key, never shows the URL', (kind, make) => {
    const cases: [unknown, string, string][] = [
      [{ url: 'ftp://hooks.example/SECRET-1' }, 'url', `Invalid ${kind} target "${kind}": "url" is not an http(s) URL`],
      [{ url: 'not a url SECRET-2' }, 'url', 'is not an http(s) URL'],
      [{ url: 'https://opsuser:SECRET-3@hooks.example/x' }, 'url', '"url" carries credentials (user:password@), which are not sent.'],
      [{}, 'url', 'is not an http(s) URL'],
      ['https://hooks.example/SECRET-4', '', `Invalid ${kind} target: the options are a string`],
      [null, '', `Invalid ${kind} target: the options are null`],
      [['https://hooks.example/SECRET-5'], '', `Invalid ${kind} target: the options are an array`],
      [
        { url: 'https://hooks.example/x', name: '' },
        'name',
        `Invalid ${kind} target: "name" is ""; expected a non-empty string on one line`,
      ],
      [{ url: 'https://hooks.example/x', name: 'a\nb' }, 'name', '"name" is "a\\nb"'],
      [{ url: 'https://hooks.example/x', headers: {} }, 'headers', 'unknown key "headers"'],
    ];
    for (const [options, key, message] of cases) {
      const error = configError(() => make(options));
      expect(error.key).toBe(key);
      expect(error.message).toContain(message);
      expect(error.message).not.toMatch(/SECRET|hooks\.example|opsuser/);
    }
    expect(make({ url: 'https://hooks.example/x-y_z' }).name).toBe(kind);
    expect(make({ url: 'https://hooks.example/x-y_z', name: 'ops-chat' }).name).toBe('ops-chat');
  });

  it('ntfy: a topic in the URL, a header-safe token and an http(s) click URL, none shown', () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ url: 'https://ntfy.example/' }, 'url', '"url" does not end in a topic name'],
      [{ url: 'https://ntfy.example/SECRET topic' }, 'url', '"url" does not end in a topic name'],
      [{ url: 'https://ntfy.example/ok', token: 'tk_SECRET\r\nX-Evil: 1' }, 'token', '"token" is not a non-empty string of visible ASCII'],
      [{ url: 'https://ntfy.example/ok', token: '' }, 'token', '"token" is not'],
      [{ url: 'https://ntfy.example/ok', click: 'javascript:SECRET' }, 'click', '"click" is not an http(s) URL'],
    ];
    for (const [options, key, message] of cases) {
      const error = configError(() => ntfyNotifier(options as never));
      expect(error.key).toBe(key);
      expect(error.message).toContain(`Invalid ntfy target "ntfy": ${message}`);
      expect(error.message).not.toMatch(/SECRET|ntfy\.example/);
    }
  });

  /** A warning for `w`, sent straight to a notifier. */
  const WARNING: Alert = {
    id: 'x',
    service: 'w',
    status: 'warning',
    previous: 'healthy',
    time: '2026-11-30T15:00:00.000Z',
    reason: 'boom',
    overall_status: 'warning',
  };

  it('ntfy: publishes to the root of a server under a path prefix', async () => {
    const server = await startRecorder(200, `/ntfy/${URL_SECRET}`);
    const signal = new AbortController().signal;
    await ntfyNotifier({ url: server.url }).send(WARNING, { signal });
    expect(server.requests[0]?.path).toBe('/ntfy/');
    expect(server.requests[0]?.body.topic).toBe(URL_SECRET);
    expect(server.requests[0]?.headers.authorization).toBeUndefined();
  });

  it('ntfy: keeps the query of the topic URL, where ntfy takes credentials (?auth=)', async () => {
    const server = await startRecorder(200, `/${URL_SECRET}`);
    const signal = new AbortController().signal;
    await ntfyNotifier({ url: `${server.url}?auth=QmVhcmVyIHRrX1NFQ1JFVA` }).send(WARNING, { signal });
    expect(server.requests[0]?.path).toBe('/?auth=QmVhcmVyIHRrX1NFQ1JFVA');
    expect(server.requests[0]?.body.topic).toBe(URL_SECRET);
  });

  it('a target built by a factory is accepted by the dispatcher as { notifier }', () => {
    manager = trackManager(new HeartbeatManager({ clock, logger: logs.logger, config: { log_level: 'silent' } }));
    expect(
      () =>
        new AlertDispatcher(manager, {
          targets: [{ notifier: slackNotifier({ url: 'https://hooks.slack.com/services/T0/B0/x' }), minLevel: 'critical' }],
          registry,
        }),
    ).not.toThrow();
  });
});

describe('the demo', () => {
  it('pushes to NTFY_URL with NTFY_TOKEN, and logs neither', async () => {
    jest.useRealTimers(); // a child process, on real time
    const ntfy = await startRecorder(200, `/${URL_SECRET}`);
    const demo = await startDemoProcess(fastDemoConfig(0.2), { NTFY_URL: ntfy.url, NTFY_TOKEN: TOKEN });
    try {
      await fetch(`${demo.bridgeUrl}/demo/services/save_worker/stall`, { method: 'POST' });
      // On a loaded machine another 0.2 s service may blink too: follow save_worker only.
      const critical = () => ntfy.requests.find((request) => request.body?.tags?.[1] === 'save_worker' && request.body.priority === 5);
      await pollUntil(critical, (request) => request !== undefined, 15_000);
      expect(critical()?.path).toBe('/');
      expect(critical()?.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(critical()?.body).toMatchObject({
        topic: URL_SECRET,
        title: 'save_worker is critical',
        tags: ['rotating_light', 'save_worker'],
      });
    } finally {
      await demo.stop();
    }
    expect(demo.output()).toContain('Alert sent to ntfy');
    expect(demo.output()).not.toContain(URL_SECRET);
    expect(demo.output()).not.toContain('SECRET-TOKEN');
  }, 30_000);
});
