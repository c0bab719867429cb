import express from 'express';
import express4 from 'express4';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { Registry } from 'prom-client';
import request from 'supertest';
import { healthRouter } from '../lib/http/router';
import { createApp } from './helpers/app';
import { useManagerTimers } from './helpers/managers';
import { describeErrors } from './helpers/openapi';
import draftSchema from './fixtures/health-check-response.schema.json';

/**
 * GET {basePath} in draft-inadarei-api-health-check-06's format: every answer is validated
 * against a JSON schema written from the draft's text (__tests__/fixtures), besides openapi.yaml.
 */

const TOKEN = 'health-json-token-0123456789';
const HEALTH_JSON = 'application/health+json; charset=utf-8';
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
const validateDraft = ajv.compile(draftSchema);

interface Check {
  componentId: string;
  componentType: string;
  status: string;
  observedValue?: number | null;
  observedUnit?: string;
  time?: string;
  output?: string;
  paused?: boolean;
  links: Record<string, string>;
}
interface Body {
  status: string;
  description: string;
  output?: string;
  checks: Record<string, [Check]>;
  links: Record<string, string>;
}

/** GETs the health+json answer, checks it is one the draft allows, and gives its body. */
async function healthJson(
  app: Parameters<typeof request>[0],
  expected: number,
  headers: Record<string, string> = {},
  path = '/api/health',
): Promise<{ body: Body; response: request.Response }> {
  const response = await request(app).get(path).set(headers);
  expect([path, response.status]).toEqual([path, expected]);
  const body = JSON.parse(response.text) as Body;
  expect([validateDraft(body), describeErrors(validateDraft.errors)]).toEqual([true, '']);
  // The draft ties the HTTP status to the status field: 2xx for pass and warn, 4xx-5xx for fail.
  expect(body.status === 'fail').toBe(response.status >= 400);
  expect(response.headers['cache-control']).toBe('no-store');
  expect(response.headers.vary).toBe('Accept');
  return { body, response };
}

/** The one entry of a check, which must be there. */
function only(body: Body, key: string): Check {
  const entries = body.checks[key];
  if (entries?.length !== 1) throw new Error(`No single check ${key} in ${JSON.stringify(body)}`);
  return entries[0];
}

useManagerTimers({ doNotFake: ['nextTick', 'setImmediate'] });

describe('the answer', () => {
  it('says pass with one check per service, its age in seconds read at the time of the answer, and links to the endpoints', async () => {
    const { app, manager, clock } = createApp({ services: { idle_job: { interval: 60 } } });
    const worker = manager.heartbeat({ tag: 'save_worker', interval: 30 }).start();
    clock.advance(12_345);
    const { body, response } = await healthJson(app, 200);
    expect(response.headers['content-type']).toBe(HEALTH_JSON);
    expect(body).toEqual({
      status: 'pass',
      description: expect.any(String) as string,
      checks: {
        'save_worker:heartbeat': [
          {
            componentId: 'save_worker',
            componentType: 'component',
            status: 'pass',
            observedValue: 12.345,
            observedUnit: 's',
            time: new Date(clock.wallNow()).toISOString(),
            links: { about: '/api/health/service/save_worker' },
          },
        ],
        // Configured, never started: no heartbeat yet, so no age.
        'idle_job:heartbeat': [
          {
            componentId: 'idle_job',
            componentType: 'component',
            status: 'pass',
            observedValue: null,
            observedUnit: 's',
            time: new Date(clock.wallNow()).toISOString(),
            links: { about: '/api/health/service/idle_job' },
          },
        ],
      },
      links: { self: '/api/health', status: '/api/health/status', about: '/api/health/ui' },
    });
    // The heartbeat itself was observedValue seconds before the reading.
    expect(Date.parse(manager.service('save_worker')?.last_heartbeat as string)).toBe(clock.wallNow() - 12_345);
    worker.pulse();
    expect(only((await healthJson(app, 200)).body, 'save_worker:heartbeat').observedValue).toBe(0);
  });

  it.each<[string, string, number]>([
    ['warning', 'warn', 200],
    ['degraded', 'warn', 200],
    ['critical', 'fail', 503],
  ])('maps a critical service that is %s, and the answer, to %s with %d', async (word, status, code) => {
    const { app, manager, clock } = createApp();
    const worker = manager.heartbeat({ tag: 'core', interval: 1 }).start();
    // One missed beat is a warning, three degraded, five critical (timeout_multiplier 3, critical_after 5).
    clock.advance({ warning: 1500, degraded: 4500, critical: 6500 }[word] as number);
    expect(manager.service('core')?.status).toBe(word);
    const { body } = await healthJson(app, code);
    expect([body.status, only(body, 'core:heartbeat').status]).toEqual([status, status]);
    // Why, in the draft's output: the beats it missed.
    expect(only(body, 'core:heartbeat').output).toMatch(/^no heartbeat for [\d.]+ s \(interval 1 s, \d+ missed\)$/);
    worker.pulse();
    const healthy = await healthJson(app, 200);
    expect(only(healthy.body, 'core:heartbeat')).not.toHaveProperty('output'); // the draft: omitted for pass
  });

  it("gives an error reported since the last pulse as the check's output, and counts a non-critical service at most as warn, as /status does", async () => {
    const { app, manager } = createApp();
    manager.heartbeat({ tag: 'core', interval: 30 }).start();
    const optional = manager.heartbeat({ tag: 'optional', interval: 30, critical: false }).start();
    optional.error('disk full', { critical: true });
    const { body } = await healthJson(app, 200);
    expect(body.status).toBe('warn');
    expect(only(body, 'optional:heartbeat')).toMatchObject({ status: 'fail', output: 'disk full' });
    expect(only(body, 'core:heartbeat').status).toBe('pass');
  });

  it('counts a paused service out of the status, and marks its check paused', async () => {
    const { app, manager } = createApp();
    manager.heartbeat({ tag: 'core', interval: 30 }).start().error('down', { critical: true });
    expect((await healthJson(app, 503)).body.status).toBe('fail');
    manager.pause('core', { reason: 'deploy' });
    const { body } = await healthJson(app, 200);
    expect(body.status).toBe('pass');
    expect(only(body, 'core:heartbeat')).toMatchObject({ status: 'fail', paused: true, output: 'down' });
  });

  it('says fail with 503 and why while heartbeats are disabled', async () => {
    const { app } = createApp({ enabled: false });
    const { body } = await healthJson(app, 503);
    expect(body).toMatchObject({ status: 'fail', checks: {}, output: expect.stringContaining('disabled') as string });
  });

  it('keys a name with a colon or a percent sign by its percent-encoding, as the draft splits keys at colons', async () => {
    const { app, manager } = createApp();
    manager.heartbeat({ tag: 'db:primary 100%', interval: 30 }).start();
    const { body } = await healthJson(app, 200);
    expect(Object.keys(body.checks)).toEqual(['db%3Aprimary 100%25:heartbeat']);
    expect(only(body, 'db%3Aprimary 100%25:heartbeat')).toMatchObject({
      componentId: 'db:primary 100%',
      links: { about: '/api/health/service/db%3Aprimary%20100%25' },
    });
  });

  it('links under the prefix where the app mounted the router, without the page when there is none', async () => {
    const { manager } = createApp();
    manager.heartbeat({ tag: 'w', interval: 30 }).start();
    const app = express();
    app.use('/ops', healthRouter({ manager, registry: new Registry(), basePath: '/health', ui: false }));
    const { body } = await healthJson(app, 200, {}, '/ops/health');
    expect(body.links).toEqual({ self: '/ops/health', status: '/ops/health/status' });
    expect(only(body, 'w:heartbeat').links.about).toBe('/ops/health/service/w');
  });
});

it("the draft's schema refuses what the draft forbids, so the checks above can fail", () => {
  const pass = { status: 'pass' };
  expect(validateDraft(pass)).toBe(true);
  for (const body of [
    {},
    { status: 'green' },
    { ...pass, checks: { 'db:primary:heartbeat': [{ status: 'pass' }] } },
    { ...pass, checks: { 'db:heartbeat': { status: 'pass' } } },
    { ...pass, checks: { 'db:heartbeat': [{ time: 'yesterday' }] } },
    { ...pass, links: { self: 'not a uri' } },
  ]) {
    expect([body, validateDraft(body)]).toEqual([body, false]);
  }
});

describe('who sees what', () => {
  it.each<[string, 'when-authorized' | 'never', Record<string, string>]>([
    ['when-authorized without the token', 'when-authorized', {}],
    ['when-authorized with a wrong token', 'when-authorized', { Authorization: 'Bearer wrong-token-0123456789' }],
    ['never, even with the token', 'never', { Authorization: `Bearer ${TOKEN}` }],
  ])('%s: status words only, no age, time or output', async (_label, details, headers) => {
    const { app, manager } = createApp({ remote_token: TOKEN }, { details });
    manager.heartbeat({ tag: 'core', interval: 30 }).start().error('secret path /var/lib/db', { critical: true });
    const { body, response } = await healthJson(app, 503, headers);
    expect(body.checks['core:heartbeat']).toEqual([
      { componentId: 'core', componentType: 'component', status: 'fail', links: { about: '/api/health/service/core' } },
    ]);
    expect(response.text).not.toContain('secret');
  });

  it('when-authorized with the token: everything', async () => {
    const { app, manager } = createApp({ remote_token: TOKEN }, { details: 'when-authorized' });
    manager.heartbeat({ tag: 'core', interval: 30 }).start().error('disk full', { critical: true });
    const { body } = await healthJson(app, 503, { Authorization: `Bearer ${TOKEN}` });
    expect(only(body, 'core:heartbeat')).toMatchObject({ output: 'disk full', observedUnit: 's', time: expect.any(String) as string });
  });
});

describe('content negotiation', () => {
  it.each<[string, Record<string, string>, string]>([
    ['no Accept', {}, HEALTH_JSON],
    ['*/*', { Accept: '*/*' }, HEALTH_JSON],
    ['a browser', { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' }, HEALTH_JSON],
    ['application/health+json', { Accept: 'application/health+json' }, HEALTH_JSON],
    ['application/*', { Accept: 'application/*' }, HEALTH_JSON],
    ['application/json', { Accept: 'application/json' }, 'application/json; charset=utf-8'],
    ['application/json first', { Accept: 'application/json, application/health+json;q=0.5' }, 'application/json; charset=utf-8'],
  ])('answers %s in the type it takes', async (_label, headers, type) => {
    const { app, manager } = createApp();
    manager.heartbeat({ tag: 'core', interval: 30 }).start();
    const { response } = await healthJson(app, 200, headers);
    expect(response.headers['content-type']).toBe(type);
  });

  it.each([['text/html'], ['application/health+json;q=0, text/plain'], ['image/svg+xml']])(
    'answers Accept: %s with a JSON 406 naming the types it serves',
    async (accept) => {
      const { app } = createApp();
      const response = await request(app).get('/api/health').set('Accept', accept);
      expect([response.status, response.headers['content-type'], response.headers.vary, response.body]).toEqual([
        406,
        'application/json; charset=utf-8',
        'Accept',
        {
          error: 'This endpoint answers application/health+json or application/json, and the Accept header takes neither.',
          acceptable: ['application/health+json', 'application/json'],
        },
      ]);
    },
  );

  it('answers HEAD without a body, another method with 405, and the base path with a slash with the list of endpoints', async () => {
    const { app } = createApp();
    const head = await request(app).head('/api/health');
    expect([head.status, head.headers['content-type'], head.text]).toEqual([200, HEALTH_JSON, undefined]);
    const post = await request(app).post('/api/health');
    expect([post.status, post.headers.allow, post.body.path]).toEqual([405, 'GET, HEAD', '/api/health']);
    for (const method of ['get', 'post'] as const) {
      const slash = await request(app)[method]('/api/health/');
      expect([method, slash.status, slash.body.endpoints]).toEqual([
        method,
        404,
        expect.arrayContaining(['/api/health', '/api/health/status']),
      ]);
    }
  });
});

it('answers on Express 4 alike', async () => {
  jest.useRealTimers();
  const { manager } = createApp();
  manager.heartbeat({ tag: 'flask_bridge', interval: 15 }).start();
  const app = express4();
  app.use(healthRouter({ manager, registry: new Registry() }));
  const { body, response } = await healthJson(app, 200);
  expect([response.headers['content-type'], only(body, 'flask_bridge:heartbeat').status]).toEqual([HEALTH_JSON, 'pass']);
  const json = await request(app).get('/api/health').set('Accept', 'application/json');
  expect(json.headers['content-type']).toBe('application/json; charset=utf-8');
  expect((await request(app).get('/api/health').set('Accept', 'text/html')).status).toBe(406);
  expect((await request(app).get('/api/health/')).status).toBe(404);
  expect((await request(app).put('/api/health')).status).toBe(405);
});
