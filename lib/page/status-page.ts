import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import { PAGE_SCRIPT } from './script';
import { PAGE_STYLE } from './style';

const hash = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/**
 * Only the page's own inline style and script (by hash) may run, it may connect only to its
 * own origin, and no other site may frame it. Computed once: the page's code never changes.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src ${hash(PAGE_STYLE)}`,
  `script-src ${hash(PAGE_SCRIPT)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * The whole page: inline CSS and JS, no external assets, so it works on an offline bridge.
 * `streamUrl` is the event stream's URL; `serviceUrl`, the prefix each service's history is
 * under (`{serviceUrl}{name}/history`).
 */
export function renderPage(streamUrl: string, serviceUrl: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Service health</title>
<link rel="icon" href="data:,">
<style>${PAGE_STYLE}</style>
</head>
<body data-stream="${escapeAttribute(streamUrl)}" data-services="${escapeAttribute(serviceUrl)}">
<header id="banner" class="banner"><span id="banner-icon" class="icon" aria-hidden="true">\u25CB</span><h1 id="banner-text">Connecting\u2026</h1><span id="banner-time" class="time"></span></header>
<div id="announcer" class="visually-hidden" role="status" aria-live="polite" aria-atomic="true"></div>
<main>
<section id="cards" class="groups" aria-label="Services"></section>
<section id="timeline" class="timeline" aria-labelledby="timeline-title" hidden><h2 id="timeline-title">Recent incidents</h2><p id="timeline-empty" class="timeline-empty">No incidents in the recent history.</p><ol id="incidents" class="incidents"></ol></section>
</main>
<footer><p>Live from the heartbeat event stream. Status words: healthy, warning, degraded, critical.</p><p id="details-note" hidden>This server shows this page status words only: history, uptime, incidents, errors and counters are details it keeps for authorized callers.</p></footer>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

const STREAM_SUFFIX = '/stream';

/**
 * The Express handler for the status page; `streamPath` is the stream's path inside the router,
 * `{basePath}/stream`, so the services' histories are under `{basePath}/service/`.
 */
export function statusPage(streamPath: string) {
  if (!streamPath.endsWith(STREAM_SUFFIX))
    throw new Error(`The status page needs the stream at {basePath}${STREAM_SUFFIX}, not at ${streamPath}.`);
  const servicePath = `${streamPath.slice(0, -STREAM_SUFFIX.length)}/service/`;
  return (req: Request, res: Response): void => {
    res.status(200);
    res.set({
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
    });
    // req.baseUrl is where the app mounted the router, so the page finds its stream and the
    // histories under any prefix.
    res.send(renderPage(`${req.baseUrl}${streamPath}`, `${req.baseUrl}${servicePath}`));
  };
}
