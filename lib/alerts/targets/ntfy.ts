import { ConfigError } from '../../util/validate';
import type { Alert, AlertStatus, Notifier } from '../alert';
import { postJson } from '../http-post';
import { describeAlert, oneLine, truncate } from './alert-words';
import { checkTargetOptions } from './target-options';

/** What `ntfyNotifier()` takes. */
export interface NtfyOptions {
  /**
   * The topic's full URL, e.g. `https://ntfy.sh/my-topic` or `https://ntfy.example.com/ops`. A
   * secret (on a public server the topic name is the password): it never appears in logs,
   * JSON, metrics or error messages.
   */
  readonly url: string;
  /** An access token (`tk_…`) for a protected topic, sent as `Authorization: Bearer`. A secret. Defaults to none. */
  readonly token?: string;
  /** The target's name in logs and metrics. Defaults to `ntfy`. */
  readonly name?: string;
  /** A URL opened when the notification is tapped, e.g. the status page's. Defaults to none. */
  readonly click?: string;
}

/**
 * ntfy's priorities (1 min … 5 max): a critical service wakes the phone (5, urgent), degraded
 * and flapping buzz (4, high), a warning and a recovery arrive as ordinary notifications (3,
 * default; a recovery after an urgent page is worth seeing), and a service at risk makes no
 * sound (2, low): an early signal, not a page.
 */
const PRIORITY: Record<AlertStatus, 2 | 3 | 4 | 5> = { critical: 5, degraded: 4, flapping: 4, warning: 3, resolved: 3, at_risk: 2 };
/** ntfy's topic names: letters, digits, `-` and `_`, at most 64. */
const TOPIC = /^[-_A-Za-z0-9]{1,64}$/;
/** Longest title sent, in UTF-16 code units. ntfy sets no documented limit; a phone shows far less. */
const TITLE_LIMIT = 250;
/**
 * Longest message sent, in UTF-16 code units. ntfy turns a message over 4,096 bytes into an
 * attachment; a code unit is at most 3 UTF-8 bytes (a surrogate pair, 2 units, is 4), so 1,300
 * units stay under it whatever the script.
 */
const MESSAGE_LIMIT = 1300;
/** Longest tag, in code units: a service name shown as a tag line under the title. */
const TAG_LIMIT = 64;
/** A token goes into a header: visible ASCII only, so it can neither end the header nor add another. */
const HEADER_SAFE = /^[\x21-\x7e]+$/;

/**
 * A notifier that pushes each alert to an ntfy topic, so it reaches phones: the title names the
 * service and what happened (`save_worker is critical`), the message holds the reason, the time
 * and, on recovery, how long it was down; the priority follows the status (5/urgent for
 * critical, 4/high for degraded and flapping, 3/default for a warning and a recovery, 2/low for
 * `at_risk`); the tags are the status's emoji (`rotating_light`, `orange_circle`, `warning`,
 * `white_check_mark`, `repeat`, `hourglass_flowing_sand`) and the service's name. It publishes as JSON to the server's root, so no header
 * carries a service name or a reason. Delivery is the webhook's: 2xx delivered; network
 * errors, 5xx, 408 and 429 retried; redirects not followed.
 *
 * Use it as `{ notifier: ntfyNotifier({ url }) }` in `AlertDispatcher`'s targets. The options are
 * checked here: a `ConfigError` names a bad key without showing the URL or the token.
 */
export function ntfyNotifier(options: NtfyOptions): Notifier {
  const { name, url, given } = checkTargetOptions(
    'ntfy',
    options,
    ['url', 'token', 'name', 'click'],
    'Remove them from the URL and pass an access token in "token".',
  );
  const segments = url.pathname.split('/');
  const topic = segments.pop() ?? '';
  if (!TOPIC.test(topic)) {
    throw new ConfigError(
      `Invalid ntfy target "${name}": "url" does not end in a topic name (letters, digits, "-" and "_", at most 64), as in https://ntfy.sh/my-topic (the value is not shown: ntfy URLs are secrets).`,
      'url',
    );
  }
  // JSON is published to the server's root, any path prefix of a self-hosted server kept, and
  // the query too: ntfy takes credentials there (`?auth=`) from clients that cannot set headers.
  const root = `${url.origin}${segments.join('/')}/${url.search}`;
  const token = given.token;
  if (token !== undefined && (typeof token !== 'string' || !HEADER_SAFE.test(token))) {
    throw new ConfigError(
      `Invalid ntfy target "${name}": "token" is not a non-empty string of visible ASCII characters, e.g. "tk_…" (the value is not shown: tokens are secrets).`,
      'token',
    );
  }
  const click = given.click === undefined ? undefined : readClick(name, given.click);
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  return {
    name,
    send(alert: Alert, { signal }: { signal: AbortSignal }): Promise<void> {
      return postJson(root, ntfyMessage(topic, alert, click), { headers, signal });
    },
  };
}

/** The JSON ntfy publishes (docs.ntfy.sh/publish, "Publish as JSON"). */
function ntfyMessage(topic: string, alert: Alert, click: string | undefined): Record<string, unknown> {
  const words = describeAlert(alert);
  const lines = [words.reason, words.time];
  if (alert.affected?.length) lines.push(`Affected: ${alert.affected.join(', ')}`);
  return {
    topic,
    title: truncate(words.title, TITLE_LIMIT),
    message: truncate(lines.join('\n'), MESSAGE_LIMIT),
    priority: PRIORITY[alert.status],
    tags: [words.shortcode, truncate(oneLine(alert.service), TAG_LIMIT)],
    ...(click === undefined ? {} : { click }),
  };
}

function readClick(name: string, value: unknown): string {
  let parsed: URL | undefined;
  try {
    parsed = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    // Not echoed either: a page's URL may carry a token too.
    throw new ConfigError(
      `Invalid ntfy target "${name}": "click" is not an http(s) URL, e.g. the status page's "https://status.example.com/api/health/ui" (the value is not shown: URLs may be secrets).`,
      'click',
    );
  }
  return parsed.href;
}
