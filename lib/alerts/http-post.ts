import { ConfigError } from '../util/validate';
import { DeliveryError } from './alert';

/** What one POST to an alert receiver carries. */
export interface PostRequest {
  /** The request body, already encoded. */
  readonly body: string;
  /** Its media type, e.g. `application/json`. */
  readonly contentType: string;
  /** Further request headers; they win over `content-type` and `user-agent`. Defaults to none. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Aborts the request: the delivery queue's timeout, or shutdown. */
  readonly signal: AbortSignal;
}

/**
 * POSTs `body` to `url` once, for the targets that speak HTTP (webhook, ntfy, Slack, Teams,
 * Discord, Alertmanager), so that they all share one reading of the answer. Resolves on a 2xx.
 * Rejects with a {@link DeliveryError}: retryable on network errors, 5xx, 408 and 429; not on
 * other 4xx, which the same request would get again, nor on a 3xx, which is not followed (the
 * body and headers go only to the configured URL). The answer's body is cancelled unread, and
 * no message names the URL: receiver URLs are secrets.
 */
export async function postToReceiver(url: string, request: PostRequest): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': request.contentType, 'user-agent': 'express-heartbeat', ...request.headers },
      body: request.body,
      signal: request.signal,
      // A redirect would carry the alert and the headers (an API key, say) to another origin.
      redirect: 'manual',
    });
  } catch (error) {
    throw new DeliveryError(describeNetworkError(error), true);
  }
  // Only the status counts. The body is cancelled unread: a receiver that answers 2xx and then
  // stalls or streams its body forever cannot turn a delivery into a timeout and a duplicate,
  // nor fill memory.
  await response.body?.cancel().catch(() => undefined);
  if (response.ok) return;
  if (response.status >= 300 && response.status < 400) {
    throw new DeliveryError(
      `the receiver answered HTTP ${response.status}, a redirect: not followed, alerts go only to the configured URL`,
      false,
    );
  }
  // 429 included: Slack and Discord rate limits pass, and the queue's backoff waits them out.
  const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
  throw new DeliveryError(`the receiver answered HTTP ${response.status}`, retryable);
}

/** {@link postToReceiver} with `value` as the JSON body. */
export function postJson(
  url: string,
  value: unknown,
  options: { readonly headers?: Readonly<Record<string, string>>; readonly signal: AbortSignal },
): Promise<void> {
  return postToReceiver(url, { body: JSON.stringify(value), contentType: 'application/json', ...options });
}

/**
 * Checks a target's URL at construction: http or https, no `user:password@` (fetch refuses
 * such a URL on every request, so it would never deliver). The messages never show the URL:
 * receiver URLs carry their credentials (a Slack or Discord webhook URL is its own key).
 * `credentialsHint` says where the credentials go instead.
 */
export function checkTargetUrl(kind: string, name: string, url: unknown, credentialsHint = 'Remove them from the URL.'): URL {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new ConfigError(
      `Invalid ${kind} target "${name}": "url" is not an http(s) URL (the value is not shown: ${kind} URLs are secrets).`,
      'url',
    );
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new ConfigError(
      `Invalid ${kind} target "${name}": "url" carries credentials (user:password@), which are not sent. ${credentialsHint} (the value is not shown: ${kind} URLs are secrets).`,
      'url',
    );
  }
  return parsed;
}

/**
 * Checks a target's extra request headers at construction: each a string, with a name fetch
 * takes (a token) and a value on one line. Else fetch refuses every POST, which reads as a
 * network error retried for ever. The messages never show a value: headers carry credentials.
 */
export function checkTargetHeaders(target: string, given: unknown): Record<string, string> {
  if (given === undefined) return {};
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new ConfigError(
      `Invalid ${target}: "headers" is not an object of header names and values, e.g. { authorization: "Bearer …" }.`,
      'headers',
    );
  }
  for (const [key, value] of Object.entries(given)) {
    if (typeof value !== 'string') {
      throw new ConfigError(
        `Invalid ${target}: "headers.${key}" is not a string; expected a string header value (the value is not shown: headers carry credentials).`,
        `headers.${key}`,
      );
    }
    if (!isValidHeader(key, value)) {
      throw new ConfigError(
        `Invalid ${target}: "headers.${key}" is not a valid HTTP header: the name must be a token (letters, digits, !#$%&'*+-.^_\`|~, no spaces) and the value on one line (the value is not shown: headers carry credentials).`,
        `headers.${key}`,
      );
    }
  }
  return given as Record<string, string>;
}

function isValidHeader(name: string, value: string): boolean {
  try {
    new Headers([[name, value]]);
    return true;
  } catch {
    return false;
  }
}

/** The system error behind a fetch failure, without the URL. */
function describeNetworkError(error: unknown): string {
  const name = (error as { name?: string } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return 'timed out';
  const code = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof code === 'string' ? `network error (${code})` : 'network error';
}
