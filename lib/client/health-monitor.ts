import { readCapped } from '../util/read-capped';
import type { HealthStatus } from '../core/manager';
import type { ServiceHealth } from '../core/service-record';
import { OptionReader, describeValue } from '../util/validate';

/** What `new HealthMonitor()` takes besides the server's URL. Every key is optional. */
export interface HealthMonitorOptions {
  /** Milliseconds before a request is abandoned with a `timeout` error: a whole number from 1 to 2147483647. Defaults to `5000`. */
  readonly timeoutMs?: number;
  /** Where the health endpoints live on the server, as given to `healthRouter()`. Defaults to `/api/health`. */
  readonly basePath?: string;
}

/**
 * Why a request failed: `unreachable` (no connection: refused, DNS, reset), `timeout`,
 * `bad_response` (the body is not the health JSON), `http_status` (an unexpected status).
 */
export type HealthMonitorErrorCode = 'unreachable' | 'timeout' | 'bad_response' | 'http_status';

/** A failed health request: what happened (`code`), and where (`url`, and `status` once the server answered). */
export class HealthMonitorError extends Error {
  /** Always `HealthMonitorError`, so logs and `error.name` checks tell it from other errors. */
  override readonly name = 'HealthMonitorError';
  /** What went wrong; see `HealthMonitorErrorCode`. */
  readonly code: HealthMonitorErrorCode;
  /** The HTTP status of the answer, if the server answered. */
  readonly status?: number;
  /** The URL that was requested. */
  readonly url: string;

  constructor(message: string, code: HealthMonitorErrorCode, url: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.url = url;
    if (options.status !== undefined) this.status = options.status;
  }
}

const MONITOR_KEYS = ['timeoutMs', 'basePath'] as const;
/** Most of an answer read, in bytes: a status body at 10,000 services is about 1.5 MB, and a server may be anything. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;
/** How much of an unexpected body is quoted in an error message. */
const QUOTE_LENGTH = 120;

interface Answer {
  url: string;
  status: number;
  contentType: string;
  text: string;
}

/**
 * A client for the health API of a server running `healthRouter()`: the seed's C#
 * `HealthMonitor`, over the global `fetch`.
 *
 * ```ts
 * const monitor = new HealthMonitor('http://localhost:3000');
 * const { overall_status } = await monitor.checkHealth();
 * ```
 */
export class HealthMonitor {
  /** The server's origin and any path prefix, without a trailing slash. */
  readonly baseUrl: string;
  /** Where the health endpoints live on the server. */
  readonly basePath: string;
  /** Milliseconds before a request is abandoned. */
  readonly timeoutMs: number;

  /** Checks the options once: a bad URL, path or timeout throws a `ConfigError` naming it. */
  constructor(baseUrl: string, options: HealthMonitorOptions = {}) {
    const read = new OptionReader('Invalid HealthMonitor options');
    this.baseUrl = checkBaseUrl(read, baseUrl);
    const given = read.object('', options, MONITOR_KEYS);
    this.timeoutMs = given.timeoutMs === undefined ? 5000 : read.durationMs('timeoutMs', given.timeoutMs, 1, 'e.g. 5000');
    this.basePath = given.basePath === undefined ? '/api/health' : read.plainPath('basePath', given.basePath);
  }

  /**
   * Every service and the overall status (`GET {basePath}/status`). A 503 (or the router's
   * `criticalStatusCode`) carrying the status body is an answer, not an error. Rejects with a `HealthMonitorError`.
   */
  async checkHealth(): Promise<HealthStatus> {
    const answer = await this.get('/status');
    const parsed = parseJson(answer);
    const problem = parsed.ok ? healthStatusProblem(parsed.value) : undefined;
    if (parsed.ok && problem === undefined) {
      const status = parsed.value as HealthStatus;
      // The router's criticalStatusCode (503 by default) marks a critical system; the body is still the answer.
      if (answer.status === 200 || answer.status === 503 || status.overall_status === 'critical') return status;
    }
    if (answer.status !== 200) throw unexpectedStatus(answer, parsed);
    throw badResponse(answer, parsed.ok ? `the body is not a health status: ${problem as string}` : parsed.problem);
  }

  /**
   * One service in detail (`GET {basePath}/service/{name}`), or `undefined` when the server
   * answers that it monitors no such service. Rejects with a `HealthMonitorError`.
   */
  async getService(name: string): Promise<ServiceHealth | undefined> {
    const answer = await this.get(`/service/${serviceSegment(name)}`);
    const parsed = parseJson(answer);
    if (answer.status === 404 && parsed.ok && isObject(parsed.value) && typeof parsed.value.service === 'string') {
      return undefined;
    }
    if (answer.status !== 200) throw unexpectedStatus(answer, parsed);
    if (!parsed.ok) throw badResponse(answer, parsed.problem);
    const problem = serviceHealthProblem(parsed.value);
    if (problem !== undefined) throw badResponse(answer, `the body is not a service health: ${problem}`);
    return parsed.value as ServiceHealth;
  }

  /** Whether the service's status is `healthy`; `false` for a service the server does not monitor. */
  async isServiceHealthy(name: string): Promise<boolean> {
    const service = await this.getService(name);
    return service?.status === 'healthy';
  }

  /**
   * One GET: the status and the body, all within `timeoutMs`, the body up to
   * {@link MAX_BODY_BYTES}. Rejects only with a HealthMonitorError.
   */
  private async get(path: string): Promise<Answer> {
    const url = `${this.baseUrl}${this.basePath}${path}`;
    // A timer of our own rather than AbortSignal.timeout(), whose timer is held only weakly.
    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort(new DOMException(`timed out after ${this.timeoutMs} ms`, 'TimeoutError'));
    }, this.timeoutMs);
    timer.unref();
    try {
      let response: Response;
      try {
        response = await fetch(url, { signal: controller.signal, headers: { accept: 'application/json' } });
      } catch (error) {
        throw this.transportError(error, url, undefined);
      }
      let body: Awaited<ReturnType<typeof readCapped>>;
      try {
        body = await readCapped(response, MAX_BODY_BYTES);
      } catch (error) {
        throw this.transportError(error, url, response.status);
      }
      if (body.truncated) {
        throw new HealthMonitorError(
          `GET ${url} answered HTTP ${response.status}, but the body is larger than ${MAX_BODY_BYTES} bytes (16 MiB), far more than a health answer; the rest was not read.`,
          'bad_response',
          url,
          { status: response.status },
        );
      }
      const text = new TextDecoder().decode(body.bytes);
      return { url, status: response.status, contentType: response.headers.get('content-type') ?? '', text };
    } finally {
      clearTimeout(timer);
    }
  }

  private transportError(error: unknown, url: string, status: number | undefined): HealthMonitorError {
    const withStatus = status === undefined ? {} : { status };
    if (isAbort(error)) {
      return new HealthMonitorError(`GET ${url} timed out after ${this.timeoutMs} ms.`, 'timeout', url, { ...withStatus, cause: error });
    }
    const reason = networkReason(error);
    const message =
      status === undefined
        ? `Cannot reach the health endpoint at ${url}: ${reason}.`
        : `The connection to ${url} broke while reading the answer (HTTP ${status}): ${reason}.`;
    return new HealthMonitorError(message, 'unreachable', url, { ...withStatus, cause: error });
  }
}

function checkBaseUrl(read: OptionReader, value: unknown): string {
  const expected = 'an http(s) URL such as "http://localhost:3000", without credentials, query or fragment';
  if (typeof value !== 'string') read.fail('baseUrl', value, expected);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    read.fail('baseUrl', value, expected);
  }
  const plain = url.username === '' && url.password === '' && !value.includes('?') && !value.includes('#');
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !plain) {
    read.fail('baseUrl', value, expected);
  }
  return url.href.replace(/\/+$/, '');
}

/** The name as one path segment. `.` and `..` cannot be sent: URL parsers drop them, encoded or not. */
function serviceSegment(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`HealthMonitor: the service name is ${describeValue(name)}; expected a non-empty string, e.g. "save_worker".`);
  }
  if (name === '.' || name === '..') {
    throw new RangeError(
      `HealthMonitor: the service name ${JSON.stringify(name)} cannot be sent in a URL path: URL parsers resolve it as a dot segment.`,
    );
  }
  return encodeURIComponent(name);
}

type Parsed = { ok: true; value: unknown } | { ok: false; problem: string };

function parseJson(answer: Answer): Parsed {
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(answer.contentType)) {
    return {
      ok: false,
      problem: `the body is ${answer.contentType ? `"${answer.contentType}"` : 'of no content type'}, not JSON${quote(answer.text)}`,
    };
  }
  try {
    return { ok: true, value: JSON.parse(answer.text) as unknown };
  } catch (error) {
    return { ok: false, problem: `the body is not valid JSON (${(error as Error).message})${quote(answer.text)}` };
  }
}

function healthStatusProblem(value: unknown): string | undefined {
  if (!isObject(value)) return `expected an object, got ${kindOf(value)}`;
  if (!isObject(value.services)) return `"services" is ${kindOf(value.services)}; expected an object`;
  if (typeof value.overall_status !== 'string') return `"overall_status" is ${kindOf(value.overall_status)}; expected a string`;
  for (const [tag, entry] of Object.entries(value.services)) {
    if (!isObject(entry) || typeof entry.status !== 'string') return `services[${JSON.stringify(tag)}] has no string "status"`;
  }
  return undefined;
}

function serviceHealthProblem(value: unknown): string | undefined {
  if (!isObject(value)) return `expected an object, got ${kindOf(value)}`;
  if (typeof value.service !== 'string') return `"service" is ${kindOf(value.service)}; expected a string`;
  if (typeof value.status !== 'string') return `"status" is ${kindOf(value.status)}; expected a string`;
  return undefined;
}

function unexpectedStatus(answer: Answer, parsed: Parsed): HealthMonitorError {
  const said =
    parsed.ok && isObject(parsed.value) && typeof parsed.value.error === 'string'
      ? `: ${truncate(parsed.value.error)}`
      : parsed.ok
        ? ''
        : ` (${parsed.problem})`;
  return new HealthMonitorError(`GET ${answer.url} answered HTTP ${answer.status}${said}`, 'http_status', answer.url, {
    status: answer.status,
  });
}

function badResponse(answer: Answer, problem: string): HealthMonitorError {
  return new HealthMonitorError(`GET ${answer.url} answered HTTP ${answer.status}, but ${problem}.`, 'bad_response', answer.url, {
    status: answer.status,
  });
}

function isAbort(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}

/** The most precise reason fetch gives: undici hides the system error (ECONNREFUSED, ENOTFOUND...) in `cause`. */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: unknown } | null)?.cause;
  const inner = (cause ?? error) as { code?: unknown; message?: unknown } | null;
  const code = typeof inner?.code === 'string' ? inner.code : undefined;
  const message = typeof inner?.message === 'string' ? inner.message : String(error);
  if (code === 'ECONNREFUSED') return 'connection refused (ECONNREFUSED), nothing listens there';
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'missing';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function truncate(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > QUOTE_LENGTH ? `${flat.slice(0, QUOTE_LENGTH)}…` : flat;
}

function quote(text: string): string {
  return text.trim() === '' ? ' (empty)' : `: ${JSON.stringify(truncate(text))}`;
}
