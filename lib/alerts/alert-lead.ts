// Which replica alerts for the services the replicas share (issue 18): the holder of the alert
// lease only, and only once it has read what the previous holder sent, so that a takeover
// neither loses a transition nor sends one twice.
import type { Logger } from 'pino';
import type { ReplicaLink } from '../core/replicas';

/**
 * The alert lease as one dispatcher sees it. `sending` is true while this replica holds the
 * lease and has taken it up: the shared notes (`space`) were read and handed to `takeUp`, which
 * replaces what the dispatcher believed was sent with what was. Until then nothing about a
 * shared service goes out: what changes while the notes are on their way is covered by
 * `takeUp`, which goes on from each service's status at that point.
 */
export class AlertLead {
  private takenUp = false;
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

  /** Sends nothing more; a read on its way is dropped. The link keeps the listener, which then does nothing. */
  close(): void {
    this.closed = true;
    this.turn++;
  }

  private readonly changed = (leading: boolean): void => {
    if (this.closed) return;
    this.turn++;
    this.takenUp = false;
    if (leading) {
      this.takeOver();
      return;
    }
    this.logger.info('Lost the alert lease: another replica alerts for the shared services');
  };

  private takeOver(): void {
    const turn = ++this.turn;
    const done = (notes: ReadonlyMap<string, unknown>): void => {
      if (this.closed || turn !== this.turn || !this.link.leading) return;
      this.takenUp = true;
      try {
        this.takeUp(notes);
      } catch (error) {
        // A bug, not the store: logged, never an unhandled rejection.
        this.logger.error({ err: error }, 'Taking up the shared alert incidents failed');
      }
    };
    this.link.readNotes(this.space).then(done, (error: unknown) => {
      // The contract says a read never rejects. Should one, alerting goes on from what this
      // replica saw itself: an open incident may be alerted again, but none is left unsaid.
      // Only the error's kind is logged: a store's message may name its URL.
      this.logger.warn(
        { error: error instanceof Error ? error.name : typeof error },
        'Could not read the shared alert incidents at the takeover',
      );
      done(new Map());
    });
  }
}
