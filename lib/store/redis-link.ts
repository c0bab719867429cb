import type { ReplicaLink, SharedSignal } from '../core/replicas';
import type { AlertLease } from './alert-lease';
import type { SkewClock } from './redis-clock';
import type { SharedNotes } from './shared-notes';
import type { SignalPublisher } from './signal-publisher';
import type { SignalReader } from './signal-reader';

/** The parts of a Redis store that the replicas share, as the engine sees them. */
export interface RedisLinkParts {
  readonly replicaId: string;
  readonly clock: SkewClock;
  readonly publisher: SignalPublisher;
  readonly reader: SignalReader;
  readonly lease: AlertLease;
  readonly notes: SharedNotes;
}

/** {@link ReplicaLink} over Redis: each call goes to the part that does it. None throws. */
export class RedisLink implements ReplicaLink {
  readonly replicaId: string;
  private listening = false;

  constructor(private readonly parts: RedisLinkParts) {
    this.replicaId = parts.replicaId;
  }

  skewMs(): number {
    return this.parts.clock.skewMs();
  }

  publish(signal: SharedSignal): void {
    this.parts.publisher.publish(signal);
  }

  onSignal(listener: (signal: SharedSignal) => void): void {
    if (this.listening) throw new Error('This Redis store already has a signal listener: give each manager its own store.');
    this.listening = true;
    this.parts.reader.setListener(listener);
  }

  get leading(): boolean {
    return this.parts.lease.leading;
  }

  onLeadChange(listener: (leading: boolean) => void): void {
    this.parts.lease.onChange(listener);
  }

  saveNote(space: string, key: string, value: unknown): void {
    this.parts.notes.save(space, key, value);
  }

  readNotes(space: string): Promise<ReadonlyMap<string, unknown>> {
    return this.parts.notes.read(space);
  }
}
