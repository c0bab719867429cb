// The Alertmanager target (issue 19): each alert becomes a postable alert of Alertmanager's API
// v2, and the open ones are re-sent while they last, as Prometheus does, so that Alertmanager
// keeps them firing and resolves them by itself if this process dies.
import { hostname } from 'node:os';
import { ConfigError, OptionReader } from '../../util/validate';
import type { Alert, AlertLevel, Notifier } from '../alert';
import { checkTargetHeaders, checkTargetUrl, postJson } from '../http-post';

/** What `alertmanagerNotifier()` takes. */
export interface AlertmanagerOptions {
  /** Alertmanager's base URL, e.g. `http://alertmanager:9093`; alerts go to `{url}/api/v2/alerts`. Never logged: it may carry a secret path. */
  readonly url: string;
  /** The status page's URL, e.g. `https://app.example.com/api/health/ui`: each alert's `generatorURL` is `{pageUrl}#{service}`, which opens that service's card. Without it the alerts have none. */
  readonly pageUrl?: string;
  /** The target's name in logs and metrics. Defaults to `alertmanager`. */
  readonly name?: string;
  /** Extra request headers, e.g. `authorization` for an Alertmanager behind a proxy. Defaults to none. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Milliseconds between re-sends of the open alerts, a whole number from 1 to 2147483647; each is sent with `endsAt` 4 × this ahead. Defaults to 60000, as Prometheus. */
  readonly resendMs?: number;
  /**
   * The `instance` label of alerts about this process's own services: which monitor says so.
   * Defaults to the host name. Alerts about services the replicas share have no `instance`.
   */
  readonly instance?: string;
}

/** The `alertname` of a service's status alert: one labelset per service and severity. */
export const ALERTMANAGER_STATUS_ALERT = 'HeartbeatServiceStatus';
/**
 * The `alertname` of a service at risk (an `at_risk` alert, to a target of `minLevel` `at_risk`),
 * with `severity` `info`: a labelset of its own, which a `warning` or worse ends as it starts,
 * and a recovery (or the risk's end) ends.
 */
export const ALERTMANAGER_AT_RISK_ALERT = 'HeartbeatServiceAtRisk';
/** The `alertname` of the notice that a service is flapping: sent once, never re-sent, so it ends by itself 4 × `resendMs` later, or when the service's next alert comes. */
export const ALERTMANAGER_FLAPPING_ALERT = 'HeartbeatServiceFlapping';
/** The most open alerts one re-send carries (about 4 MB of JSON, built and sent in under 100 ms): past it the rest wait for Alertmanager to resolve them on their `endsAt`. */
export const ALERTMANAGER_MAX_ALERTS = 10_000;

/** `endsAt` of a firing alert is this many re-send periods ahead, as Prometheus does: three re-sends may fail before Alertmanager resolves it. */
const HORIZON_PERIODS = 4;
/** The longest one re-send may take, so that a stalled Alertmanager holds the alerts' own POSTs back no longer. */
const MAX_RESEND_TIMEOUT_MS = 10_000;
/**
 * How much earlier than an incident's start a start already sent for the service may be and
 * still be the same incident's: the change's time and the incident's differ by a millisecond or
 * so, while an earlier incident ended (a recovery) before this one began.
 */
const SAME_START_MS = 1000;
const OPTION_KEYS = ['url', 'pageUrl', 'name', 'headers', 'resendMs', 'instance'] as const;
/** Least severe first: a lower one sent after a higher one of the same incident is not sent. */
const LEVELS: readonly AlertLevel[] = ['at_risk', 'warning', 'degraded', 'critical'];

/** An alert as Alertmanager's `POST /api/v2/alerts` takes it. */
interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

/** What this notifier last told Alertmanager of a service: its escalation or recovery ends that labelset. */
interface Firing {
  severity: AlertLevel;
  startsAt: string;
}

/**
 * A notifier for Prometheus Alertmanager: routing, silences, inhibition and the receivers
 * people already use (email, PagerDuty, Slack) then come from Alertmanager. Each alert is one
 * `POST {url}/api/v2/alerts` of labels `alertname` ({@link ALERTMANAGER_STATUS_ALERT}),
 * `service`, `severity` and `instance` (none for a service the replicas share), annotations `summary` and `description` (the reason),
 * or, for `at_risk`, alertname {@link ALERTMANAGER_AT_RISK_ALERT} with severity `info`;
 * `startsAt` (the incident's start) and a `generatorURL` to the service on the status page.
 *
 * While an incident is open its alert is re-sent every `resendMs` with `endsAt` 4 × `resendMs`
 * ahead, all open alerts in one POST (at most {@link ALERTMANAGER_MAX_ALERTS}); the dispatcher
 * says which are open (`resume`), after a restart and a takeover of the alert lease too, and a
 * replica without the lease re-sends no shared service's. A recovery ends the alert at its time;
 * an escalation ends the lower severity's labelset and starts the new one in the same POST.
 * Flapping is a separate one-off alert ({@link ALERTMANAGER_FLAPPING_ALERT}). A failed re-send
 * is not retried: the next one is its retry. The re-send timer is unref()'d and stopped by
 * `close()`, which the dispatcher calls as it closes.
 *
 * @throws ConfigError for a bad option, naming the key; the URL's value is never shown.
 */
export function alertmanagerNotifier(options: AlertmanagerOptions): Notifier {
  const settings = readOptions(options);
  return new AlertmanagerNotifier(settings);
}

interface Settings {
  endpoint: string;
  pageUrl: string | undefined;
  name: string;
  headers: Readonly<Record<string, string>>;
  resendMs: number;
  instance: string;
}

function readOptions(options: AlertmanagerOptions): Settings {
  const read: OptionReader = new OptionReader('Invalid Alertmanager target');
  const raw: unknown = options; // from JavaScript, anything
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    // Not echoed: options passed as a bare string are most likely the URL.
    throw new ConfigError(
      'Invalid Alertmanager target: the options are not an object (the value is not shown: it may be the URL); expected { url }, e.g. { url: "http://alertmanager:9093" }.',
      '',
    );
  }
  const given = read.object('', options, OPTION_KEYS);
  const name = given.name === undefined ? 'alertmanager' : nonEmpty(read, 'name', given.name, '"alertmanager"');
  const base = checkTargetUrl(
    'Alertmanager',
    name,
    given.url,
    'Pass them in "headers", e.g. { authorization: "Basic " + base64("user:password") }.',
  );
  const endpoint = new URL(`${base.pathname.replace(/\/+$/, '')}/api/v2/alerts`, base).href;
  let pageUrl: string | undefined;
  if (given.pageUrl !== undefined) {
    // A page URL is shown to whoever reads the alert, so it is no secret: it may be echoed.
    let parsed: URL | undefined;
    try {
      parsed = typeof given.pageUrl === 'string' ? new URL(given.pageUrl) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      read.fail('pageUrl', given.pageUrl, 'the status page\'s http(s) URL, e.g. "https://app.example.com/api/health/ui"');
    }
    parsed.hash = '';
    pageUrl = parsed.href;
  }
  const headers = checkTargetHeaders('Alertmanager target', given.headers);
  return {
    endpoint,
    pageUrl,
    name,
    headers,
    resendMs: given.resendMs === undefined ? 60_000 : read.durationMs('resendMs', given.resendMs, 1, 'e.g. 60000'),
    instance: given.instance === undefined ? hostname() : nonEmpty(read, 'instance', given.instance, '"web-1"'),
  };
}

/** Whether fetch takes `name: value` as a request header. */
function nonEmpty(read: OptionReader, key: string, value: unknown, example: string): string {
  if (typeof value !== 'string' || value.length === 0) read.fail(key, value, `a non-empty string, e.g. ${example}`);
  return value;
}

class AlertmanagerNotifier implements Notifier {
  readonly name: string;
  /** Reads the incidents open now that this replica speaks for; set by the dispatcher (`resume`). */
  private openAlerts: (() => readonly Alert[]) | null = null;
  /** Told how each re-send went (the dispatcher logs a run of failures once). */
  private resent: (error: Error | null) => void = () => undefined;
  /** What Alertmanager was last told fires, per service: at most {@link ALERTMANAGER_MAX_ALERTS}, the oldest forgotten first. */
  private readonly firing = new Map<string, Firing>();
  /** Flapping notices out, per service, with their `startsAt`: the service's next alert ends them. */
  private readonly flapping = new Map<string, string>();
  /**
   * The POST body of each alert given to `send`, made at its first attempt: a retry sends the
   * same ends of the labelsets it replaced, although `firing` has moved on since.
   */
  private readonly bodies = new WeakMap<Alert, PostableAlert[]>();
  /** One POST at a time, in order: a re-send made before a recovery never lands after it and fires it again. */
  private turn: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  /** A re-send waiting or in flight: ticks meanwhile are skipped, so a stalled Alertmanager queues none. */
  private resending = false;
  /** A `resume` came while a re-send was on its way: one more goes once it is done, with what is open then. */
  private resendAgain = false;
  private resendAbort: AbortController | undefined;
  private closed = false;

  constructor(private readonly settings: Settings) {
    this.name = settings.name;
  }

  send(alert: Alert, { signal }: { signal: AbortSignal }): Promise<void> {
    let body = this.bodies.get(alert);
    if (!body) {
      body = this.bodyOf(alert);
      this.bodies.set(alert, body);
    }
    const alerts = body;
    return this.inTurn(signal, () => {
      // A firing alert's horizon counts from when it goes out, not from when it was made.
      const endsAt = this.horizon();
      return alerts.map((postable) => (postable.endsAt === '' ? { ...postable, endsAt } : postable));
    });
  }

  resume(openAlerts: () => readonly Alert[], resent?: (error: Error | null) => void): void {
    if (this.closed) return;
    this.openAlerts = openAlerts;
    if (resent) this.resent = resent;
    // What the dispatcher has open now is what Alertmanager was told (before a restart, or by the previous holder of the lease).
    const open = new Set<string>();
    for (const alert of openAlerts()) {
      open.add(alert.service);
      // A start this notifier sent already stays: the incident's own may differ by a millisecond.
      if (isLevel(alert.status)) this.remember(alert.service, { severity: alert.status, startsAt: this.startOf(alert) });
    }
    // The rest ended while the lease was elsewhere: what this notifier sent of them would date,
    // or hold back as below what was sent, their next incident's first alert.
    for (const service of [...this.firing.keys()]) if (!open.has(service)) this.firing.delete(service);
    if (!this.timer) {
      this.timer = setInterval(() => {
        this.resend();
      }, this.settings.resendMs);
      this.timer.unref();
    }
    // At once: after a restart or a takeover, the last re-send may be most of a horizon ago.
    if (this.resending) this.resendAgain = true;
    else this.resend();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.resendAbort?.abort();
  }

  /** The postable alerts that say `alert`: `endsAt` is left empty on the one that fires, for `send` to fill. */
  private bodyOf(alert: Alert): PostableAlert[] {
    const { service } = alert;
    const body: PostableAlert[] = [];
    const flappingSince = this.flapping.get(service);
    if (alert.status === 'flapping') {
      this.flapping.delete(service);
      this.flapping.set(service, alert.time);
      if (this.flapping.size > ALERTMANAGER_MAX_ALERTS) this.flapping.delete(this.flapping.keys().next().value as string);
      // One-off: its endsAt is set now, so it is never kept alive past the horizon.
      body.push({ ...this.flappingAlert(alert, alert.time), endsAt: this.horizon() });
      return body;
    }
    if (flappingSince !== undefined) {
      this.flapping.delete(service);
      body.push({ ...this.flappingAlert(alert, flappingSince), endsAt: later(flappingSince, alert.time) });
    }
    const before = this.firing.get(service);
    if (alert.status === 'resolved') {
      this.firing.delete(service);
      const startsAt = before?.startsAt ?? new Date(Date.parse(alert.time) - (alert.down_seconds ?? 0) * 1000).toISOString();
      // Not knowing which severity fired (nothing was remembered), every one is ended: ending a
      // labelset Alertmanager never notified sends nothing. An incident that never went past
      // at_risk (`previous`) fired only that one; an escalation ended it, else.
      const severities = before ? [before.severity] : alert.previous === 'at_risk' ? (['at_risk'] as const) : LEVELS.slice(1);
      for (const severity of severities) body.push(this.statusAlert(alert, severity, startsAt, later(startsAt, alert.time)));
      return body;
    }
    if (!isLevel(alert.status)) return body;
    // Below what was sent: a re-send read the escalation first. It said more already.
    if (before && LEVELS.indexOf(alert.status) < LEVELS.indexOf(before.severity)) return body;
    const startsAt = before?.startsAt ?? alert.time;
    if (before && before.severity !== alert.status) {
      // Another severity is another labelset to Alertmanager: the old one ends as the new one starts.
      body.push(this.statusAlert(alert, before.severity, startsAt, later(startsAt, alert.time)));
    }
    this.remember(service, { severity: alert.status, startsAt });
    body.push(this.statusAlert(alert, alert.status, startsAt, ''));
    return body;
  }

  private statusAlert(alert: Alert, severity: AlertLevel, startsAt: string, endsAt: string): PostableAlert {
    const atRisk = severity === 'at_risk';
    const summary =
      alert.status === 'resolved'
        ? `${alert.service} ${atRisk ? 'is no longer at risk' : 'recovered'}`
        : `${alert.service} is ${atRisk ? 'at risk of missing its heartbeat' : severity}`;
    const annotations: Record<string, string> = { summary, description: alert.reason };
    if (alert.affected) annotations.affected = alert.affected.join(', ');
    return this.postable(atRisk ? ALERTMANAGER_AT_RISK_ALERT : ALERTMANAGER_STATUS_ALERT, alert, severity, annotations, startsAt, endsAt);
  }

  private flappingAlert(alert: Alert, startsAt: string): PostableAlert {
    const annotations = { summary: `${alert.service} is flapping`, description: alert.status === 'flapping' ? alert.reason : 'calm again' };
    return this.postable(ALERTMANAGER_FLAPPING_ALERT, alert, 'warning', annotations, startsAt, '');
  }

  private postable(
    alertname: string,
    { service, shared }: Alert,
    severity: AlertLevel,
    annotations: Record<string, string>,
    startsAt: string,
    endsAt: string,
  ): PostableAlert {
    // A service the replicas share is one alert whichever replica holds the lease: an instance
    // label would make a takeover start another labelset, and page again.
    // At risk is no status: Alertmanager's usual `info` severity, below `warning`.
    const labels: Record<string, string> = { alertname, service, severity: severity === 'at_risk' ? 'info' : severity };
    if (!shared) labels.instance = this.settings.instance;
    const postable: PostableAlert = { labels, annotations, startsAt, endsAt };
    if (this.settings.pageUrl !== undefined) postable.generatorURL = `${this.settings.pageUrl}#${encodeURIComponent(service)}`;
    return postable;
  }

  /** Re-sends every open alert in one POST, unless one is still on its way or nothing is open. */
  private resend(): void {
    if (this.closed || this.resending || !this.openAlerts) return;
    const read = this.openAlerts;
    const abort = new AbortController();
    const timer = setTimeout(
      () => {
        abort.abort();
      },
      Math.min(this.settings.resendMs, MAX_RESEND_TIMEOUT_MS),
    );
    timer.unref();
    this.resending = true;
    this.resendAbort = abort;
    const sent = { any: false };
    this.inTurn(abort.signal, () => {
      // Read when its turn comes, so it says what is open now, after the alerts sent before it.
      const endsAt = this.horizon();
      const body: PostableAlert[] = [];
      for (const alert of read()) {
        if (body.length >= ALERTMANAGER_MAX_ALERTS) break;
        if (!isLevel(alert.status)) continue;
        // Dated as this notifier first sent it (the change's time, which the incident's start may
        // miss by a millisecond), and remembered if this comes first, so both say the same.
        let firing = this.firing.get(alert.service);
        const startsAt = this.startOf(alert);
        if (firing?.startsAt !== startsAt) this.remember(alert.service, (firing = { severity: alert.status, startsAt }));
        body.push(this.statusAlert(alert, alert.status, firing.startsAt, endsAt));
      }
      sent.any = body.length > 0;
      return body;
    })
      .then(
        () => {
          if (sent.any) this.report(null);
        },
        (error: unknown) => {
          // Not retried: the next re-send is the retry, and endsAt leaves room for three failing.
          // Closing aborts it: nothing to report then.
          if (!this.closed) this.report(error instanceof Error ? error : new Error(String(error)));
        },
      )
      .finally(() => {
        clearTimeout(timer);
        this.resending = false;
        if (this.resendAbort === abort) this.resendAbort = undefined;
        if (this.resendAgain) {
          this.resendAgain = false;
          this.resend();
        }
      });
  }

  private report(error: Error | null): void {
    try {
      this.resent(error);
    } catch {
      // The logger failed: it has nowhere left to be reported.
    }
  }

  /** POSTs what `make` makes, once the POSTs before it are done; nothing when it makes none. */
  private inTurn(signal: AbortSignal, make: () => PostableAlert[]): Promise<void> {
    const run = async (): Promise<void> => {
      signal.throwIfAborted();
      if (this.closed) return;
      const body = make();
      if (body.length === 0) return;
      await postJson(this.settings.endpoint, body, { headers: this.settings.headers, signal });
    };
    const result = this.turn.then(run);
    this.turn = result.catch(() => undefined);
    return result;
  }

  private horizon(): string {
    return new Date(Date.now() + HORIZON_PERIODS * this.settings.resendMs).toISOString();
  }

  /**
   * The `startsAt` to send for `alert`, open since `alert.time`: the start this notifier sent for
   * the service, unless that is older than the incident, so of an earlier incident whose
   * recovery another replica sent (the lease was elsewhere) or that was never sent.
   */
  private startOf(alert: Alert): string {
    const sent = this.firing.get(alert.service)?.startsAt;
    if (sent === undefined || Date.parse(sent) < Date.parse(alert.time) - SAME_START_MS) return alert.time;
    return sent;
  }

  private remember(service: string, firing: Firing): void {
    // Deleted first, so the map's order is the order of the latest alerts and the oldest is forgotten first.
    this.firing.delete(service);
    this.firing.set(service, firing);
    if (this.firing.size > ALERTMANAGER_MAX_ALERTS) this.firing.delete(this.firing.keys().next().value as string);
  }
}

function isLevel(status: Alert['status']): status is AlertLevel {
  return status === 'at_risk' || status === 'warning' || status === 'degraded' || status === 'critical';
}

/** `endsAt`, or `startsAt` if that is later: Alertmanager refuses an alert that ends before it starts (a wall clock stepped back). */
function later(startsAt: string, endsAt: string): string {
  return Date.parse(endsAt) < Date.parse(startsAt) ? startsAt : endsAt;
}
