import { MAX_TIMER_DELAY_MS } from '../util/timers';
import type { Alert, AlertLevel, Notifier } from './alert';

export interface DeliverySettings {
  timeoutMs: number;
  attempts: number;
  backoffMs: number;
  queueSize: number;
}

export interface DeliveryEvents {
  sent(target: string, alert: Alert, attempts: number): void;
  failed(target: string, alert: Alert, attempts: number, reason: string): void;
  dropped(target: string, alert: Alert): void;
}

/**
 * One target's outbox: a bounded queue sent in order, one alert at a time, each attempt under
 * its own timeout, retried with exponential backoff (`backoffMs`, then twice that, …, at most
 * {@link MAX_TIMER_DELAY_MS}) while the failure is retryable. A full queue drops its oldest alert.
 * Each target has its own, so a slow or failing receiver delays no other target, no pulse and
 * no request. Nothing it does rejects: a throwing notifier or log destination is a failed
 * attempt or a lost log line, never an unhandled rejection.
 */
export class TargetQueue {
  private readonly queue: Alert[] = [];
  private busy = false;
  private closed = false;
  private backoffTimer: NodeJS.Timeout | undefined;
  /** Aborts the attempt in flight, if any. */
  private inflight: AbortController | undefined;

  constructor(
    readonly notifier: Notifier,
    readonly minLevel: AlertLevel,
    private readonly settings: DeliverySettings,
    private readonly events: DeliveryEvents,
  ) {}

  get pending(): number {
    return this.queue.length + (this.busy ? 1 : 0);
  }

  push(alert: Alert): void {
    if (this.closed) return;
    if (this.queue.length >= this.settings.queueSize) {
      const oldest = this.queue.shift() as Alert;
      report(() => {
        this.events.dropped(this.notifier.name, oldest);
      });
    }
    this.queue.push(alert);
    if (!this.busy) void this.drain();
  }

  /** Aborts the delivery in flight and forgets the queue. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.inflight?.abort();
  }

  private async drain(): Promise<void> {
    this.busy = true;
    while (!this.closed && this.queue.length > 0) await this.deliver(this.queue.shift() as Alert);
    this.busy = false;
  }

  private async deliver(alert: Alert): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(alert);
      if (this.closed) return;
      if (outcome === null) {
        report(() => {
          this.events.sent(this.notifier.name, alert, attempt);
        });
        return;
      }
      if (!outcome.retryable || attempt >= this.settings.attempts) {
        report(() => {
          this.events.failed(this.notifier.name, alert, attempt, outcome.reason);
        });
        return;
      }
      await this.pause(Math.min(MAX_TIMER_DELAY_MS, this.settings.backoffMs * 2 ** (attempt - 1)));
    }
  }

  /** One try: `null` when delivered, else why not and whether to try again. Never rejects. */
  private async attempt(alert: Alert): Promise<{ reason: string; retryable: boolean } | null> {
    const controller = new AbortController();
    const { signal } = controller;
    let timer: NodeJS.Timeout | undefined;
    this.inflight = controller;
    try {
      // Racing the signal keeps a notifier that ignores it from holding the queue past its
      // timeout. Whichever side loses the race settles later, unobserved: mark it handled.
      const sending = Promise.resolve().then(() => {
        if (signal.aborted) return undefined; // closed before it started: the race is over
        // A timer of our own, not AbortSignal.timeout(): combined with AbortSignal.any(),
        // nothing held the timeout signal, a garbage collection could take it, and the attempt
        // then waited forever (Node issue 57736). Armed as the send starts, so the timeout
        // counts from there even under fake timers.
        timer = setTimeout(() => {
          controller.abort(new DOMException(`timed out after ${this.settings.timeoutMs} ms`, 'TimeoutError'));
        }, this.settings.timeoutMs);
        timer.unref();
        return this.notifier.send(alert, { signal });
      });
      const stop = aborted(signal);
      sending.catch(() => undefined);
      stop.catch(() => undefined);
      await Promise.race([sending, stop]);
      return null;
    } catch (error) {
      // Aborted while open: only the timer aborts then.
      if (signal.aborted && !this.closed) return { reason: `timed out after ${this.settings.timeoutMs} ms`, retryable: true };
      const retryable = (error as { retryable?: unknown } | null)?.retryable !== false;
      return { reason: error instanceof Error ? error.message : String(error), retryable };
    } finally {
      clearTimeout(timer);
      this.inflight = undefined;
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.backoffTimer = setTimeout(resolve, ms);
      this.backoffTimer.unref();
    });
  }
}

/** Runs a report (a log line, a counter): a failing log destination must not stop the queue, and has nowhere left to be reported. */
function report(event: () => void): void {
  try {
    event();
  } catch {
    // The logger or the registry is what failed.
  }
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    const fail = (): void => {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    if (signal.aborted) fail();
    signal.addEventListener('abort', fail, { once: true });
  });
}
