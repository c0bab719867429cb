// The options every chat and push target shares ({ url, name }), checked at construction the
// same way for each, and never echoing the URL.
import { ConfigError, OptionReader } from '../../util/validate';
import type { Alert, Notifier } from '../alert';
import { checkTargetUrl, postJson } from '../http-post';

/** A target's options, checked: its name and its URL, with all the keys given for the target's own checks. */
export interface CheckedTargetOptions {
  readonly name: string;
  readonly url: URL;
  readonly given: Readonly<Record<string, unknown>>;
}

/**
 * Checks the options of a `kind` target (`ntfy`, `slack`, …): a plain object with only `known`
 * keys, an optional non-empty one-line `name` (default `kind`), and an http(s) `url` without
 * credentials. No message shows the URL or the options themselves: a webhook URL is its own
 * key, and options passed as a bare string are most likely that URL.
 */
export function checkTargetOptions(
  kind: string,
  options: unknown,
  known: readonly string[],
  credentialsHint?: string,
): CheckedTargetOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    const what = options === null ? 'null' : Array.isArray(options) ? 'an array' : `a ${typeof options}`;
    throw new ConfigError(
      `Invalid ${kind} target: the options are ${what} (the value is not shown: it may be a URL, and ${kind} URLs are secrets); expected an object such as { url }.`,
      '',
    );
  }
  const given = new OptionReader(`Invalid ${kind} target`).object('', options, known);
  const name = given.name === undefined ? kind : checkName(kind, given.name);
  const url = checkTargetUrl(kind, name, given.url, credentialsHint);
  return { name, url, given };
}

function checkName(kind: string, name: unknown): string {
  const read: OptionReader = new OptionReader(`Invalid ${kind} target`);
  // eslint-disable-next-line no-control-regex -- a name with a line break would split log lines and chat titles
  if (typeof name !== 'string' || name.length === 0 || /[\u0000-\u001f\u007f]/.test(name)) {
    read.fail('name', name, `a non-empty string on one line, e.g. "ops-${kind}"`);
  }
  return name;
}

/**
 * A notifier for a chat service's incoming webhook, `{ url, name? }`, that POSTs
 * `message(alert)` as JSON: Slack, Teams and Discord differ only in the message.
 */
export function incomingWebhookNotifier(kind: string, options: unknown, message: (alert: Alert) => unknown): Notifier {
  const { name, url } = checkTargetOptions(kind, options, ['url', 'name']);
  const target = url.href;
  return {
    name,
    send(alert: Alert, { signal }: { signal: AbortSignal }): Promise<void> {
      return postJson(target, message(alert), { signal });
    },
  };
}
