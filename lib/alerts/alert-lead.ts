// Which replica alerts for the services the replicas share (issue 18): the holder of the alert
// lease only, and only once it has read what the previous holder sent, so that a takeover
// neither loses a transition nor sends one twice.
import type { Logger } from 'pino';
import type { ReplicaLink } from '../core/replicas';

/** Milliseconds between reads of the shared notes while they fail. */
const RETRY_MS = 1000;

/**
 * The alert lease as one dispatcher sees it. `sending` is true while this replica holds the
 * lease and has taken it up: the shared notes (`space`) were read and handed to `takeUp`, which
 * replaces what the dispatcher believed was sent with what was. Until then nothing about a
 * shared service goes out: what changes while the notes are on their way is covered by
 * `takeUp`, which goes on from each service's status at that point.
 */
export class AlertLead {
  private takenUp = false;
  /** Reads of the notes that failed in a row, in this takeover. */
  private failedReads = 0;
  private retry: NodeJS.Timeout | undefined;
  /** Bumped by every change of the lease: a read that a later change overtook is dropped. */
  private turn = 0;
  private closed = false;

  constructor(
    private readonly link: ReplicaLink,
    private readonly space: string,
    private readonly takeUp: (notes: ReadonlyMap<string, unknown>) => void,
    private readonly logger: Logger,
  ) {}

  /** Listens to the lease, and takes it up now if this replica already holds it. */
  start(): void {
    this.link.onLeadChange(this.changed);
    if (this.link.leading) this.takeOver();
  }

  /** Whether the shared services' alerts and incident notes go out from this replica now. */
  get sending(): boolean {
    return this.takenUp && !this.closed && this.link.leading;
  }

  /** Sends nothing more; a read on its way is dropped, a retry stopped. The link keeps the listener, which then does nothing. */
  close(): void {
    this.closed = true;
    this.turn++;
    clearTimeout(this.retry);
  }

  private readonly changed = (leading: boolean): void => {
    if (this.closed) return;
    this.turn++;
    this.takenUp = false;
    this.failedReads = 0;
    clearTimeout(this.retry);
    if (leading) {
      this.takeOver();
      return;
    }
    this.logger.info('Lost the alert lease: another replica alerts for the shared services');
  };

  private takeOver(): void {
    clearTimeout(this.retry);
    const turn = ++this.turn;
    const current = (): boolean => !this.closed && turn === this.turn && this.link.leading;
    this.link.readNotes(this.space).then(
      (notes) => {
        if (!current()) return;
        this.failedReads = 0;
        this.takenUp = true;
        try {
          this.takeUp(notes);
        } catch (error) {
          // A bug, not the store: logged, never an unhandled rejection.
          this.logger.error({ err: error }, 'Taking up the shared alert incidents failed');
        }
      },
      (error: unknown) => {
        if (!current()) return;
        // Nothing about a shared service goes out until a read succeeds: taken up from nothing,
        // every open incident would be alerted again and the resolved it is owed lost. If the
        // store stays away, the lease lapses and the next holder reads them. Only the error's
        // kind is logged, once per takeover: a store's message may name its URL.
        if (this.failedReads++ === 0) {
          this.logger.warn(
            { error: error instanceof Error ? error.name : typeof error },
            `Could not read the shared alert incidents at the takeover: alerts for the shared services wait, trying again every ${RETRY_MS} ms`,
          );
        }
        this.retry = setTimeout(() => {
          if (current()) this.takeOver();
        }, RETRY_MS);
        this.retry.unref();
      },
    );
  }
}
