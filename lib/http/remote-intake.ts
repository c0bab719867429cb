import { MAX_TAG_LENGTH } from '../core/config';
import type { Heartbeat, HeartbeatManager } from '../core/manager';
import type { SharedSignal } from '../core/replicas';
import { ConfigError } from '../util/validate';
import { RemoteRegistry } from './remote-registry';

/** A service a remote call may signal, or why it may not (the status and the error to answer with). */
export type Resolved = { heartbeat: Heartbeat } | { status: number; error: string };

/** A signal as a route builds it: the intake stamps `at` on the shared clock when it shares it. */
export type TakenSignal = SharedSignal extends infer S ? (S extends SharedSignal ? Omit<S, 'at'> : never) : never;

/**
 * Most names a skipped signal is warned about, one warning each: another replica may send
 * thousands of names this one cannot take (its max_services is full), and the set of names
 * already warned about must not grow with them. Past it, skips are only counted.
 */
export const MAX_WARNED_NAMES = 100;

/** One intake per manager, however many routers mount remote routes on it. */
const intakes = new WeakMap<HeartbeatManager, RemoteIntake>();

/**
 * The intake of `manager`'s remote calls, created at the first call: two routers on one manager
 * share its registry (so `max_services` counts the manager's remote services, not each
 * router's) and replay each signal of the other replicas once.
 */
export function remoteIntake(manager: HeartbeatManager): RemoteIntake {
  let intake = intakes.get(manager);
  if (!intake) {
    intake = new RemoteIntake(manager);
    intakes.set(manager, intake);
  }
  return intake;
}

/**
 * Where remote calls come in: it resolves the service a call names (registering it under
 * `auto_register`), shares every call this replica took with the other replicas through
 * `manager.replicas`, and replays theirs through the same resolution, back-dated to when they
 * were taken. Without replicas (no shared store) it shares nothing and replays nothing.
 */
export class RemoteIntake {
  /** The services remote calls created here under `auto_register`. */
  readonly registry: RemoteRegistry;
  private skips = 0;
  /** Names already warned about, so that a steady stream of skipped signals logs once per name. */
  private readonly warned = new Set<string>();

  constructor(private readonly manager: HeartbeatManager) {
    this.registry = new RemoteRegistry(manager);
    manager.replicas?.onSignal(this.replay);
  }

  /** Signals of other replicas this one did not apply (a name it cannot take, a pause already over, ...). */
  get skipped(): number {
    return this.skips;
  }

  /** Checks a service name as every remote path does (closed manager 503, length 400), without registering it. */
  nameProblem(name: string): { status: number; error: string } | undefined {
    if (this.manager.isClosed) return { status: 503, error: 'The heartbeat manager is closed: the server is shutting down.' };
    if (name.length === 0 || name.length > MAX_TAG_LENGTH) {
      return { status: 400, error: `A service name has 1 to ${MAX_TAG_LENGTH} characters; this one has ${name.length}.` };
    }
    return undefined;
  }

  /**
   * The service a call names: an existing one, a configured one, or one `auto_register` adds
   * within `max_services`. With replicas, a service a remote call reaches is shared by them all.
   */
  resolve(name: string): Resolved {
    const { manager, registry } = this;
    const problem = this.nameProblem(name);
    if (problem) return problem;
    const existing = manager.get(name);
    if (existing && !existing.isReleased) return this.shared(name, existing);
    // The config's settings win for a configured service, whose heartbeat code may have stopped.
    if (Object.hasOwn(manager.config.services, name)) return this.shared(name, manager.heartbeat({ tag: name }));
    if (!manager.config.auto_register)
      return { status: 404, error: `No service named ${JSON.stringify(name)} is monitored, and auto_register is off.` };
    if (registry.size >= manager.config.max_services) {
      return {
        status: 429,
        error: `This server already took ${manager.config.max_services} remote services (max_services); no more are registered.`,
      };
    }
    return { heartbeat: registry.register(name) };
  }

  /**
   * Shares a call this replica applied with the others, stamped now on the shared clock. Called
   * after the local change and before the answer: a caller told 204 knows every replica will see it.
   */
  share(taken: TakenSignal): void {
    const link = this.manager.replicas;
    if (!link) return;
    link.publish({ ...taken, at: this.manager.clock.wallNow() });
  }

  /**
   * Marks a service a remote call reached as remote, so that the replicas share it. Only with
   * replicas: without them, a remote mark would make a restart re-create a service of this
   * process's own code, and the registry adopt it as one a remote call registered.
   */
  private shared(name: string, heartbeat: Heartbeat): Resolved {
    if (this.manager.replicas) this.manager.markRemote(name);
    return { heartbeat };
  }

  /**
   * Applies a call another replica took, as this replica would have at `signal.at`. Never
   * throws: a listener that threw would stop the link's delivery of every later signal.
   */
  private readonly replay = (signal: SharedSignal): void => {
    // A closed manager takes nothing more: the link may still deliver until the store closes.
    if (this.manager.isClosed) return;
    try {
      const skip = this.apply(signal);
      if (skip !== undefined) this.skip(signal.service, skip);
    } catch (error) {
      this.manager.logger.error(
        { service: signal.service, kind: signal.kind, err: error },
        `A ${signal.kind} of service ${signal.service} from another replica could not be applied here`,
      );
    }
  };

  /** Applies `signal`; returns why it was skipped, or undefined when it was applied. */
  private apply(signal: SharedSignal): string | undefined {
    const { manager } = this;
    const name = signal.service;
    switch (signal.kind) {
      case 'pause': {
        if (!manager.service(name)) return 'it is not monitored here, and a pause registers no service';
        // The signal waited (the store was away) past its until: that pause is over already.
        if (signal.until !== null && signal.until <= manager.clock.wallNow()) return 'the pause it carried is over already';
        const options = {
          ...(signal.until === null ? {} : { until: signal.until }),
          ...(signal.reason === null ? {} : { reason: signal.reason }),
        };
        try {
          manager.pause(name, options);
        } catch (error) {
          // The core names what it refused (an until it reads as past by a hair, a reason too long for this version).
          if (error instanceof ConfigError) return error.message;
          throw error;
        }
        return undefined;
      }
      case 'resume': {
        if (!manager.service(name)) return 'it is not monitored here';
        manager.resume(name);
        return undefined;
      }
      case 'remove': {
        if (!this.registry.has(name)) return 'no remote call registered it here';
        this.registry.remove(name);
        return undefined;
      }
      default:
        break;
    }
    const found = this.resolve(name);
    if ('error' in found) return found.error;
    const { heartbeat } = found;
    switch (signal.kind) {
      case 'pulse': {
        heartbeat.replayPulse(signal.at, signal.rid, signal.metrics);
        break;
      }
      case 'error': {
        heartbeat.errorAt(signal.at, signal.message, signal.critical);
        break;
      }
      case 'start': {
        heartbeat.signalRun(signal.rid, null, undefined, signal.at);
        break;
      }
      case 'end': {
        heartbeat.signalRun(signal.rid, signal.ending, undefined, signal.at);
        break;
      }
    }
    return undefined;
  }

  /** Counts a skipped signal, and warns once per name (within {@link MAX_WARNED_NAMES}). */
  private skip(name: string, reason: string): void {
    this.skips++;
    if (this.warned.has(name) || this.warned.size >= MAX_WARNED_NAMES) return;
    this.warned.add(name);
    const more =
      this.warned.size === MAX_WARNED_NAMES ? ` (${MAX_WARNED_NAMES} names warned about: skips of other names are only counted)` : '';
    this.manager.logger.warn({ service: name }, `Signals of service ${name} from other replicas are skipped here: ${reason}${more}`);
  }
}
