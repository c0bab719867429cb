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
 * its own timeout, retried with exponential backoff (`backoffMs`, then twice that, …) while
 * the failure is retryable. A full queue drops its oldest alert. Each target has its own, so a
 * slow or failing receiver delays no other target, no pulse and no request.
 */
export class TargetQueue {
  private readonly queue: Alert[] = [];
  private busy = false;
  private closed = false;
  private backoffTimer: NodeJS.Timeout | undefined;
  private readonly shutdown = new AbortController();

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
    if (this.queue.length >= this.settings.queueSize) this.events.dropped(this.notifier.name, this.queue.shift() as Alert);
    this.queue.push(alert);
    if (!this.busy) void this.drain();
  }

  /** Aborts the delivery in flight and forgets the queue. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.shutdown.abort();
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
        this.events.sent(this.notifier.name, alert, attempt);
        return;
      }
      if (!outcome.retryable || attempt >= this.settings.attempts) {
        this.events.failed(this.notifier.name, alert, attempt, outcome.reason);
        return;
      }
      await this.pause(this.settings.backoffMs * 2 ** (attempt - 1));
    }
  }

  /** One try: `null` when delivered, else why not and whether to try again. Never rejects. */
  private async attempt(alert: Alert): Promise<{ reason: string; retryable: boolean } | null> {
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.settings.timeoutMs)]);
    try {
      // Racing the signal keeps a notifier that ignores it from holding the queue past its
      // timeout. Whichever side loses the race settles later, unobserved: mark it handled.
      const sending = Promise.resolve().then(() => this.notifier.send(alert, { signal }));
      const stop = aborted(signal);
      sending.catch(() => undefined);
      stop.catch(() => undefined);
      await Promise.race([sending, stop]);
      return null;
    } catch (error) {
      if (signal.aborted && !this.shutdown.signal.aborted)
        return { reason: `timed out after ${this.settings.timeoutMs} ms`, retryable: true };
      const retryable = (error as { retryable?: unknown } | null)?.retryable !== false;
      return { reason: error instanceof Error ? error.message : String(error), retryable };
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.backoffTimer = setTimeout(resolve, ms);
      this.backoffTimer.unref();
    });
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
