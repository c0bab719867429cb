// The demo's logs: readable lines on a terminal, JSON lines everywhere else, and no secrets in
// either. Copy this file with the demo: a request log that keeps `authorization` or a
// `?token=` leaks the heartbeat token into whatever collects the logs.
import type { IncomingMessage } from 'node:http';
import pino, { type DestinationStream, type Logger } from 'pino';
import pinoHttp, { type HttpLogger } from 'pino-http';
import pinoPretty from 'pino-pretty';

const REDACTED = '[Redacted]';

/** Headers that carry credentials: the bearer token, session cookies. */
const SECRET_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'x-api-key'];

/** Query parameter names that usually carry a credential: `token`, `access_token`, `api_key`, `secret`, … */
const SECRET_QUERY_NAME = /token|secret|passw(or)?d|pwd|api[-_]?key|auth|signature|sig$|session|jwt|credential/i;

/**
 * A logger of the demo named `name`. `stream` defaults to stdout: pretty when it is a terminal
 * (pino-pretty), JSON lines otherwise, so a log collector gets JSON and a person gets text.
 */
export function demoLogger(name: string, stream: DestinationStream & { isTTY?: boolean } = process.stdout): Logger {
  const options = {
    name,
    // The request log's headers, and the response's cookies: pino replaces these paths
    // wherever they appear, whichever logger the line comes from.
    redact: {
      paths: [...SECRET_HEADERS.map((name) => `req.headers["${name}"]`), 'res.headers["set-cookie"]'],
      censor: REDACTED,
    },
  };
  return pino(options, stream.isTTY ? pinoPretty({ destination: 1, sync: true, colorize: true }) : stream);
}

/** pino-http for the demo's listeners: secrets removed from headers and from the URL's query. */
export function requestLogger(logger: Logger, ignore: (req: IncomingMessage) => boolean): HttpLogger {
  return pinoHttp({
    logger,
    autoLogging: { ignore },
    serializers: {
      req(req: { url?: string; query?: Record<string, unknown> }) {
        if (req.url?.includes('?')) req.url = redactQuery(req.url);
        if (req.query) req.query = redactQueryObject(req.query);
        return req;
      },
    },
  });
}

/** `/x?token=abc&n=1` → `/x?token=[Redacted]&n=1`; keeps the rest of the URL as it came. */
export function redactQuery(url: string): string {
  const at = url.indexOf('?');
  const query = url
    .slice(at + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      const name = equals === -1 ? pair : pair.slice(0, equals);
      return equals !== -1 && SECRET_QUERY_NAME.test(safeDecode(name)) ? `${name}=${REDACTED}` : pair;
    })
    .join('&');
  return `${url.slice(0, at)}?${query}`;
}

function redactQueryObject(query: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(query)) copy[name] = SECRET_QUERY_NAME.test(name) ? REDACTED : value;
  return copy;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}
