import type { Alert, AlertStatus, Notifier } from '../alert';
import { describeAlert, truncate } from './alert-words';
import { incomingWebhookNotifier } from './target-options';

/** What `teamsNotifier()` takes. */
export interface TeamsOptions {
  /**
   * The URL of a Teams workflow started by "When a Teams webhook request is received" (the
   * Workflows app's "Post to a channel when a webhook request is received" template). A secret:
   * it never appears in logs, JSON, metrics or error messages.
   */
  readonly url: string;
  /** The target's name in logs and metrics. Defaults to `teams`. */
  readonly name?: string;
}

/** The Adaptive Card version sent: 1.4, which Teams renders on desktop, web and mobile. */
const TEAMS_CARD_VERSION = '1.4';
/**
 * Longest text sent, in UTF-16 code units, for the title and for the reason. A Teams message
 * holds about 28 KB; these keep a card far below it.
 */
const TITLE_LIMIT = 250;
const TEXT_LIMIT = 2000;

/** The Adaptive Card colour of each status (the host's theme gives the shades). */
const COLOUR: Record<AlertStatus, 'Attention' | 'Warning' | 'Good' | 'Accent' | 'Default'> = {
  at_risk: 'Default',
  critical: 'Attention',
  degraded: 'Warning',
  warning: 'Warning',
  resolved: 'Good',
  flapping: 'Accent',
};

/**
 * A notifier that posts each alert to Microsoft Teams through a Workflows (Power Automate)
 * webhook, the successor of the retired Office 365 connectors: a `message` with one Adaptive
 * Card (version 1.4) whose title is coloured by status, then the reason and the details
 * (status, service, time, and on recovery how long it was down). Every text the alert brings is
 * a `TextRun` of a `RichTextBlock`, which Teams shows as written: a service name or a reason
 * cannot turn into Markdown, a link or a mention. Teams answers 202 Accepted; delivery is the
 * webhook's: 2xx delivered; network errors, 5xx, 408 and 429 retried; redirects not followed.
 *
 * Use it as `{ notifier: teamsNotifier({ url }) }` in `AlertDispatcher`'s targets. The options are
 * checked here: a `ConfigError` names a bad key without showing the URL.
 */
export function teamsNotifier(options: TeamsOptions): Notifier {
  return incomingWebhookNotifier('teams', options, teamsMessage);
}

/** A TextRun: shown as written, never read as Markdown (unlike a TextBlock). */
const run = (text: string, style: Record<string, string> = {}): Record<string, string> => ({ type: 'TextRun', text, ...style });

function teamsMessage(alert: Alert): Record<string, unknown> {
  const words = describeAlert(alert);
  const body = [
    {
      type: 'RichTextBlock',
      inlines: [
        run(truncate(`${words.emoji} ${words.title}`, TITLE_LIMIT), { size: 'Large', weight: 'Bolder', color: COLOUR[alert.status] }),
      ],
    },
    { type: 'RichTextBlock', inlines: [run(truncate(words.reason, TEXT_LIMIT))] },
    ...words.facts.map((fact) => ({
      type: 'RichTextBlock',
      spacing: 'Small',
      inlines: [run(`${fact.label}: `, { weight: 'Bolder' }), run(truncate(fact.value, TEXT_LIMIT))],
    })),
  ];
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: TEAMS_CARD_VERSION,
          // Shown by a client that cannot render this card version.
          fallbackText: truncate(words.summary, TEXT_LIMIT),
          body,
          msteams: { width: 'Full' },
        },
      },
    ],
  };
}
