import { createHash } from 'node:crypto';
import express from 'express';
import { Registry } from 'prom-client';
import request from 'supertest';
import { HeartbeatManager } from '../lib/core/manager';
import { renderPage, statusPage } from '../lib/page';
import { healthRouter } from '../lib/http/router';

let manager: HeartbeatManager;
beforeEach(() => {
  manager = new HeartbeatManager({ config: { log_level: 'silent' } });
});
afterEach(() => {
  void manager.close();
});

it('serves one self-contained page under a strict CSP', async () => {
  const app = express().use(healthRouter({ manager, registry: new Registry() }));
  const response = await request(app).get('/api/health/ui');
  expect(response.status).toBe(200);
  expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(response.headers['cache-control']).toBe('no-store');
  expect(response.headers['x-content-type-options']).toBe('nosniff');
  expect(response.headers['x-frame-options']).toBe('DENY');
  const csp = response.headers['content-security-policy'] as string;
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("connect-src 'self'");
  expect(csp).not.toContain('unsafe-inline');
  // The hashes in the header are those of the inline style and script actually served.
  const html = response.text;
  const inline = (tag: string) => html.slice(html.indexOf(`<${tag}>`) + tag.length + 2, html.indexOf(`</${tag}>`));
  const digest = (text: string) => createHash('sha256').update(text).digest('base64');
  expect(csp).toContain(`style-src 'sha256-${digest(inline('style'))}'`);
  expect(csp).toContain(`script-src 'sha256-${digest(inline('script'))}'`);
  // Nothing is fetched from anywhere else: no external scripts, styles, fonts or images.
  expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
  expect(html).toContain('data-stream="/api/health/stream"');
  expect(html).toContain('data-services="/api/health/service/"');
});

it('points the page at its stream under any mount path', async () => {
  const app = express().use('/ops', healthRouter({ manager, registry: new Registry(), uiPath: '/dashboard' }));
  const response = await request(app).get('/ops/dashboard');
  expect(response.status).toBe(200);
  expect(response.text).toContain('data-stream="/ops/api/health/stream"');
  // Each card reads its service's history from beside the stream.
  expect(response.text).toContain('data-services="/ops/api/health/service/"');
});

it('needs the stream at {basePath}/stream, to find the histories beside it', () => {
  expect(() => statusPage('/api/health/events')).toThrow(
    'The status page needs the stream at {basePath}/stream, not at /api/health/events.',
  );
});

it('escapes the URLs it writes into the page', () => {
  expect(renderPage('/x"><script>alert(1)</script>', '/y"><b>')).toContain(
    'data-stream="/x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" data-services="/y&quot;&gt;&lt;b&gt;"',
  );
});
