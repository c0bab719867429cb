// The live stream's clients end up showing the manager's state whatever the order of joins,
// leaves and changes: a shared joining snapshot, runs and pulses of the last batch, changes
// held for the turn's end (issue 21's review).
import fc from 'fast-check';
import { HeartbeatManager } from '../lib/core/manager';
import type { HealthRouterOptions } from '../lib/http/router';
import { StreamHub, type StreamClient } from '../lib/http/stream';
import { STREAM_DEFAULTS } from '../lib/http/stream-options';
import type { TestClock } from './helpers/clock';
import type { SseClient } from './helpers/sse';
import { eventsOf, settle, useStreamFixture } from './helpers/stream-app';

let clock: TestClock;
let manager: HeartbeatManager;
const fixture = useStreamFixture((made) => ({ clock, manager } = made));
async function start(options: Omit<HealthRouterOptions, 'manager' | 'registry'> = {}): Promise<void> {
  await fixture.start(options);
}
const connect = (): Promise<SseClient> => fixture.connect();
const parse = eventsOf;

/** What `client` last learnt of `tag`'s run state, from snapshots, status/pause bodies and run events, in order. */
function lastRunState(client: SseClient, tag: string): string | undefined {
  let state: string | undefined;
  for (const event of client.events) {
    const data = JSON.parse(event.data);
    if (event.event === 'snapshot') {
      const body = data.services.find((s: { service: string }) => s.service === tag);
      if (body?.run) state = body.run.state;
    } else if ((event.event === 'status' || event.event === 'pause') && data.service === tag && data.health?.run) {
      state = data.health.run.state;
    } else if (event.event === 'run' && data.services[tag]) {
      state = data.services[tag].state;
    }
  }
  return state;
}

describe('streams: a later client’s fresh snapshot and job runs', () => {
  it('control: a client alone learns that a plain heartbeat began its first run', async () => {
    const worker = manager.heartbeat({ tag: 'export', interval: 60 }).start();
    await start({ stream: { pulseBatchMs: 250 } });
    const first = await connect();
    await first.waitFor(1, 'snapshot');
    clock.advance(250);
    worker.begin();
    clock.advance(250);
    await first.waitFor(1, 'run');
    expect(lastRunState(first, 'export')).toBe('running');
  });

  it('still tells the clients already connected that a run began before another client joined', async () => {
    const worker = manager.heartbeat({ tag: 'export', interval: 60 }).start();
    await start({ stream: { pulseBatchMs: 250 } });
    const first = await connect();
    await first.waitFor(1, 'snapshot');
    clock.advance(250); // the first snapshot is a batch old: the next joiner takes a fresh one
    worker.begin(); // its first run: the record's runs are created now
    const second = await connect();
    await second.waitFor(1, 'snapshot');
    expect(lastRunState(second, 'export')).toBe('running');
    clock.advance(250);
    clock.advance(250);
    // An event after every batch that could carry the run: once it is in, the run would be too.
    manager.heartbeat({ tag: 'marker', interval: 60 }).start().error('after the batches');
    await first.waitFor(1, 'status');
    expect(lastRunState(first, 'export')).toBe('running');
  });
});

it('sends the turn’s status changes before a batch due in the same turn, so their older bodies never undo it', async () => {
  const job = manager.heartbeat({ tag: 'export', interval: 60 }).start();
  job.begin().success(); // a job already: its runs exist
  await start({ stream: { pulseBatchMs: 250 } });
  const client = await connect();
  await client.waitFor(1, 'snapshot');
  // A worker's timer, due with the stream's batch (one timers phase of a busy loop): it reports
  // an error, then begins the next run.
  setTimeout(() => {
    job.error('disk full');
    job.begin();
  }, 249);
  clock.advance(250);
  await client.waitFor(1, 'run');
  expect(client.events.map((event) => event.event)).toEqual(['snapshot', 'status', 'run']);
  expect(parse(client, 'run')[0].services.export.state).toBe('running');
  // The page applies the status event's health whole (lib/page/script.ts onStatus → update(change.health)).
  expect(lastRunState(client, 'export')).toBe('running');
});

describe('streams: what the shared joining snapshot holds', () => {
  /** A client of the hub that keeps its frames, in the SSE format. */
  function fakeClient(detailed = true): StreamClient & { frames: string[] } {
    const frames: string[] = [];
    return {
      format: { encode: (id, event, data) => `id: ${String(id)}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n` },
      detailed,
      address: '127.0.0.1',
      open: true,
      bufferedBytes: 0,
      frames,
      send: (frame) => void frames.push(frame.toString()),
      keepAlive: () => undefined,
      end: () => undefined,
      destroy: () => undefined,
    };
  }
  const joiningOf = (hub: StreamHub) => (hub as unknown as { joining: { frames: Map<unknown, { full?: Buffer }> } | null }).joining;
  const settings = { ...STREAM_DEFAULTS, allowedOrigins: [] };

  it('lets the joining snapshot go when the manager closes with clients connected', async () => {
    for (let i = 0; i < 2000; i++) manager.heartbeat({ tag: `svc_${String(i)}`, interval: 3600 }).start();
    const hub = new StreamHub(manager, settings);
    hub.join(fakeClient());
    hub.join(fakeClient(false));
    const held = [...(joiningOf(hub)?.frames.values() ?? [])].reduce((sum, built) => sum + (built.full?.length ?? 0), 0);
    expect(held).toBeGreaterThan(500_000); // some 0.3 KB a service, plus the snapshot's objects
    await manager.close();
    expect(hub.size).toBe(0);
    // The full frame alone is `held` bytes, beside the snapshot's objects and the brief frame.
    expect({ held, joining: joiningOf(hub) === null ? 'released' : 'still held' }).toEqual({ held, joining: 'released' });
  });

  it('lets the joining snapshot go a pulse batch after it was taken, on a quiet manager with a client connected', () => {
    for (let i = 0; i < 100; i++) manager.heartbeat({ tag: `svc_${String(i)}`, interval: 3600 }).start();
    const hub = new StreamHub(manager, settings);
    hub.join(fakeClient());
    expect(joiningOf(hub)).not.toBeNull();
    clock.advance(STREAM_DEFAULTS.pulseBatchMs * 4); // batches with nothing to send
    expect(joiningOf(hub) === null ? 'released' : 'still held').toBe('released');
    hub.close();
  });
});

describe('streams: every client ends up with the manager’s state, whatever the order of joins and changes', () => {
  type Shown = Map<string, { status: string; total_pulses?: number; run?: string }>;
  /** A hub client that rebuilds what a page shows from its frames. */
  const formats = [
    { encode: (id: number, event: string, data: unknown) => JSON.stringify({ id, event, data }) },
    { encode: (_id: number, event: string, data: unknown) => JSON.stringify({ data, event }) },
  ];
  function modelClient(detailed: boolean, format = 0) {
    const shown: Shown = new Map();
    const client: StreamClient & { shown: Shown; log: string[] } = {
      format: formats[format] as (typeof formats)[number],
      detailed,
      address: '127.0.0.1',
      open: true,
      bufferedBytes: 0,
      shown,
      log: [],
      send: (frame) => {
        const { event, data } = JSON.parse(frame.toString());
        client.log.push(event);
        if (event === 'snapshot') {
          shown.clear();
          for (const body of data.services)
            shown.set(
              body.service,
              detailed ? { status: body.status, total_pulses: body.total_pulses, run: body.run.state } : { status: body.status },
            );
        } else if (event === 'status' || event === 'pause') {
          const entry = shown.get(data.service);
          if (!entry) return;
          if (data.health) {
            entry.status = data.health.status;
            entry.total_pulses = data.health.total_pulses;
            entry.run = data.health.run.state;
          } else if (event === 'status') entry.status = data.status;
        } else if (event === 'pulse') {
          for (const [tag, pulse] of Object.entries(data.services as Record<string, { total_pulses: number }>)) {
            const entry = shown.get(tag);
            if (entry) entry.total_pulses = pulse.total_pulses;
          }
        } else if (event === 'run') {
          for (const [tag, run] of Object.entries(data.services as Record<string, { state: string }>)) {
            const entry = shown.get(tag);
            if (entry) entry.run = run.state;
          }
        }
      },
      keepAlive: () => undefined,
      end: () => undefined,
      destroy: () => undefined,
    };
    return client;
  }

  const op = fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant('join' as const), detailed: fc.boolean(), format: fc.nat(1) }), weight: 2 },
    { arbitrary: fc.record({ kind: fc.constant('leave' as const), which: fc.nat(9) }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('pulse' as const), which: fc.nat(5) }), weight: 4 },
    {
      arbitrary: fc.record({
        kind: fc.constantFrom('error' as const, 'begin' as const, 'end' as const, 'stop' as const),
        which: fc.nat(5),
      }),
      weight: 2,
    },
    { arbitrary: fc.record({ kind: fc.constant('add' as const) }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constantFrom('pause' as const, 'resume' as const), which: fc.nat(5) }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('burst' as const), which: fc.nat(5) }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 400 }) }), weight: 2 },
    { arbitrary: fc.record({ kind: fc.constant('settle' as const) }), weight: 1 },
  );

  type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

  it('forgets the changes of the turn when the last client leaves: a client joining after gets its snapshot, not changes older than it', async () => {
    const worker = manager.heartbeat({ tag: 'worker', interval: 3600 }).start();
    const hub = new StreamHub(manager, { ...STREAM_DEFAULTS, allowedOrigins: [] });
    const leaving = modelClient(false);
    hub.join(leaving);
    worker.error('disk full'); // healthy -> warning, held for the turn's end
    hub.leave(leaving); // the page closes
    worker.pulse();
    clock.advance(1); // warning -> healthy reported, with no client to tell
    const joining = modelClient(false);
    hub.join(joining); // its snapshot: healthy
    for (let i = 0; i < 3; i++) {
      await settle();
      clock.advance(STREAM_DEFAULTS.pulseBatchMs);
    }
    await settle();
    expect(manager.service('worker')?.status).toBe('healthy');
    expect({ shown: joining.shown.get('worker')?.status, frames: joining.log }).toEqual({ shown: 'healthy', frames: joining.log });
    hub.close();
  });

  it('holds for random sequences of services that are jobs from the start', async () => {
    await property(true, { numRuns: 500 });
  });

  it('holds for random sequences', async () => {
    await property(false, {
      numRuns: 300,
      // The run of a plain heartbeat's first begin(), with a second client joining before the batch that carries it.
      examples: [
        [
          [
            { kind: 'join', detailed: true, format: 0 },
            { kind: 'advance', ms: 300 },
            { kind: 'begin', which: 0 },
            { kind: 'join', detailed: true, format: 1 },
          ],
        ],
      ],
    });
  });

  async function property(jobs: boolean, parameters: fc.Parameters<[Op[]]>): Promise<void> {
    const made = (target: HeartbeatManager, tag: string) => {
      // An hour: statuses change by errors and pulses, not by the clock, which the end state is read at.
      const beat = target.heartbeat({ tag, interval: 3600 }).start();
      if (jobs) beat.begin().success();
      return beat;
    };
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), async (ops) => {
        const target = new HeartbeatManager({ clock, config: { log_level: 'silent' } });
        const hub = new StreamHub(target, { ...STREAM_DEFAULTS, allowedOrigins: [] });
        const beats = [0, 1, 2].map((i) => made(target, `s${String(i)}`));
        const runs = new Map<number, { success(): void }>();
        const open: Array<ReturnType<typeof modelClient>> = [];
        let added = 3;
        try {
          for (const step of ops) {
            if (step.kind === 'join') {
              const client = modelClient(step.detailed, step.format);
              open.push(client);
              hub.join(client);
            } else if (step.kind === 'leave') {
              const [client] = open.splice(step.which % Math.max(open.length, 1), 1);
              if (client) hub.leave(client);
            } else if (step.kind === 'add') {
              beats.push(made(target, `s${String(added++)}`));
            } else if (step.kind === 'advance') {
              clock.advance(step.ms);
            } else if (step.kind === 'settle') await settle();
            else {
              const i = step.which % beats.length;
              const beat = beats[i];
              if (!beat) continue;
              const listed = target.service(`s${String(i)}`) !== undefined;
              if (step.kind === 'pause') {
                if (listed) target.pause(`s${String(i)}`, { reason: 'deploy' });
              } else if (step.kind === 'resume') {
                if (listed) target.resume(`s${String(i)}`);
              } else if (step.kind === 'burst') {
                // Past MAX_STATUS_EVENTS_PER_TURN in one turn: the clients get one snapshot instead.
                for (let k = 0; k < 40; k++) {
                  beat.error('burst');
                  beat.pulse();
                  clock.advance(1);
                }
              } else if (step.kind === 'pulse') {
                beat.pulse();
                // Its recovery is reported on the next timer turn: a snapshot taken before it, followed by an
                // error that brings the status back to the last one reported, is never corrected (left alone:
                // the core reports no change there).
                clock.advance(1);
              } else if (step.kind === 'error') beat.error('x');
              else if (step.kind === 'stop') beat.stop();
              else if (step.kind === 'begin' && !runs.has(i)) runs.set(i, beat.begin());
              else if (step.kind === 'end') {
                runs.get(i)?.success();
                runs.delete(i);
              }
            }
          }
          await settle();
          for (let i = 0; i < 3; i++) {
            clock.advance(STREAM_DEFAULTS.pulseBatchMs);
            await settle();
          }
          // Freeze: compare against the state now, with no timer moving it.
          const truth = new Map(Object.keys(target.status().services).map((tag) => [tag, target.service(tag)]));
          for (const client of open) {
            const expected = new Map(
              [...truth].map(([tag, body]) => [
                tag,
                client.detailed
                  ? { status: body?.status, total_pulses: body?.total_pulses, run: body?.run.state }
                  : { status: body?.status },
              ]),
            );
            if (JSON.stringify([...client.shown].sort()) !== JSON.stringify([...expected].sort())) {
              throw new Error(
                `client ${String(open.indexOf(client))} (${client.detailed ? 'detailed' : 'brief'}) shows ${JSON.stringify([...client.shown])}, the manager has ${JSON.stringify([...expected])}; it got ${client.log.join(',')}`,
              );
            }
          }
          return true;
        } finally {
          hub.close();
          await target.close();
        }
      }),
      parameters,
    );
  }
});
