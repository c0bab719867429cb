import type { Alert, Notifier } from '../alert';
import { describeAlert, fitEscaped, truncate } from './alert-words';
import { incomingWebhookNotifier } from './target-options';

/** What `slackNotifier()` takes. */
export interface SlackOptions {
  /**
   * The incoming webhook's URL (`https://hooks.slack.com/services/…`). A secret: anyone holding
   * it can post to the channel; it never appears in logs, JSON, metrics or error messages.
   */
  readonly url: string;
  /** The target's name in logs and metrics. Defaults to `slack`. */
  readonly name?: string;
}

/** Block Kit's limits, in characters: a header's text, a section's text, a section field's text. */
const SLACK_LIMITS = { header: 150, section: 3000, field: 2000, fallback: 3000 } as const;

/**
 * A notifier that posts each alert to a Slack incoming webhook: a `text` (the notification and
 * the fallback: `🚨 save_worker is critical: missed 3 heartbeats`) and Block Kit blocks (a
 * header with the status's emoji and the title, a section with the reason, a section with the
 * status, service, time and, on recovery, how long it was down). Service names and reasons are
 * escaped (`&`, `<`, `>`) in `mrkdwn` texts, and the header is `plain_text`, which Slack never
 * parses, so no text becomes a link or a mention such as `<!channel>`; each text is shortened to its block's limit with an ellipsis. Delivery is the webhook's: 2xx
 * delivered; network errors, 5xx, 408 and 429 (Slack's rate limit) retried; redirects not followed.
 *
 * Use it as `{ notifier: slackNotifier({ url }) }` in `AlertDispatcher`'s targets. The options are
 * checked here: a `ConfigError` names a bad key without showing the URL.
 */
export function slackNotifier(options: SlackOptions): Notifier {
  return incomingWebhookNotifier('slack', options, slackMessage);
}

/** Slack's escaping (api.slack.com/reference/surfaces/formatting#escaping): only these three. */
function escapeSlack(char: string): string {
  if (char === '&') return '&amp;';
  if (char === '<') return '&lt;';
  if (char === '>') return '&gt;';
  return char;
}

const fit = (text: string, limit: number): string => fitEscaped(text, limit, escapeSlack);

function slackMessage(alert: Alert): Record<string, unknown> {
  const words = describeAlert(alert);
  const fields = words.facts
    .slice(0, 10) // a section takes at most 10 fields
    .map((fact) => ({ type: 'mrkdwn', text: `*${fact.label}*\n${fit(fact.value, SLACK_LIMITS.field - fact.label.length - 3)}` }));
  return {
    text: fit(`${words.emoji} ${words.summary}`, SLACK_LIMITS.fallback),
    blocks: [
      // plain_text is never parsed for links or mentions, so the title goes in unescaped.
      { type: 'header', text: { type: 'plain_text', text: truncate(`${words.emoji} ${words.title}`, SLACK_LIMITS.header), emoji: true } },
      { type: 'section', text: { type: 'mrkdwn', text: fit(words.reason, SLACK_LIMITS.section) } },
      { type: 'section', fields },
    ],
  };
}
