import type { Alert, Notifier } from '../alert';
import { describeAlert, fitEscaped } from './alert-words';
import { incomingWebhookNotifier } from './target-options';

/** What `discordNotifier()` takes. */
export interface DiscordOptions {
  /**
   * The channel webhook's URL (`https://discord.com/api/webhooks/{id}/{token}`). A secret: it
   * holds the webhook's token; it never appears in logs, JSON, metrics or error messages.
   */
  readonly url: string;
  /** The target's name in logs and metrics. Defaults to `discord`. */
  readonly name?: string;
}

/**
 * Discord's limits, in characters: the message's content, an embed's title and description, a
 * field's name and value. An embed's texts together must stay within 6,000, so the description
 * and the field values sent stay well below their own limits (4,096 and 1,024).
 */
const DISCORD_LIMITS = { content: 2000, title: 256, description: 3000, fieldValue: 256, embedTotal: 6000 } as const;

/**
 * Markdown characters Discord reads (`*`, `_`, `~`, `` ` ``, `|` spoilers, `>` quotes, `#` and
 * `-` at a line's start, `[…](…)` links, `<…>` mentions and timestamps) and the backslash
 * itself: each is escaped with a backslash, so a name or a reason is shown as written.
 */
const MARKDOWN = /[\\*_~`|>#\-[\]<]/;

/**
 * A notifier that posts each alert to a Discord channel webhook: a `content` line (the
 * notification: `🚨 save_worker is critical: missed 3 heartbeats`) and one embed coloured by
 * status, with the title, the reason, the alert's time as its timestamp, and fields for the
 * status, service, time and, on recovery, how long it was down. `allowed_mentions` is empty, so
 * a service named `@everyone` pings no one, and Markdown in names and reasons is escaped; each
 * text is shortened to Discord's limit with an ellipsis. Delivery is the webhook's: 2xx
 * delivered; network errors, 5xx, 408 and 429 (Discord's rate limit, whatever its
 * `retry_after`) retried with the dispatcher's backoff; redirects not followed.
 *
 * Use it as `{ notifier: discordNotifier({ url }) }` in `AlertDispatcher`'s targets. The options are
 * checked here: a `ConfigError` names a bad key without showing the URL.
 */
export function discordNotifier(options: DiscordOptions): Notifier {
  return incomingWebhookNotifier('discord', options, discordMessage);
}

function escapeDiscord(char: string): string {
  return MARKDOWN.test(char) ? `\\${char}` : char;
}

const fit = (text: string, limit: number): string => fitEscaped(text, limit, escapeDiscord);

function discordMessage(alert: Alert): Record<string, unknown> {
  const words = describeAlert(alert);
  return {
    content: fit(`${words.emoji} ${words.summary}`, DISCORD_LIMITS.content),
    embeds: [
      {
        title: fit(words.title, DISCORD_LIMITS.title),
        description: fit(words.reason, DISCORD_LIMITS.description),
        color: words.colour,
        timestamp: alert.time,
        fields: words.facts.map((fact) => ({
          name: fact.label,
          value: fit(fact.value, DISCORD_LIMITS.fieldValue),
          inline: fact.label !== 'Affected',
        })),
        footer: { text: 'express-heartbeat' },
      },
    ],
    // No @everyone, @here, role or user ping, whatever a name or a reason says.
    allowed_mentions: { parse: [] },
  };
}
