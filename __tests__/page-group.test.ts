// The per-service `group` config key, which the status page sections its cards by: read and
// checked with the config, and carried by the service body and, as config rather than a
// detail, by the summary a caller without details gets.
import express from 'express';
import { Registry } from 'prom-client';
import request from 'supertest';
import { HeartbeatManager } from '../lib/core/manager';
import { resolveConfig, type HeartbeatConfig } from '../lib/core/config';
import { healthRouter } from '../lib/http/router';
import { openStream } from './helpers/sse';

const TOKEN = 'page-group-token-0123456789';
const managers: HeartbeatManager[] = [];
afterEach(() => {
  for (const manager of managers.splice(0)) void manager.close();
});

function appFor(config: HeartbeatConfig, details: 'always' | 'never' = 'always') {
  const manager = new HeartbeatManager({ config: { log_level: 'silent', remote_token: TOKEN, ...config } });
  managers.push(manager);
  return express().use(healthRouter({ manager, registry: new Registry(), details }));
}

describe('services.<tag>.group', () => {
  it('is read as given, and null when not given', () => {
    const resolved = resolveConfig({ services: { a: { group: 'Workers' }, b: {} } });
    expect(resolved.services.a?.group).toBe('Workers');
    expect(resolved.services.b?.group).toBeNull();
    expect(resolveConfig({ services: { a: { group: 'x'.repeat(100) } } }).services.a?.group).toHaveLength(100);
  });

  const EXPECTED = `expected a non-empty string of at most 100 characters naming the status page's section, e.g. "Workers".`;
  it.each([
    ['', '""'],
    ['   ', '"   "'],
    [3, '3'],
    [null, 'null'],
    [['Workers'], 'an array'],
    // A long value is shown cut, with an ellipsis.
    ['x'.repeat(101), `"${'x'.repeat(80)}…"`],
  ])('refuses %j, naming the key and the value', (group, shown) => {
    expect(() => resolveConfig({ services: { a: { group } } })).toThrow(
      `Invalid heartbeat config: "services.a.group" is ${shown}; ${EXPECTED}`,
    );
  });
});

describe('the service body’s group', () => {
  const config: HeartbeatConfig = { services: { save_worker: { interval: 30, group: 'Workers' }, web_listener: { interval: 30 } } };

  it('is the configured group, or null', async () => {
    const app = appFor(config);
    const grouped = await request(app).get('/api/health/service/save_worker');
    expect(grouped.status).toBe(200);
    expect(grouped.body.group).toBe('Workers');
    const ungrouped = await request(app).get('/api/health/service/web_listener');
    expect(ungrouped.body.group).toBeNull();
  });

  it('is in the summary a caller without details gets: it is config, not a detail', async () => {
    const app = appFor(config, 'never');
    const summary = await request(app).get('/api/health/service/save_worker');
    expect(summary.status).toBe(200);
    expect(summary.body).toEqual({ service: 'save_worker', status: 'healthy', paused: false, group: 'Workers', at_risk: false });
    expect((await request(app).get('/api/health/service/web_listener')).body).toEqual({
      service: 'web_listener',
      status: 'healthy',
      paused: false,
      group: null,
      at_risk: false,
    });
  });
});

it('reaches the page in the stream’s summary snapshot too, for a page without details', async () => {
  const app = appFor({ services: { save_worker: { interval: 30, group: 'Workers' }, web_listener: { interval: 30 } } }, 'never');
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const client = await openStream(`http://127.0.0.1:${String((server.address() as { port: number }).port)}/api/health/stream`, {});
  try {
    await client.waitFor(1, 'snapshot');
    const snapshot = JSON.parse(client.events.find((event) => event.event === 'snapshot')?.data ?? '{}') as { services: unknown[] };
    expect(snapshot.services).toEqual([
      { service: 'save_worker', status: 'healthy', paused: false, group: 'Workers', at_risk: false },
      { service: 'web_listener', status: 'healthy', paused: false, group: null, at_risk: false },
    ]);
  } finally {
    client.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
