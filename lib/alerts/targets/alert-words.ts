// What every chat and push target says about an alert, so ntfy, Slack, Teams and Discord tell
// the same story in the same words; each target only lays these words out and fits them to
// its own limits.
import type { Alert, AlertStatus } from '../alert';

/** The words, colour and symbols of one alert. */
export interface AlertWords {
  /** One line naming the service and what happened, e.g. `save_worker is critical`. */
  readonly title: string;
  /** The status as a word for a label, e.g. `Critical`, `Resolved`. */
  readonly statusWord: string;
  /** The reason, e.g. `missed 3 heartbeats`; for a recovery, how long the service was down too. */
  readonly reason: string;
  /** The title and the reason on one line: the text a notification or a preview shows. */
  readonly summary: string;
  /** The colour of the status, as 0xRRGGBB (the status page's colours). */
  readonly colour: number;
  /** An emoji for the status, in Unicode. */
  readonly emoji: string;
  /** The same emoji's shortcode (gemoji, as ntfy and Slack read them), e.g. `rotating_light`. */
  readonly shortcode: string;
  /** The time of the change, e.g. `2026-11-30 15:04:09 UTC`. */
  readonly time: string;
  /** With `resolved`: how long the service was down, e.g. `4m 30s` (at risk, for an incident that never went past `at_risk`). */
  readonly downFor?: string;
  /** Labelled details in display order: status, service, time, down for, reminder, affected, overall. */
  readonly facts: readonly { readonly label: string; readonly value: string }[];
}

/**
 * What each status looks like. Colours are the status page's (lib/page/style.ts); flapping,
 * which has no page colour, is violet; at risk, which the page marks in its text colour, is a
 * neutral slate.
 */
const LOOKS: Record<AlertStatus, { word: string; colour: number; emoji: string; shortcode: string }> = {
  at_risk: { word: 'At risk', colour: 0x475569, emoji: '⏳', shortcode: 'hourglass_flowing_sand' },
  warning: { word: 'Warning', colour: 0xa86b00, emoji: '⚠️', shortcode: 'warning' },
  degraded: { word: 'Degraded', colour: 0xc2410c, emoji: '🟠', shortcode: 'orange_circle' },
  critical: { word: 'Critical', colour: 0xc81e1e, emoji: '🚨', shortcode: 'rotating_light' },
  resolved: { word: 'Resolved', colour: 0x16813a, emoji: '✅', shortcode: 'white_check_mark' },
  flapping: { word: 'Flapping', colour: 0x7c3aed, emoji: '🔁', shortcode: 'repeat' },
};

/** The ellipsis that ends every shortened text. */
export const ELLIPSIS = '…';

/** Describes `alert` in the words every target shares. */
export function describeAlert(alert: Alert): AlertWords {
  const looks = LOOKS[alert.status];
  const service = oneLine(alert.service);
  const title = titleOf(alert, service);
  const downFor = alert.status === 'resolved' && alert.down_seconds !== undefined ? formatDuration(alert.down_seconds) : undefined;
  // An incident that never went past at_risk: the service was not down, only at risk.
  const wasAtRisk = alert.status === 'resolved' && alert.previous === 'at_risk';
  const forWord = wasAtRisk ? 'at risk for' : 'down for';
  const reason = downFor === undefined ? alert.reason : `${alert.reason} (${forWord} ${downFor})`;
  const time = formatTime(alert.time);
  const facts: { label: string; value: string }[] = [
    { label: 'Status', value: alert.status === 'resolved' ? `resolved (was ${alert.previous})` : alert.status },
    { label: 'Service', value: service },
    { label: 'Time', value: time },
  ];
  if (downFor !== undefined) facts.push({ label: wasAtRisk ? 'At risk for' : 'Down for', value: downFor });
  if (alert.reminder !== undefined) facts.push({ label: 'Reminder', value: String(alert.reminder) });
  if (alert.affected?.length) facts.push({ label: 'Affected', value: alert.affected.map(oneLine).join(', ') });
  facts.push({ label: 'Overall', value: alert.overall_status });
  return {
    title,
    statusWord: looks.word,
    reason,
    summary: `${title}: ${oneLine(reason)}`,
    colour: looks.colour,
    emoji: looks.emoji,
    shortcode: looks.shortcode,
    time,
    ...(downFor === undefined ? {} : { downFor }),
    facts,
  };
}

function titleOf(alert: Alert, service: string): string {
  switch (alert.status) {
    case 'resolved':
      return alert.previous === 'at_risk' ? `${service} is no longer at risk` : `${service} recovered`;
    case 'at_risk':
      return `${service} is at risk of missing its heartbeat`;
    case 'flapping':
      return `${service} is flapping`;
    case 'warning':
      return `${service} has a warning`;
    default:
      return alert.reminder === undefined
        ? `${service} is ${alert.status}`
        : `${service} is still ${alert.status} (reminder ${alert.reminder})`;
  }
}

/**
 * Seconds as the largest two units, e.g. `45s`, `4m 30s`, `2h 5m`, `3d 4h`: how long, at a glance.
 * Fractions are dropped.
 */
export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.floor(seconds));
  const units: [string, number][] = [
    ['d', Math.floor(whole / 86_400)],
    ['h', Math.floor(whole / 3600) % 24],
    ['m', Math.floor(whole / 60) % 60],
    ['s', whole % 60],
  ];
  const first = units.findIndex(([, amount]) => amount > 0);
  if (first === -1) return '0s';
  return units
    .slice(first, first + 2)
    .filter(([, amount]) => amount > 0)
    .map(([unit, amount]) => `${amount}${unit}`)
    .join(' ');
}

/** An ISO time as `2026-11-30 15:04:09 UTC`: readable, and the same whatever the reader's zone. */
function formatTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/**
 * `text` with each run of line breaks, tabs and other control characters turned into one space:
 * a service name or a reason may hold any of them, and a title, a header or a tag must stay one line.
 */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is replaced
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ');
}

/**
 * `text` cut to at most `limit` UTF-16 code units (what JavaScript, Slack, Discord and Teams
 * count), ending in an ellipsis when cut. The cut never splits a surrogate pair, so an emoji is
 * kept whole or left out, never turned into a broken character.
 */
export function truncate(text: string, limit: number): string {
  return fitEscaped(text, limit, (char) => char);
}

/**
 * `text` escaped by `escape` (applied one code point at a time) and fitted to `limit` code units,
 * ending in an ellipsis when cut. The text is cut before it is escaped, so an escape such as
 * `&amp;` is never split, and neither is a surrogate pair.
 */
export function fitEscaped(text: string, limit: number, escape: (char: string) => string): string {
  let whole = '';
  for (const char of text) {
    whole += escape(char);
    if (whole.length > limit) break;
  }
  if (whole.length <= limit) return whole;
  let fitted = '';
  for (const char of text) {
    const piece = escape(char);
    if (fitted.length + piece.length > limit - ELLIPSIS.length) break;
    fitted += piece;
  }
  return fitted + ELLIPSIS;
}
