// Formats figures for the console and writes BENCHMARKS.md. The prose of BENCHMARKS.md lives
// here, so that every run regenerates the whole file and figures and words cannot drift
// apart: an explanation of a missed target is printed only while that target is missed.
import type { Figure } from './measure';

export interface Section {
  name: string;
  title: string;
  figures: Figure[];
  seconds: number;
}

export interface RunInfo {
  command: string;
  date: string;
  quick: boolean;
  seconds: number;
  cpu: string;
  cores: number;
  node: string;
  loadBefore: number;
  loadAfter: number;
}

export function formatNumber(value: number): string {
  if (value === 0) return '0';
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

function formatSpread(figure: Figure): string {
  return `${formatNumber(figure.median)} [${formatNumber(figure.min)} – ${formatNumber(figure.max)}]`;
}

/** The ratio of a figure to its anchor; none when either median is not positive (a difference lost in noise). */
function ratioTo(figure: Figure, figures: readonly Figure[]): { ratio: number; anchor: Figure } | undefined {
  const anchor = figure.anchor ? figures.find((candidate) => candidate.name === figure.anchor) : undefined;
  if (!anchor || anchor.median <= 0 || figure.median <= 0) return undefined;
  return { ratio: figure.median / anchor.median, anchor };
}

/** Whether the figure meets its target, or `undefined` if it has none. */
export function meets(figure: Figure, figures: readonly Figure[]): boolean | undefined {
  const target = figure.target;
  if (!target) return undefined;
  if (target.on === 'median') return figure.median <= target.limit;
  if (target.on === 'median-at-least') return figure.median >= target.limit;
  const ratio = ratioTo(figure, figures);
  return ratio !== undefined && ratio.ratio <= target.limit;
}

export function formatLine(figure: Figure, figures: readonly Figure[]): string {
  const ratio = ratioTo(figure, figures);
  const met = meets(figure, figures);
  return [
    `${figure.name}: ${formatSpread(figure)} ${figure.unit}`,
    ratio ? `  (${ratio.ratio.toFixed(2)}× ${ratio.anchor.name})` : '',
    figure.target ? `  target ${figure.target.text}: ${met ? 'met' : 'MISSED'}` : '',
  ].join('');
}

const cell = (text: string): string => text.replace(/\|/g, '\\|');

function table(figures: readonly Figure[]): string {
  const rows = figures.map((figure) => {
    const ratio = ratioTo(figure, figures);
    const met = meets(figure, figures);
    return [
      figure.name,
      formatSpread(figure),
      figure.unit,
      ratio ? `${ratio.ratio.toFixed(2)}× ${ratio.anchor.name}` : '',
      figure.target?.text ?? '',
      met === undefined ? '' : met ? 'met' : '**missed**',
    ]
      .map(cell)
      .join(' | ');
  });
  return [
    '| Figure | Median [min – max] | Unit | Ratio to anchor | Target | Met |',
    '|---|---|---|---|---|---|',
    ...rows.map((row) => `| ${row} |`),
  ].join('\n');
}

const INTRODUCTION = `Every figure is the median over rounds, with the smallest and largest round in brackets;
a ratio divides a median by its anchor's median from the same run. Each round runs the
configurations in a fresh order (a seeded shuffle, the same on every run), so drift in the
machine's speed lands on all of them alike and none always collects the garbage of the same
neighbour. Figures named "minus" are paired differences: computed round by
round, then summarised. \`npm run bench\` runs compiled JavaScript on plain \`node
--expose-gc\` with a 64 MB young generation (\`--min-semi-space-size=64
--max-semi-space-size=64\`), which allocation counting needs, and room for an 8 GB heap
(\`--max-old-space-size=8192\`: the eager anchor of 100,000 services holds 1.4 million
prom-client series); the idle, throughput and streams benchmarks run their subjects in child
processes with Node's defaults instead, and the export benchmark runs in a child process of its
own, away from the in-process request injection.`;

/** How each benchmark measures, and what its figures mean. */
const METHOD: Record<string, string> = {
  pulse: `Nanoseconds per call in a tight loop, beside the same loop around a bare
\`performance.now()\`, the clock \`pulse()\` must read. Bytes per call are the slope of
\`heapUsed\` between runs of 100,000 and 400,000 calls, with no scavenge in between.

In that loop every pulse after the first lands within 1% of the interval of the last, the same
beat, so the gap model (issue 20) learns nothing from it. The "new gap" figures pulse a
heartbeat whose clock runs a second ahead on every read, so that each pulse ends a gap and
records it, as in a real service, in a process of their own (a second kind of clock at
\`pulse()\`'s clock call slowed the benchmarks run after it in this one); their floors are that clock's own read, and for bytes a
pulse on the same clock whose interval is so long that every pulse is the same beat (called
from \`pulse()\`, that clock allocates twice: \`performance.now()\`'s number and the sum).

**At scale:** the same \`pulse()\` on managers of 10 to 100,000 services (interval 30 s, each
pulsed once beforehand), calling each in turn in an order shuffled once up front (seeded, the
same on every run: an application's pulses come in no particular order), 1,000,000 pulses a
sample, 11 rounds; at 10,000 and 100,000 also in creation order. A pass over 100,000 services
takes tens of milliseconds, so each is pulsed again well within 1% of its interval: these are
the same-beat pulses of the first figure, on records spread over N (the loop also reads each
handle from an array, a nanosecond or two the single-heartbeat loop does not pay). A pulse does
the same work at any N, a few field writes and a move to its lane's tail, so the 100,000 figure
is held to 1.25× the 10,000 one. Bytes per pulse at 100,000 are measured as above, on the
shuffled loop.`,
  'request-overhead': `In-process requests through light-my-request (\`inject(app, { method: 'GET', url: '/' })\`):
no sockets, so the figures are Express and its middleware alone. Each configuration is its
own Express 5 app whose one route answers \`res.end('ok')\`; a sample is 100 sequential
requests, with a turn of the event loop every 16 (light-my-request ends each response in a
\`setImmediate\`: a loop of awaited injections never reaches one otherwise, and every response
stays in memory). express-prom-bundle runs with method and path labels on its own registry;
pino-http writes synchronously to \`/dev/null\`; the health router is mounted with its defaults
and the requests do not hit it.

One middleware layer costs a few hundred nanoseconds against a request of tens of
microseconds, so one-layer differences swing by hundreds of nanoseconds from round to round.
The figure held to the target is therefore measured on 16 pulse layers against 16 no-op
layers and divided by 16: the difference grows sixteenfold, the noise does not. The one-layer
difference is shown beside it.`,
  scale: `A manager with N started heartbeats, exported with \`registerMetrics()\` to a registry of its
own and timed in process: \`await registry.metrics()\` against the eager anchor, and the
status endpoint's body against \`JSON.stringify\` of a status object built beforehand. The
endpoint serialises \`manager.statusView()\`, one object the manager keeps and rewrites in
place on each request; \`manager.status()\`, which hands the caller fresh objects to keep, is
shown beside it: at 10,000 services, inserting 10,000 keys into a fresh dictionary costs about
as much as serialising it. The anchor holds the very series the library exported (read back from its text
into prom-client Gauges and Counters, set before the scrape, as an exporter that updates
them on every change would have them). The "through HTTP" figures inject \`GET /metrics\` and
\`GET /api/health/status\` into an app with the health router mounted; their anchor is the
in-process figure, to show what Express and the response add. Each operation is warmed up
before it is timed, and each sample starts after a full collection: prom-client caches label
strings in a WeakMap that grows with every scrape until a collection, and a scrape costs
several times more while the collector is marking, so samples would otherwise differ by up to
10× with the collector's phase.

"GET /metrics body (renderMetrics)" is the router's own scrape, \`renderMetrics(registry)\`
(lib/metrics/render.ts), checked before timing to return the very bytes \`registry.metrics()\`
returns; \`registry.metrics()\` stays the path of an app that serves \`/metrics\` itself
(\`metrics: false\`). The manager runs on a clock that stands still, so that two scrapes are
the same bytes (a last pulse's wall time is monotonic time plus an offset read anew) and no
service comes due while the 100,000-service round lasts. At 100,000 services (about 1.4
million series) a scrape takes about a second and so does the collection before it: 5 rounds of
one call each there, after two warm-up calls, against 21 rounds below. The "per service" rows
divide the same samples by N at 10,000 and 100,000: a ratio of 1 is linear growth. They are
shown for the eager anchor and the \`JSON.stringify\` floor too, without a target: what
prom-client's formatter and V8's serialiser themselves do at that size.`,
  idle: `10, 1,000, 10,000 and 100,000 services with a 1 s interval and a 1 s \`setInterval\`
pulsing all of them: what an application pays. The anchor is the same loop storing \`performance.now()\` into N plain
objects. Each observation runs in a fresh child process with Node's default heap settings
and \`--no-memory-reducer\` (V8's memory reducer runs a few full collections some 8 s after a
burst of allocation such as the setup: a one-off, not a cost per second). CPU is
\`process.cpuUsage()\` (user + system) over eight whole ticks, after six ticks of settling
(each service makes its gap model at its first pulse: a one-off that costs about 0.3% of a
core at 10,000 services over the first few ticks), as a percentage of one core; "library's
own cost" is the paired difference to the anchor, and is what the target is held to (the
pulsing loop is the application's). Timers are counted with
an \`async_hooks\` census of live \`Timeout\` resources, unref'd ones included, minus the loop's
own interval: \`process.getActiveResourcesInfo()\` lists only ref'd timers, and the library's
one timer is unref'd on purpose. That second count is shown too; it is 0, because the library
never keeps a process alive. Each observation takes some 15 s, so every size is observed in 3
rounds and 10,000 and 100,000, which the targets compare, in 2 more. "CPU per service" is the
library's own cost divided by N, in nanoseconds of CPU per second: at 100,000 it is held to
1.25× the same at 10,000 (linear growth or better).

At 10 services the library's own cost is not work but wakeups: its timer wakes the process once
per interval besides the application's loop, and on this virtual machine a second, empty 1 s
timer alone costs 0.02–0.08% of a core (measured apart); the first code to run after a second
asleep runs from cold caches.

At 10,000 services the timer still wakes about once per second, not once per service: healthy
services wait in one doubly linked list per interval and grace, ordered by their last pulse,
and the timer is armed only for each list's head (lib/core/lanes.ts). A pulse moves its record to
its list's tail, a few pointer writes; a service that misses a beat leaves its list for the
heap that times its further misses. What is left of the library's cost is the pulses touching
their handles, records and list neighbours, from caches gone cold over a second asleep. Until
this design the timer popped and pushed every healthy service on a 10,000-entry heap once per
interval: 0.40% of a core in the run before it, against the 0.2% target.

At 100,000 services nothing in the timer's work grows either; what grows is the pulses' own
touching of 100,000 services' memory, which no longer fits the 32 MB cache (see section 1's
pulses at scale). Per service it cost no more than at 10,000 in the run that added these
sizes (0.87×): the wakeups and the sweep of each lane's head are shared by all the services.`,
  memory: `\`heapUsed\` after a full collection, before and after creating a manager with metrics
registered and N started heartbeats (tags \`service_0\` …), minus the same for a manager with no
heartbeats, divided by N, at 10, 1,000, 10,000 and 100,000 services. Below 10,000, copies of
the monitor are held at once (100 of 10 services, 10 of 1,000, each copy's manager subtracted
with an empty one): the heap drifts by tens of kilobytes between two collections, more than
10 services weigh. No status has changed, so no history is held. At 100,000 each figure is held
to 1.25× the same at 10,000: a service's heap is its own objects (record, handle, gap model,
lane links), nothing that grows with the others. The seed's total is a
manager with the seed document's config (five services, pino logger to stdout), metrics
registered and the five heartbeats started.`,
  detection: `N services with a 1 s interval and the default grace (10%: each deadline is the last pulse
+ 1.1 s), each pulsed once at a staggered time over 0.5 s after their start, then left to
miss. A service's latency is \`performance.now()\` in the \`status\` listener when it turns
\`warning\`, minus its deadline computed from a \`performance.now()\` read just before its pulse.
p50 and p99 are taken over a round's services; the figures spread over rounds. Real timers
throughout. Healthy services are looked at from their lane, which the timer sweeps at most
every 10 ms (\`LANE_MIN_GAP_MS\`, a fifth of the budget, so that services with little or no
grace cannot wake it every millisecond): with 10,000 deadlines spread over 0.5 s, a detection
waits up to that long, where 10 services' sparse deadlines are each met on time.

At 1,000 and 100,000 services the spread is the same 0.5 s: at 100,000 that is 200 deadlines
per millisecond, every service failing at once within half an interval, a denser outage than a
fleet on 1 s intervals whose phases are spread over the whole second (100 per millisecond),
kept so because it is the harder case and the issue's target holds there too. Each round
starts with a full collection after its services are set up, as a server's setup is long past
when its services fail: without it, the 100,000-service round also collected the round
before's 100,000 closed services in the middle of its detections, and read p99 174 ms [85 –
3,576] in a full run of this benchmark, against 27–38 ms in a standalone run of the same
rounds with the collection (after a cold first round). What remains at 100,000 is the
young generation: each detection keeps a history entry and announces an event, and the 64 MB
young generation the benchmarks run with (\`--max-semi-space-size=64\`) fills every 50–150 ms
with mostly surviving objects: \`--trace-gc\` shows 4 or 5 scavenges in each round's half
second of deadlines, of 8–50 ms each, and a detection due during one waits for it.`,
  throughput: `A sanity check, not a comparison: autocannon (50 connections, 127.0.0.1) against the demo
bridge's shape, an Express 5 app with the health router mounted and a JSON route at \`/\`, with
and without \`pulseMiddleware\` in front. The servers run in a child process, away from the load
generator and from light-my-request (which, to inject into Express, re-parents Express's
shared request and response prototypes for every app in the process). Each bridge gets a
short burst before the measured runs. HTTP runs on this machine swing by ±20% from run to run,
so only a large gap would mean anything; per-request cost is section 2's business.`,
  alerts: `A mass outage with an \`AlertDispatcher\` of two targets attached (in-process notifiers that
take each alert at once, default queue of 100 per target, logger silent), beside the same
outage with no dispatcher. "Miss a beat together": 10,000 services with a 1 s interval pulse
once in one loop and then stop, so one timer turn finds them all late. "Report an error in one
loop": the application calls \`error()\` on all 10,000 in one synchronous loop. The figure is
the largest event-loop delay \`monitorEventLoopDelay({ resolution: 1 })\` records from just
before the outage until every service is \`warning\` and every queued alert has left. Each
alert reads the overall status, and rating it visits every service: read once per alert, that
was 10,000 × 10,000 visits, and the dispatcher's sweep of its per-service states ran once per
new state past 2,000; together 2.4–2.6 s per outage in the run before the fix. Alerts made in
one turn now share one reading, taken as the turn ends, and a sweep waits for twice the
states the last one kept.`,
  store: `A \`fileStore()\` in a temporary directory on the machine's own disk, through the public
API. **Flush:** N services (interval 10 min, so nothing else is due) all pulse, then the flush
runs where it always runs, on the monitor's one timer after \`flush_interval\` (1 s); an
\`async_hooks\` hook reads \`process.cpuUsage()\` and \`performance.now()\` just before and just
after each timer callback, and the callback in which the store was handed N entries is the
flush: the walk over the services, the JSON, the write and the fdatasync. A flush that finds
the journal past its threshold (max(8 MiB, 2 × state.json)) also takes the whole state for a
background snapshot: those are counted apart, with their share. **Load:** \`new
HeartbeatManager({ store: fileStore({ dir }) })\` timed in a fresh process (a restart is one),
each round on a fresh copy of the same directory: one left by a \`kill -9\` of a process whose
10,000 services each reported an error and recovered (a journal of 40,000 entries, just under
the 8 MiB that would compact it, so all of it is replayed), and the same state after a clean
\`close()\` (state.json alone).
**Months at the caps:** in a child process whose setTimeout runs on a simulated clock, a few
services pulse hourly for 92 days, and in the last 7 go critical (a reported error) and back
520 times, each outage covering the gap to the next but for seconds: then \`history_size\`
transitions, all 10,080 minutes of the week with downtime and 90 daily rollups are held.
\`close()\` compacts all of it into state.json, whose size is divided by the services; the
directory is also read every simulated hour: at ten services its largest is the journal's 8 MiB
floor shared among them, not a cost per service. That state.json is then copied to 100
services under new tags, loaded and closed: a restart's and a whole snapshot's cost per
service at the caps. **Mass outage:** section 8's outage (10,000 services with a 1 s
interval pulse once, then stop) with a file store and without, and the longest event-loop
delay until all are \`warning\`. The changes one firing of the timer finds are saved in one
append before any is announced (commit bc3b75f). Before that, each was appended and
fdatasync'd on its own: \`strace -c\` counted 10,001 fdatasyncs in that one turn, and this
figure read 3,209 ms [1,544 – 9,378]. What the store adds now is mostly the JSON of the one
batch of 20,000 entries, which \`serializeEntries\` stringifies twice (see the flush below).
**pulse():** the loop of section 1 on a manager
with a file store beside one without.`,
  replicas: `A local \`redis-server\` (no persistence) started for the run; in a child process, an
Express app with \`healthRouter()\` on a manager without a store, one on \`redisStore()\`, and
a second \`redisStore()\` replica that reads every pulse the first one shares, as a replica
behind the same load balancer would. autocannon (50 connections, 127.0.0.1) POSTs
\`/api/health/service/{name}/pulse\` with the bearer token to each, interleaved rounds of 3 s:
pulses per second, and the mean latency under that load. Then one caller at a time (2,000
sequential \`fetch\` calls, timed with \`performance.now()\`, as autocannon's latencies are
whole milliseconds): the latency of an unhurried pulse, and what Redis adds to it, paired per
round. The answer does not wait for Redis (the call is appended to the stream after it is
applied here); what Redis costs is the XADD batches, the reading of the stream back (each
replica skips its own), and the snapshot.`,
  predict: `The gap model of lib/core/trend.ts on a synthetic fleet in simulated time: no timers,
each worker's pulses fed to its own \`GapTrend\` as numbers, and \`read()\` every quarter
interval, as a page or a scraper polling it would. Seeded (pure-rand's xoroshiro128+), so every
run sees the same fleet; each round is a fresh fleet of its own seed. Intervals are 10 s, 30 s,
1 min or 5 min, grace the default 10% or 25%, 50% or 100% of the interval. Per round: 60
**stable** workers (gaps uniform between (1 − j) × interval and the interval, j from 5% to
100%), 30 **bursty** ones (runs of 1–3 fast gaps, 5–35% of the interval, then runs of 1–3 slow
ones, from 80% of the interval up to the deadline), each for 24 hours (2,160 service-hours);
10 **sudden stops** (stable, then silent after 2–24 hours: excluded from recall, shown apart);
100 **degrading** workers, steady at 60–95% of the interval with noise of ±0–10% of it for
20–120 beats, then gaps growing by 0.5–10% of the interval per beat (log-uniform), noise
unchanged, until one passes the deadline: the first miss, at the last pulse plus interval plus
grace. One whose noise alone made it miss before it began to degrade is left out. **Recall**
is the share of degrading workers whose \`at_risk\` a read saw after their degradation began
and before the miss; **lead** is from that read to the miss, in intervals, the median over
the round's flagged workers; **false positives** are \`at_risk\` turning on, false to true,
on stable and bursty workers, per 1,000 of their service-hours. The fleet was fixed before the
model was tuned; the parameters chosen and the alternatives measured are in the model's doc
comment. The lead is long because a slow drift is flagged by lateness (five gaps in a row past
the interval) long before it misses; a fast one, by the forecast, 2–3 intervals ahead at best,
as its horizon is 3 intervals.`,
  streams: `A real app in a child process of its own, so that its CPU is the library's and the app's, not
the clients': Express with \`healthRouter()\` listening on 127.0.0.1, the WebSocket attached,
1,000 services of a 1 s interval and a 1 s loop pulsing them. The bench raises the stream's
places to 1,010 in all and per address (\`stream: { maxClients, maxClientsPerAddress }\`): the
defaults are 100 and 10 per address, and every client here comes from 127.0.0.1. 1,000 clients
of one transport run in the parent, connected 100 at a time, each batch once all of it has its
snapshot: SSE clients through \`http.request\` on one keep-alive agent without a socket limit,
each chunk searched for the status marker and no frame gathered; \`ws\` clients without
compression. The anchor is the same server with no client. Each round of each configuration
starts a fresh server, in a fresh order per round. CPU is the server's \`process.cpuUsage()\`
(user + system) over 6 whole seconds of its loop, after 2 of settling once every client is
connected, as a percentage of one core; the paired difference to the anchor is what the
fan-out adds. Each second of the window the app stops pulsing 5 services (each turns
\`warning\` at its deadline) and resumes the 5 it stopped the second before (each turns
\`healthy\` at the monitor's next turn): about ten status changes a second, each of a
service and status that happens once per server. A change's time is read in the server's own
\`status\` listener (right after the hub's, which only queues the event), a receipt in each
client's data handler, both as \`performance.timeOrigin + performance.now()\`, one millisecond
base for the two processes; an event's delivery latency is its last client's receipt minus its
change, p50 and p99 over the window's changes, the figures spread over rounds. The change is
when the monitor saw it, which can be late: "from cause" counts from what caused it instead, the
stopped service's deadline (its last pulse, plus its interval and grace) or the resuming pulse,
so a deadline that fell while the loop was busy writing a pulse batch counts its wait; "the
monitor's lateness" is the difference. The server's part ends when the turn in which the hub
wrote the event to every client's socket ends (a \`setImmediate\` queued behind the hub's flush).
Changes that did not reach every client within 2 s are counted, summed over all rounds, and left
out of the percentiles.

The hub builds each event's frame once per transport and audience, not per client, and encodes
it to UTF-8 bytes once (\`__tests__/stream-fanout.test.ts\` counts the \`JSON.stringify\` and
\`Buffer.from\` calls: 4 of each per status event for 40 clients of both transports and both
audiences); every socket is handed the same bytes. What costs is the pulse batches, not the
status events: with every service pulsing each second, one batch a second names all 1,000
(about 80 KB of JSON), 80 MB a second written to 1,000 sockets, and the socket writes
(\`writev\`) are the largest part of the server's busy time ([the fan-out
profile](bench/profiles/README.md)). A status change that comes while a batch is being written
waits for it; the rest of the latency is the clients' one process reading all 80 MB a second on
a core of the same machine, where a real viewer reads 80 KB. Before the hub encoded each frame
once, every socket write encoded the shared string again; measured on this machine before and
after that change (two runs each, busy), the server's user CPU with 1,000 SSE clients went from
8.6–9.0% to 6.0–7.4% of a core and the longest loop block from 130–200 ms to 63–113 ms; with
1,000 WebSocket clients, from 4.6–5.4% to 2.6–4.4%.

Connecting is outside the window, and shown per client: each joining client is sent a snapshot,
every service's whole body (about 570 KB at 1,000 services). Clients that join within one pulse
batch (250 ms) of each other with no event between share one snapshot, built and encoded once;
before, each join built its own, and the 1,000 joins took 2.7–2.9 s of the server's CPU (about
2.8 ms a join) in the runs made for this section. A restart that brings 1,000 open pages back
within their retry now pays about one snapshot per batch of them, plus the writes.`,
};

/** Why a target is missed: printed under its section only while a figure matching `figures` misses. */
const WHEN_MISSED: Record<string, { figures: RegExp; text: string }[]> = {
  streams: [
    {
      figures: /^delivery p99/,
      text: `**Missed here: compare the server's part beside it, and the load average.** A status change
waits behind the pulse batch being written to every client when it comes (see above), and then
for the clients' one process to read through the 80 KB batch each of them was sent: on a busy
2-core machine both share cores with the rest.`,
    },
    {
      figures: /^CPU, 1,000 .* clients$/,
      text: `**Missed here: read the paired difference and the load average.** The fan-out's cost is the
socket writes of one 80 KB pulse batch a second to every client (see above); kernel time of the
loopback, which the sender is charged for, grows when the clients' process is slow to read.`,
    },
  ],
  pulse: [
    {
      figures: /allocation/,
      text: `**The 0-byte target is wrong: no pulse that reads a clock can meet it.** Every clock Node
offers returns a freshly boxed number: \`performance.now()\` and \`Date.now()\` allocate 16 bytes
per call even when the result goes straight into a \`Float64Array\`, \`process.hrtime()\` 32 and
\`process.hrtime.bigint()\` 56 (measured on this machine with the same helper). \`pulse()\`
allocates exactly its clock read and nothing else, the floor beside it. The 16 bytes die
young and cost a scavenge nothing to reclaim; a pulse that allocated nothing would have to stop
reading the clock (a counter that a timer turns into times), which costs a timer and a tick
of precision on \`last_heartbeat\`. The target that matters, "no allocation beyond the clock
read", is met.`,
    },
    {
      figures: /^heartbeat\.pulse\(\), 100,000 services, pulsed in turn in a shuffled order$/,
      text: `**Missed: at 100,000 services a pulse waits on memory, not on work.** The work is the same at
any N: read the clock, write a few fields of the service's record and gap model, move the
record to its lane's tail (in this loop the record pulsed is its lane's head, the one pulsed
longest ago, so the move touches its successor, the next to be pulsed, and the tail, just
pulsed). What changes is where those objects are. One pulse follows a chain of dependent
loads, each a separate object: the handle, its port, the service's record, its gap model.
This machine has one 32 MB L3 cache; a service that pulses holds about 1.6 KB (section 5), so
10,000 of them (16 MB) stay in it and 100,000 (about 170 MB) do not, and in a shuffled order nearly
every link of that chain is a miss to main memory, on the order of 100 ns each on this virtual
machine. The creation-order rows show it: the same pulses on the same 100,000 services, in the
order they were allocated, which the hardware prefetcher can follow, cost 98 ns against 438
shuffled (0.22×) in the run that added these rows, where 10,000 services cost 46 against 79
(0.58×); and the shuffled cost grows by steps as the services outgrow each cache (1 MB of L2
a core, then the L3), not in proportion to N. Nothing in the library grows with N, and a pulse
allocates nothing per service (the bytes row). A pulse through fewer objects (the port and the
gap model folded into the record) would take fewer misses, not none. For scale: a remote
pulse is an HTTP request of tens of microseconds (section 2); 100,000 services pulsing every
second in a shuffled order would spend about 4% of a core on these pulses, and in creation
order, as section 4's loop pulses them, about 1%.`,
    },
  ],
  'request-overhead': [
    {
      figures: /per layer|healthRouter \(not hit\), minus bare/,
      text: `**Missed here, look at the spread first.** If the bracket straddles the target, the
machine was too busy for this run to resolve a difference of tens or hundreds of nanoseconds
against requests of tens of microseconds; \`npm run bench -- request-overhead\` alone, on a
quieter machine, settles it.`,
    },
  ],
  scale: [
    {
      figures: /^status endpoint's body, /,
      text: `**Missed here: read the spread first.** The body is one kept object whose fields are
rewritten in place, with the clocks read once per view and each last heartbeat formatted only
when it changed; what it adds to the floor is a pass over the services' records.`,
    },
    {
      figures: /^registry\.metrics\(\), [\d,]+ services$/,
      text: `**Missed here: read the spread first.** Most of a scrape, on either side, is prom-client's
own formatter (\`getMetricsAsString()\`); the library's collection is about 5% of it, and its
samples share one frozen empty \`sharedLabels\` object, so prom-client's per-sample WeakMap
insertion is gone (1.14–1.17× the anchor before that, 0.69–0.88× in full runs since). The
router's own scrape does not take this path: see the renderMetrics rows.`,
    },
    {
      figures: /^status endpoint's body per service, 100,000/,
      text: `**Missed here: compare the floor's growth.** \`JSON.stringify\` of a status object built
beforehand, with no library code in it, grows per service from 10,000 to 100,000 services
about as much (its per-service rows; in the runs that added them the two crossed, 1.86×
against the floor's 2.28× in one and 3.08× against 2.50× in the next): the body is a string of about 150 bytes per service,
15 MB at 100,000, and neither it nor the objects it is made from fit in this machine's 32 MB
L3 cache any longer. In a standalone run with a full collection before each call, no
collection fell inside a call at either size, and \`JSON.stringify\` alone took 333 ns per
service at 10,000 and 509–640 at 100,000. What the library adds is its ratio to that floor,
held to 1.5× at every size.`,
    },
    {
      figures: /^(registry\.metrics\(\)|GET \/metrics body \(renderMetrics\)) per service, 100,000/,
      text: `**Missed here: compare the eager anchor's growth.** prom-client formatting its own Gauges
grows per service from 10,000 to 100,000 services too (its per-service rows), for the same
reasons: at 100,000 a scrape writes 61 MB of text (about 1.4 million series), which with the
services' records no longer fits the 32 MB L3 cache, and its garbage no longer fits the 64 MB
young generation the benchmarks run with, so the scavenges inside a scrape copy what is still
alive. \`renderMetrics()\` keeps that small: it gathers each family's lines in chunks of 1,024
made flat as they fill, so the small strings a line is built from die young; appending every line
to one string kept them all alive until the end, and at 100,000 services cost 3.9× the 10,000
figure per service (four scavenges of 160–200 ms inside a 440–500 ms scrape, in a standalone
run), where the chunks cost 1.3–1.4× in the runs since. \`registry.metrics()\` is prom-client's own formatter
on the library's samples and grows more than the anchor: each scrape hands it a fresh sample and
labels object per series (1.4 million at 100,000, more garbage for the young generation), where
the anchor's Gauges keep theirs between scrapes. The router does not take that path.`,
    },
  ],
  idle: [
    {
      figures: /own cost/,
      text: `**Missed here: read the spread and the load average first.** While services pulse on
time the timer does no work per service (see above; \`__tests__/lanes.test.ts\` counts about one
wake per grace period for 1,000 services pulsing at their own phases). What remains is the
pulses themselves touching memory gone cold over a second asleep, which other work on the
machine makes dearer; a run on a quiet machine, or a longer window, settles it.`,
    },
  ],
  detection: [
    {
      figures: /^Detection latency p99, 100,000/,
      text: `**Missed here: look at the spread and the load average first.** At 100,000 services the
p99 is set by the young generation's scavenges during the half second of deadlines (see
above), which a busy machine stretches; the sweep itself keeps up (its p50 stays near the
10,000-service figure).`,
    },
  ],
  predict: [
    {
      figures: /^recall/,
      text: `**Missed here: look at the spread over rounds first.** A round has 100 degrading workers, so
one worker is one point, and the rounds of the run that chose the parameters ranged from 74%
to 84%. The workers missed are the fast ones (5–10% of the interval per beat, from a steady
level to the miss in 4–8 beats) and the noisy ones on a 10% grace, whose noise crosses the
deadline before ten gaps make their growth sure at z = 2.6. A lower z or a shorter window
catches more of them at the price of false positives on the bursty workers (z = 2.33: 1.39
per 1,000 service-hours).`,
    },
  ],
  store: [
    {
      figures: /^flush at 10,000 services, CPU$/,
      text: `**Missed here: half of the flush is JSON done twice.** A CPU profile of the flush at
10,000 services (\`node --cpu-prof\`) puts 47% of it in \`serializeEntries\`
(lib/store/journal.ts), which stringifies every entry once only to check that it is JSON and
then the whole batch again: 11 ms and 10 ms of CPU for a batch of 10,000 counters entries
(266 bytes each), then 2.5 ms to encode it. Checking the \`typeof\` of each entry instead
(what \`JSON.stringify(entry) === undefined\` catches: undefined, a function, a symbol)
brought the flush to 15.3 ms [14.0 – 24.4] of CPU in a run of this benchmark on a scratch copy
with that one line changed. Saving only what a pulse changes (tag, total_pulses,
last_heartbeat, today's totals: 69 bytes instead of 266) would cut the batch's JSON to 2.8 ms
and the journal's growth fourfold; at 10,000 services the journal now passes its 8 MiB
threshold every third or fourth flush, and the flush that starts a compaction takes the whole
state (more than twice a flush's CPU).`,
    },
    {
      figures: /^load of/,
      text: `**Missed here: compare the CPU figure beside it, and the load average.** The fsyncs of a
restart take under a millisecond on this disk, so wall time well above the CPU time is time
spent waiting for a core other processes held. A crash can also leave the journal past its
threshold (by up to one batch: a compaction runs before an append), and then the restart's
first append (the offline span) compacts first: in such a run (an 11 MB journal) capturing and
serializing the whole state inside \`new HeartbeatManager\` was about a quarter of the
restart's CPU profile (493 ms of CPU in all), beside \`JSON.parse\` of the journal and the
replay of its 50,000 entries. Leaving that compaction to the first flush (its write is in the
background anyway) would take it off the restart. The readers of saved state (\`join\` in
lib/core/state-check.ts) also build a field path string for every value they read, for an
error message that is almost never needed: 8% of the restart's profile.`,
    },
  ],
};

export function renderReport(info: RunInfo, sections: readonly Section[]): string {
  const missed: string[] = [];
  let met = 0;
  for (const section of sections) {
    for (const figure of section.figures) {
      const outcome = meets(figure, section.figures);
      if (outcome === true) met++;
      if (outcome !== false) continue;
      const ratio = ratioTo(figure, section.figures);
      const value =
        figure.target?.on === 'ratio' && ratio ? `${ratio.ratio.toFixed(2)}× its anchor` : `${formatNumber(figure.median)} ${figure.unit}`;
      missed.push(`- ${section.title}: ${figure.name}: ${value}; target ${figure.target?.text}`);
    }
  }
  const busy = Math.max(info.loadBefore, info.loadAfter) > 0.5 * info.cores;
  const lines = [
    '# Benchmarks',
    '',
    '<!-- Written by `npm run bench` (bench/run.ts); change the words in bench/report.ts, not here. -->',
    '',
    '| | |',
    '|---|---|',
    `| Command | \`${info.command}\` |`,
    `| Date | ${info.date} |`,
    `| Machine | ${info.cpu}, ${info.cores} cores, Node ${info.node} |`,
    `| Mode | ${info.quick ? 'quick: fewer rounds, shorter windows; a smoke test, not figures to quote' : 'full'} |`,
    `| Load average (1 min), before / after | ${info.loadBefore.toFixed(2)} / ${info.loadAfter.toFixed(2)} |`,
    `| Wall time | ${info.seconds.toFixed(0)} s |`,
    '',
    ...(busy
      ? [
          'The machine was busy around this run (a 1-minute load average above half the cores: other',
          'work shares them), so spreads are wider than on an idle machine: read the medians, and the',
          'paired differences.',
          '',
        ]
      : []),
    INTRODUCTION,
    '',
    `**Targets: ${met} met, ${missed.length} missed.**`,
    ...(missed.length > 0 ? ['', ...missed, '', 'Each miss is explained in its section.'] : []),
  ];
  for (const section of sections) {
    lines.push('', `## ${section.title}`, '', table(section.figures), '', METHOD[section.name] ?? '');
    for (const explanation of WHEN_MISSED[section.name] ?? []) {
      const applies = section.figures.some((figure) => explanation.figures.test(figure.name) && meets(figure, section.figures) === false);
      if (applies) lines.push('', explanation.text);
    }
  }
  return `${lines.join('\n')}\n`;
}
