// The router's GET /metrics: the registry's text, with the heartbeat families written here
// instead of by prom-client, which builds a labels object, formats and escapes every label of
// every sample on every scrape.
import { Registry, type RegistryContentType } from 'prom-client';
import { labelNamesOf, managerSample, type Family } from './families';
import { StateMetric, viewManagers, type ManagerView } from './state-metric';

/** Default labels renderMetrics() writes itself: names that are not array indices, primitive values. */
type LabelValues = Readonly<Record<string, string | number | boolean>>;

/** A manager's services as of the scrape, with each one's `service` label value escaped. */
interface LabelledView extends ManagerView {
  readonly labels: readonly string[];
}

/**
 * The text of a scrape of `registry`, byte for byte what `registry.metrics()` returns, in a
 * fraction of its time at thousands of services: each service's `service` label is escaped once
 * per scrape rather than once per sample, and the heartbeat lines are written straight into the
 * text, without a labels object per sample. The app's own metrics are formatted by prom-client,
 * in the registry's order. Each manager's services are read as of one moment for all its
 * families (prom-client reads the clock again for each family). Registries in the OpenMetrics
 * format, default labels it would not write as prom-client does (names that are array indices,
 * values other than strings, numbers and booleans) and prom-client versions whose default labels
 * cannot be read are left to `registry.metrics()` whole.
 *
 * For apps that serve `/metrics` themselves (`healthRouter({ metrics: false })`):
 * `res.end(await renderMetrics(register))`.
 */
export async function renderMetrics(registry: Registry<RegistryContentType>): Promise<string> {
  const registryAccess = registry as unknown as PromClientInternals;
  const defaults = defaultLabelsOf(registryAccess);
  if (
    defaults === null ||
    registry.contentType !== Registry.PROMETHEUS_CONTENT_TYPE ||
    typeof registryAccess.getMetricsAsString !== 'function'
  ) {
    return registry.metrics();
  }
  // Every family of one registry and prefix reads the same managers, listed and labelled once,
  // until an app metric comes between: its collect() may change them, and prom-client would see it.
  const scrapes = new Map<StateMetric['managers'], LabelledView[]>();
  // Async, so that a family that throws rejects the scrape in order rather than leaving the
  // app metrics' promises before it unobserved.
  const blocks = registry.getMetricsAsArray().map(async (metric: unknown) => {
    if (!(metric instanceof StateMetric)) {
      scrapes.clear();
      return registryAccess.getMetricsAsString(metric);
    }
    let views = scrapes.get(metric.managers);
    if (!views) {
      views = viewManagers(metric.managers).map((view) => ({ ...view, labels: view.records.map((record) => escapeLabel(record.tag)) }));
      scrapes.set(metric.managers, views);
    }
    return renderFamily(metric, views, defaults);
  });
  return `${(await Promise.all(blocks)).join('\n\n')}\n`;
}

/**
 * What renderMetrics() reads of a prom-client Registry beyond its typings: the default labels,
 * which it adds to every sample but offers no way to read, and the formatting of one metric
 * object (by object: an OpenMetrics scrape renames a counter without moving it in the registry).
 */
interface PromClientInternals {
  readonly _defaultLabels?: unknown;
  getMetricsAsString(metric: unknown): Promise<string>;
}

/**
 * The registry's default labels, or `null` when the fast path cannot write them as prom-client
 * does: when this prom-client keeps them elsewhere, when a name is an array index (an object
 * spread puts those first; Prometheus refuses them anyway) or when a value is not a plain
 * string, number or boolean (prom-client prints or rejects those in ways not worth copying).
 */
function defaultLabelsOf(registry: PromClientInternals): LabelValues | null {
  const defaults = registry._defaultLabels;
  if (typeof defaults !== 'object' || defaults === null) return null;
  for (const [label, value] of Object.entries(defaults)) {
    if (ARRAY_INDEX.test(label) || !['string', 'number', 'boolean'].includes(typeof value)) return null;
  }
  return defaults as LabelValues;
}

const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

/** One family's block, as prom-client's `getMetricsAsString()` writes it. */
function renderFamily(metric: StateMetric, views: readonly LabelledView[], defaults: LabelValues): string {
  const { family, name } = metric;
  let text = `# HELP ${name} ${escapeText(metric.help)}\n# TYPE ${name} ${metric.type}`;
  const own = labelNamesOf(family);
  // prom-client writes a sample's own labels first, then the default labels it does not have.
  let extra = '';
  for (const [label, value] of Object.entries(defaults)) if (!own.includes(label)) extra += `,${label}="${escapeLabel(value)}"`;

  if (family.managerValue) {
    const given: number[] = [];
    for (const { manager } of views) {
      const value = family.managerValue(manager);
      if (value !== undefined) given.push(value);
    }
    const value = managerSample(family, given);
    if (value !== undefined) text += `\n${name}${extra === '' ? '' : `{${extra.slice(1)}}`} ${valueText(value)}`;
    return text;
  }

  const open = `\n${name}{service="`;
  const lines = new FlatChunks(text);
  for (const { manager, now, records, labels } of views) {
    if (family.samples) sampleLines(lines, family, family.samples, records, labels, now, open, extra);
    else valueLines(lines, family, records, labels, manager, now, open, `"${extra}} `);
  }
  return lines.text();
}

/** Lines per chunk: some 50 KB of text. */
const CHUNK_LINES = 1024;

/**
 * A family's text, gathered in chunks made flat as they fill. Appending line by line makes a
 * rope of several small string objects per line, all alive until the whole is first read: at
 * 100,000 services some 200 MB that outgrow the young generation and are copied out of it by
 * every scavenge. Read as it fills (`charCodeAt` makes V8 flatten it), a chunk leaves its
 * pieces to die young, and one join copies the flat chunks once.
 */
class FlatChunks {
  private readonly chunks: string[] = [];
  private lines = 0;

  constructor(private chunk: string) {}

  add(line: string): void {
    this.chunk += line;
    if (++this.lines < CHUNK_LINES) return;
    void this.chunk.charCodeAt(0); // flattens the chunk: see above
    this.chunks.push(this.chunk);
    this.chunk = '';
    this.lines = 0;
  }

  text(): string {
    this.chunks.push(this.chunk);
    return this.chunks.join('');
  }
}

/** The lines of a family with one value per service. */
function valueLines(
  lines: FlatChunks,
  family: Family,
  records: readonly StateRecord[],
  labels: readonly string[],
  manager: ManagerView['manager'],
  now: number,
  open: string,
  close: string,
): void {
  const read = family.value as NonNullable<Family['value']>;
  for (let i = 0; i < records.length; i++) {
    const value = read(records[i] as StateRecord, manager, now);
    if (value !== undefined) lines.add(open + (labels[i] as string) + close + valueText(value));
  }
}

/** The lines of a family with any number of samples per service, each with a second label. */
function sampleLines(
  lines: FlatChunks,
  family: Family,
  samples: NonNullable<Family['samples']>,
  records: readonly StateRecord[],
  labels: readonly string[],
  now: number,
  open: string,
  extra: string,
): void {
  const middle = `",${family.label as string}="`;
  const close = `"${extra}} `;
  let label = '';
  const push = (labelValue: string, value: number): void => {
    lines.add(open + label + middle + escapeLabel(labelValue) + close + valueText(value));
  };
  for (let i = 0; i < records.length; i++) {
    label = labels[i] as string;
    samples(records[i] as StateRecord, now, push);
  }
}

type StateRecord = ManagerView['records'][number];

const NEEDS_ESCAPE = /[\\\n"]/;

/** A label value as prom-client escapes it: backslash, newline and double quote; numbers and booleans as they print. */
function escapeLabel(value: unknown): string {
  if (typeof value !== 'string') return String(value);
  return NEEDS_ESCAPE.test(value) ? escapeText(value).replace(/"/g, '\\"') : value;
}

/** A help text as prom-client escapes it: backslash and newline. */
function escapeText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample's value as prom-client writes it. */
function valueText(value: number): string {
  if (Number.isNaN(value)) return 'Nan';
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return `${value}`;
}
