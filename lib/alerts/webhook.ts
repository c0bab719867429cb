import type { Alert, Notifier } from './alert';
import { checkTargetHeaders, checkTargetUrl, postJson } from './http-post';

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
 * go only to the configured URL, and a 3xx is a failure that is not retried.
 * The answer's body is never read: it is cancelled once the status is known. A URL with
 * credentials (`user:pass@`) is refused: put them in `headers` (`authorization`).
 */
export function webhookNotifier(options: WebhookOptions): Notifier {
  const { url, name = 'webhook' } = options;
  const headers = checkTargetHeaders(`webhook target "${name}"`, options.headers);
  checkTargetUrl(
    'webhook',
    name,
    url,
    'Remove them from the URL and pass them in "headers", e.g. { authorization: "Basic " + base64("user:password") }',
  );
  return {
    name,
    send(alert: Alert, { signal }: { signal: AbortSignal }): Promise<void> {
      return postJson(url, alert, { headers: { 'idempotency-key': alert.id, ...headers }, signal });
    },
  };
}
