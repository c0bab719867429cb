import { MIN_TOKEN_LENGTH } from '../core/config';
import { MAX_TIMER_DELAY_MS } from '../util/timers';
import { ConfigError, type OptionReader } from '../util/validate';

/**
 * Limits of the event streams (Server-Sent Events and the WebSocket alike), as
 * `healthRouter({ stream })` takes them. Every key is optional.
 */
export interface StreamOptions {
  /** Most streams open at once, SSE and WebSocket together; more get 503. Defaults to `100`. */
  readonly maxClients?: number;
  /**
   * Most streams open at once from one client address, SSE and WebSocket together, so one
   * client cannot take every place; more get 429. The address is `req.ip`, which follows the
   * app's `trust proxy` setting (for the WebSocket too, on a server of the app). Defaults to `10`.
   */
  readonly maxClientsPerAddress?: number;
  /** Bytes a client may leave unread before it is dropped. Defaults to 256 KiB. */
  readonly maxBufferedBytes?: number;
  /** Milliseconds between keep-alive comments (SSE) and pings (WebSocket). Defaults to 15 s. */
  readonly keepAliveMs?: number;
  /** Milliseconds between pulse batches: each service appears at most once per batch. Defaults to 250. */
  readonly pulseBatchMs?: number;
  /**
   * Origins besides the server's own whose pages may open a stream, exact, such as
   * `https://ops.example.com` (scheme, host and port if not the default; no path). A request
   * with an `Origin` header naming any other gets 403; a request without one (curl, a
   * service's client) is not concerned. Defaults to none.
   */
  readonly allowedOrigins?: readonly string[];
}

/** The limits every stream starts from. */
export const STREAM_DEFAULTS = {
  maxClients: 100,
  maxClientsPerAddress: 10,
  maxBufferedBytes: 256 * 1024,
  keepAliveMs: 15_000,
  pulseBatchMs: 250,
} as const;

/** The stream's limits with every default filled in, origins in their serialized form. */
export type StreamSettings = { readonly [K in keyof typeof STREAM_DEFAULTS]: number } & { readonly allowedOrigins: readonly string[] };

const STREAM_KEYS = [...Object.keys(STREAM_DEFAULTS), 'allowedOrigins'];

/** `healthRouter({ stream })` read and checked: every key named in an error, with its value. */
export function readStreamOptions(read: OptionReader, value: unknown): StreamSettings {
  if (value === undefined || value === true) return { ...STREAM_DEFAULTS, allowedOrigins: [] };
  const given = read.object('stream', value, STREAM_KEYS);
  const settings: Record<string, number> = { ...STREAM_DEFAULTS };
  for (const key of Object.keys(STREAM_DEFAULTS)) {
    if (given[key] === undefined) continue;
    const number = read.integer(`stream.${key}`, given[key], 1, '');
    // Past 24.8 days Node's timers overflow and fire after 1 ms: the batch timer would spin.
    if (key.endsWith('Ms') && number > MAX_TIMER_DELAY_MS) {
      read.fail(
        `stream.${key}`,
        number,
        `at most ${MAX_TIMER_DELAY_MS} milliseconds (about 24.8 days, the longest wait Node's timers take)`,
      );
    }
    settings[key] = number;
  }
  const allowedOrigins = given.allowedOrigins === undefined ? [] : readOrigins(read, given.allowedOrigins);
  return { ...(settings as { [K in keyof typeof STREAM_DEFAULTS]: number }), allowedOrigins };
}

/** Scheme, host and optional port, nothing after: what a browser sends in `Origin`. */
const ORIGIN_SHAPE = /^https?:\/\/[^/?#@\s]+$/i;

function readOrigins(read: OptionReader, value: unknown): string[] {
  if (!Array.isArray(value)) read.fail('stream.allowedOrigins', value, 'an array of origins such as ["https://ops.example.com"]');
  return (value as unknown[]).map((origin, index) => {
    const key = `stream.allowedOrigins[${String(index)}]`;
    const expected = 'an origin such as "https://ops.example.com": http or https, a host and an optional port, no path or trailing slash';
    if (typeof origin !== 'string' || !ORIGIN_SHAPE.test(origin)) read.fail(key, origin, expected);
    try {
      // The serialized form browsers send: lowercase host, no default port.
      return new URL(origin).origin;
    } catch {
      return read.fail(key, origin, expected);
    }
  });
}

/** The WebSocket stream's settings, as `healthRouter({ webSocket })` takes them. Every key is optional. */
export interface WebSocketOptions {
  /**
   * A bearer token every WebSocket client must send (`Authorization: Bearer <token>` on the
   * upgrade request), for clients that can send headers; others get 401. The config's
   * `remote_token` is accepted too. At least 16 printable ASCII characters. Defaults to none.
   */
  readonly token?: string;
}

/** `healthRouter({ webSocket })` read and checked; `null` when it is off. */
export function readWebSocketOptions(read: OptionReader, value: unknown, streamOn: boolean): { token: string | null } | null {
  if (value === false || (value === undefined && !streamOn)) return null;
  if (!streamOn) read.fail('webSocket', value, 'false when the stream is off (the WebSocket carries the same events)');
  if (value === undefined || value === true) return { token: null };
  const given = read.object('webSocket', value, ['token']);
  if (given.token === undefined) return { token: null };
  const problem = tokenProblem(given.token);
  // Never echo a token, not even a bad one: it may be a real secret with a typo.
  if (problem) {
    throw new ConfigError(
      `${read.context}: "webSocket.token" is not valid: ${problem}; expected at least ${MIN_TOKEN_LENGTH} printable ASCII characters (! to ~, no spaces), e.g. from \`openssl rand -hex 32\`.`,
      'webSocket.token',
    );
  }
  return { token: given.token as string };
}

/** What is wrong with a token, said without any of its characters. */
function tokenProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'it is not a string';
  if (!/^[\x21-\x7E]*$/.test(value)) return 'it holds a character other than printable ASCII';
  if (value.length < MIN_TOKEN_LENGTH) return `it is shorter than ${String(MIN_TOKEN_LENGTH)} characters`;
  return undefined;
}
