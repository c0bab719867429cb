import { ConfigError } from '../util/validate';
import { DeliveryError, type Alert, type Notifier } from './alert';

/** What `webhookNotifier()` takes. */
export interface WebhookOptions {
  /** Where to POST the alert JSON. A secret: it never appears in logs, JSON or metrics. */
  readonly url: string;
  /** The target's name in logs and metrics. Defaults to `webhook`. */
  readonly name?: string;
  /** Extra request headers, e.g. an authorization header the receiver wants. Defaults to none. */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * A notifier that POSTs each alert as JSON, with the alert id as `Idempotency-Key`. A 2xx
 * answer is delivery; network errors, 5xx, 408 and 429 are retried; other 4xx are not, since
 * the same request would be refused again. Redirects are not followed: the body and headers
 * go only to the configured URL, and a 3xx is a failure that is not retried. At most
 * The answer's body is never read: it is cancelled once the status is known. A URL with
 * credentials (`user:pass@`) is refused: put them in `headers` (`authorization`).
 */
export function webhookNotifier(options: WebhookOptions): Notifier {
  const { url, name = 'webhook', headers = {} } = options;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    // The URL is not echoed: webhook URLs carry their credentials.
    throw new ConfigError(
      `Invalid webhook target "${name}": "url" is not an http(s) URL (the value is not shown: webhook URLs are secrets).`,
      'url',
    );
  }
  if (parsed.username !== '' || parsed.password !== '') {
    // fetch refuses such a URL on every request, so it would never deliver.
    throw new ConfigError(
      `Invalid webhook target "${name}": "url" carries credentials (user:password@), which are not sent. Remove them from the URL and pass them in "headers", e.g. { authorization: "Basic " + base64("user:password") } (the value is not shown: webhook URLs are secrets).`,
      'url',
    );
  }
  return {
    name,
    async send(alert: Alert, { signal }: { signal: AbortSignal }): Promise<void> {
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'express-heartbeat', 'idempotency-key': alert.id, ...headers },
          body: JSON.stringify(alert),
          signal,
          // A redirect would carry the alert and the headers (an API key, say) to another origin.
          redirect: 'manual',
        });
      } catch (error) {
        throw new DeliveryError(describeNetworkError(error), true);
      }
      // Only the status counts. The body is cancelled unread: a receiver that answers 2xx and
      // then stalls or streams its body forever cannot turn a delivery into a timeout and a
      // duplicate, nor fill memory.
      await response.body?.cancel().catch(() => undefined);
      if (response.ok) return;
      if (response.status >= 300 && response.status < 400) {
        throw new DeliveryError(
          `the receiver answered HTTP ${response.status}, a redirect: not followed, alerts go only to the configured URL`,
          false,
        );
      }
      const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
      throw new DeliveryError(`the receiver answered HTTP ${response.status}`, retryable);
    },
  };
}

/** The system error behind a fetch failure, without the URL. */
function describeNetworkError(error: unknown): string {
  const name = (error as { name?: string } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return 'timed out';
  const code = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof code === 'string' ? `network error (${code})` : 'network error';
}
