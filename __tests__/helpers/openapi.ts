import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import { parse } from 'yaml';

export const CONTRACT_FILE = join(__dirname, '..', '..', 'openapi.yaml');

/** The `$id` the document is known by inside ajv, so its `#/components/...` refs resolve in place. */
const CONTRACT_ID = 'https://express-heartbeat.invalid/openapi.yaml';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

type JsonObject = Record<string, unknown>;

/** A response object of the document, found for one request. */
export interface DocumentedResponse {
  /** What was looked up, e.g. `GET /api/health/service/{name} 404` or `wrongMethod 405`. */
  readonly key: string;
  /** JSON pointer of the (ref-resolved) response object in the document. */
  readonly pointer: string;
  readonly response: JsonObject;
  /** The document path the request matched, e.g. `/api/health/service/{name}`; none for an unknown path. */
  readonly template?: string;
}

/** What the test saw, in the shape the contract checks. */
export interface Observed {
  method: string;
  /** The raw request path, percent-encoding kept, without the query. */
  path: string;
  status: number;
  headers: Record<string, string | undefined>;
  /** The parsed JSON body, or the text for a non-JSON answer. */
  body: unknown;
}

/** A request as it was sent, for checking its body against the operation's `requestBody`. */
export interface SentRequest {
  method: string;
  /** The raw request path, percent-encoding kept, without the query. */
  path: string;
  /** The `Content-Type` header sent, if any. */
  contentType?: string;
  /** The body as sent (JSON text for a JSON body); undefined when none was sent. */
  body?: string;
}

/** One event of a `text/event-stream` answer, as an EventSource delivers it. */
export interface ObservedEvent {
  /** The event name (`message` when the frame named none). */
  event: string;
  /** The event's data: the `data:` lines, joined with LF. */
  data: string;
}

/**
 * Where a streaming media type names the schema of each event's data, keyed by event name:
 * OpenAPI 3.1 has no field for it, so the document uses this annotation.
 */
export const EVENTS_KEY = 'x-events';

/**
 * On an answer that switches protocols (101, a WebSocket): the schema of each message, whose
 * `event` names its data's schema in the answer's own `x-events`, since it has no media type.
 */
export const MESSAGE_KEY = 'x-message';

/**
 * On a response under `x-fallback-responses`: the only document paths it may be given on.
 * OpenAPI has no field for it either.
 */
export const PATHS_KEY = 'x-paths';

/** A body schema's alternatives (`oneOf` or `anyOf`), each named by its `$ref` or by its index. */
interface Alternative {
  name: string;
  pointer: string;
}

/** RFC 3339 date-time, as JSON Schema's `format: date-time` means it. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * The OpenAPI document, with an ajv (JSON Schema 2020-12) that knows it: schemas are compiled
 * by JSON pointer into the document, so every `$ref` resolves against the document itself.
 */
export class Contract {
  readonly document: JsonObject;
  /** Every `key` of DocumentedResponse that a check has passed through. */
  readonly exercised = new Set<string>();
  private readonly ajv: Ajv2020;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(file = CONTRACT_FILE) {
    this.document = parse(readFileSync(file, 'utf8')) as JsonObject;
    this.ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
    this.ajv.addFormat('date-time', {
      type: 'string',
      validate: (value: string) => DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)),
    });
    // The document's top-level keys are not JSON Schema keywords: declare them as plain
    // annotations, so ajv (strict) accepts the document as the resource its refs point into.
    for (const key of Object.keys(this.document)) this.ajv.addKeyword({ keyword: key });
    this.ajv.addSchema({ ...this.document, $id: CONTRACT_ID });
  }

  /** The templated paths of the document, e.g. `/api/health/service/{name}`. */
  paths(): string[] {
    return Object.keys(this.object(this.document.paths, '/paths'));
  }

  /**
   * Every response key the document declares, as `lookup()` names them, and every event a
   * streaming response declares, as `eventProblems()` names them (`<response key> event <name>`).
   */
  documentedKeys(): string[] {
    const keys: string[] = [];
    for (const template of this.paths()) {
      const item = this.object(this.document.paths, '/paths')[template] as JsonObject;
      for (const method of HTTP_METHODS) {
        const operation = item[method] as JsonObject | undefined;
        if (!operation) continue;
        const responses = this.object(operation.responses, `${template} ${method} responses`);
        for (const [status, response] of Object.entries(responses)) {
          const key = `${method.toUpperCase()} ${template} ${status}`;
          keys.push(key, ...this.alternativeKeys(key, response, `/paths/${escapePointer(template)}/${method}/responses/${status}`));
        }
      }
    }
    for (const [name, fallback] of Object.entries(this.fallbacks())) {
      for (const [status, response] of Object.entries(this.object(fallback.responses, `${name} responses`))) {
        const key = `${name} ${status}`;
        keys.push(key, ...this.alternativeKeys(key, response, `/x-fallback-responses/${escapePointer(name)}/responses/${status}`));
      }
    }
    return keys;
  }

  /**
   * The keys of a response's events (`<key> event <name>`) and of the alternatives of its
   * bodies and events (`<key> <media type> as <alternative>`, `<key> event <name> as <alternative>`):
   * an alternative counts as exercised only by a body that matches it and no other.
   */
  private alternativeKeys(key: string, response: unknown, pointer: string): string[] {
    const keys: string[] = [];
    const resolved = this.resolve(response, pointer);
    const content = (resolved.value.content ?? {}) as JsonObject;
    // A WebSocket's 101 has no content: its events are the answer's own.
    const carriers: [string, JsonObject][] = Object.entries(content).map(([mediaType, media]) => [
      `${resolved.pointer}/content/${escapePointer(mediaType)}`,
      media as JsonObject,
    ]);
    if (resolved.value.content === undefined) carriers.push([resolved.pointer, resolved.value]);
    for (const [mediaType] of Object.entries(content)) {
      const mediaPointer = `${resolved.pointer}/content/${escapePointer(mediaType)}`;
      for (const alternative of this.alternatives(`${mediaPointer}/schema`)) keys.push(`${key} ${mediaType} as ${alternative.name}`);
    }
    for (const [mediaPointer, media] of carriers) {
      const events = media[EVENTS_KEY];
      if (events === undefined) continue;
      for (const name of Object.keys(this.object(events, `${key} ${EVENTS_KEY}`))) {
        keys.push(`${key} event ${name}`);
        for (const alternative of this.alternatives(`${mediaPointer}/${EVENTS_KEY}/${escapePointer(name)}`)) {
          keys.push(`${key} event ${name} as ${alternative.name}`);
        }
      }
    }
    return keys;
  }

  /** The `oneOf` or `anyOf` alternatives of the schema at a pointer, after its plain `$ref`s; none if it has neither. */
  private alternatives(pointer: string): Alternative[] {
    let at = pointer;
    let schema = pointerGet(this.document, at);
    for (let hops = 0; isObject(schema) && typeof schema.$ref === 'string' && !('oneOf' in schema) && !('anyOf' in schema); hops++) {
      if (hops > 10 || !schema.$ref.startsWith('#/')) return [];
      at = schema.$ref.slice(1);
      schema = pointerGet(this.document, at);
    }
    if (!isObject(schema)) return [];
    const keyword = Array.isArray(schema.oneOf) ? 'oneOf' : Array.isArray(schema.anyOf) ? 'anyOf' : undefined;
    if (!keyword) return [];
    return (schema[keyword] as unknown[]).map((item, index) => ({
      name: isObject(item) && typeof item.$ref === 'string' ? (item.$ref.split('/').pop() as string) : `#${index}`,
      pointer: `${at}/${keyword}/${index}`,
    }));
  }

  /** Records the one alternative a valid value matches, if exactly one does. */
  private exerciseAlternative(key: string, schemaPointer: string, value: unknown): void {
    const matching = this.alternatives(schemaPointer).filter((alternative) => this.validator(alternative.pointer)(value));
    if (matching.length === 1) this.exercised.add(`${key} as ${(matching[0] as Alternative).name}`);
  }

  /**
   * The response the document declares for this method, raw path and status. Throws, naming
   * what is missing, if the path is not in the document or the status is not declared there.
   */
  lookup(method: string, rawPath: string, status: number): DocumentedResponse {
    const verb = method.toLowerCase();
    const template = this.matchPath(rawPath);
    let responses: JsonObject;
    let where: string;
    let base: string;
    if (template !== undefined) {
      const item = this.object(this.document.paths, '/paths')[template] as JsonObject;
      const operation = item[verb] as JsonObject | undefined;
      if (operation) {
        where = `${method.toUpperCase()} ${template}`;
        base = `/paths/${escapePointer(template)}/${verb}/responses`;
        responses = this.object(operation.responses, `${where} responses`);
      } else {
        where = 'wrongMethod';
        base = '/x-fallback-responses/wrongMethod/responses';
        responses = this.object(this.fallbacks().wrongMethod, where).responses as JsonObject;
      }
    } else {
      const unknown = this.object(this.fallbacks().unknownPath, 'unknownPath');
      const prefix = String(unknown.pathPrefix);
      if (rawPath !== prefix && !rawPath.startsWith(`${prefix}/`)) {
        throw new Error(`${method.toUpperCase()} ${rawPath} is not in the contract: no path matches and it is outside ${prefix}.`);
      }
      where = 'unknownPath';
      base = '/x-fallback-responses/unknownPath/responses';
      responses = unknown.responses as JsonObject;
    }
    const code = String(status);
    if (!(code in responses)) {
      throw new Error(
        `The contract does not document status ${code} for ${method.toUpperCase()} ${rawPath} (${where}); documented: ${Object.keys(responses).join(', ')}.`,
      );
    }
    const only = this.object(responses[code], `${base}/${code}`)[PATHS_KEY];
    if (only !== undefined && !(Array.isArray(only) && template !== undefined && only.includes(template))) {
      throw new Error(
        `The contract documents status ${code} for ${where} only on ${JSON.stringify(only)}, not for ${method.toUpperCase()} ${rawPath}${template ? ` (${template})` : ''}.`,
      );
    }
    const resolved = this.resolve(responses[code], `${base}/${code}`);
    return {
      key: `${where} ${code}`,
      pointer: resolved.pointer,
      response: resolved.value,
      ...(template === undefined ? {} : { template }),
    };
  }

  /**
   * The `Allow` header a path's wrong-method answer must send: the methods of its operations,
   * in the document's order, with HEAD right after GET unless documented on its own or the GET
   * is a WebSocket handshake (it documents a 101), which RFC 6455 makes a GET only.
   */
  allowedMethods(template: string): string {
    const item = this.object(this.object(this.document.paths, '/paths')[template], template);
    const methods: string[] = [];
    for (const method of Object.keys(item)) {
      if (!(HTTP_METHODS as readonly string[]).includes(method)) continue;
      methods.push(method.toUpperCase());
      const upgrades = method === 'get' && '101' in this.object((item.get as JsonObject).responses, `${template} get responses`);
      if (method === 'get' && !('head' in item) && !upgrades) methods.push('HEAD');
    }
    return methods.join(', ');
  }

  /** The compiled validator for the schema at a JSON pointer of the document. */
  validator(pointer: string): ValidateFunction {
    let validate = this.validators.get(pointer);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `${CONTRACT_ID}#${pointer}` });
      this.validators.set(pointer, validate);
    }
    return validate;
  }

  /** The validator of a component schema, e.g. `HealthStatus`. */
  schema(name: string): ValidateFunction {
    return this.validator(`/components/schemas/${escapePointer(name)}`);
  }

  /**
   * Checks an answer against the contract: its status is documented for its path and method,
   * its media type is one the response declares, its declared headers are present and valid,
   * and its body validates against the declared schema. Returns the problems, empty if none.
   */
  problems(observed: Observed): string[] {
    const documented = this.lookup(observed.method, observed.path, observed.status);
    this.exercised.add(documented.key);
    const found: string[] = [];
    const what = `${observed.method} ${observed.path} → ${observed.status} (${documented.key})`;

    const contentType = observed.headers['content-type'] ?? '';
    const mediaType = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
    if (documented.response.content === undefined) {
      // A response without content (204): no body, and so no content type either.
      if (contentType !== '') found.push(`${what}: the response has no content, but content type ${JSON.stringify(contentType)} was sent`);
      if (observed.body !== undefined && observed.body !== '') found.push(`${what}: the response has no content, but a body was sent`);
    } else {
      const content = this.object(documented.response.content, `${documented.key} content`);
      if (!(mediaType in content)) {
        found.push(`${what}: content type ${JSON.stringify(contentType)} is not one of ${Object.keys(content).join(', ')}`);
      } else {
        const pointer = `${documented.pointer}/content/${escapePointer(mediaType)}/schema`;
        const validate = this.validator(pointer);
        if (!validate(observed.body)) found.push(`${what}: body does not match ${pointer}: ${describeErrors(validate.errors)}`);
        else this.exerciseAlternative(`${documented.key} ${mediaType}`, pointer, observed.body);
      }
    }

    const headers = (documented.response.headers ?? {}) as JsonObject;
    for (const [name, header] of Object.entries(headers)) {
      const resolved = this.resolve(header, `${documented.pointer}/headers/${escapePointer(name)}`);
      const value = observed.headers[name.toLowerCase()];
      if (value === undefined) {
        if (resolved.value.required === true) found.push(`${what}: required header ${name} is missing`);
        continue;
      }
      const validate = this.validator(`${resolved.pointer}/schema`);
      if (!validate(value)) found.push(`${what}: header ${name}: ${JSON.stringify(value)} ${describeErrors(validate.errors)}`);
    }
    // What the Allow header's description says, which a schema cannot: exactly this path's methods.
    const allow = observed.headers.allow;
    if ('Allow' in headers && allow !== undefined && documented.template !== undefined) {
      const expected = this.allowedMethods(documented.template);
      if (allow !== expected)
        found.push(
          `${what}: header Allow: ${JSON.stringify(allow)} is not the methods of ${documented.template}, ${JSON.stringify(expected)}`,
        );
    }
    return found;
  }

  /**
   * Checks a request's body against its operation's `requestBody`: a body where the operation
   * takes none or a missing required one, a content type it does not declare, and a body that
   * is not JSON or does not match the declared schema. Returns the problems, empty if none.
   */
  requestProblems(sent: SentRequest): string[] {
    const template = this.matchPath(sent.path);
    const verb = sent.method.toLowerCase();
    const operation =
      template === undefined
        ? undefined
        : ((this.object(this.document.paths, '/paths')[template] as JsonObject)[verb] as JsonObject | undefined);
    if (template === undefined || !operation)
      throw new Error(`The contract has no operation for ${sent.method.toUpperCase()} ${sent.path}.`);
    const what = `${sent.method.toUpperCase()} ${template} request body`;
    if (operation.requestBody === undefined) return sent.body === undefined ? [] : [`${what}: the operation takes no body`];
    const requestBody = this.resolve(operation.requestBody, `/paths/${escapePointer(template)}/${verb}/requestBody`);
    if (sent.body === undefined) return requestBody.value.required === true ? [`${what}: a body is required`] : [];
    const contentType = sent.contentType ?? '';
    const mediaType = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
    const content = this.object(requestBody.value.content, `${what} content`);
    if (!(mediaType in content))
      return [`${what}: content type ${JSON.stringify(contentType)} is not one of ${Object.keys(content).join(', ')}`];
    let value: unknown = sent.body;
    if (mediaType === 'application/json' || mediaType.endsWith('+json')) {
      try {
        value = JSON.parse(sent.body);
      } catch {
        return [`${what}: not JSON: ${JSON.stringify(sent.body.slice(0, 80))}`];
      }
    }
    const pointer = `${requestBody.pointer}/content/${escapePointer(mediaType)}/schema`;
    const validate = this.validator(pointer);
    return validate(value) ? [] : [`${what}: does not match ${pointer}: ${describeErrors(validate.errors)}`];
  }

  /**
   * Checks one event of a streaming answer (`observed` is the answer it came in; its body is
   * not looked at): the answer's media type declares the event by name under `x-events`, and
   * the event's data is one JSON value valid against the schema declared there. Returns the
   * problems, empty if none.
   */
  eventProblems(observed: Observed, event: ObservedEvent): string[] {
    const documented = this.lookup(observed.method, observed.path, observed.status);
    const what = `${observed.method} ${observed.path} → ${observed.status} (${documented.key}) event ${JSON.stringify(event.event)}`;
    const contentType = observed.headers['content-type'] ?? '';
    const mediaType = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
    const media = (this.object(documented.response.content, `${documented.key} content`)[mediaType] ?? {}) as JsonObject;
    const events = media[EVENTS_KEY];
    if (events === undefined) return [`${what}: the response declares no ${EVENTS_KEY} for ${JSON.stringify(contentType)}`];
    const declared = this.object(events, `${documented.key} ${EVENTS_KEY}`);
    if (!Object.hasOwn(declared, event.event)) {
      return [`${what}: not a documented event; documented: ${Object.keys(declared).join(', ')}`];
    }
    this.exercised.add(`${documented.key} event ${event.event}`);
    let data: unknown;
    try {
      data = JSON.parse(event.data);
    } catch {
      return [`${what}: data is not JSON: ${JSON.stringify(event.data.slice(0, 80))}`];
    }
    const pointer = `${documented.pointer}/content/${escapePointer(mediaType)}/${EVENTS_KEY}/${escapePointer(event.event)}`;
    const validate = this.validator(pointer);
    if (!validate(data)) return [`${what}: data does not match ${pointer}: ${describeErrors(validate.errors)}`];
    this.exerciseAlternative(`${documented.key} event ${event.event}`, pointer, data);
    return [];
  }

  /**
   * Checks one message of a WebSocket (`observed` is its 101 answer): the message is one JSON
   * value valid against the answer's `x-message`, and its `data` against the schema its
   * `x-events` declares for the message's `event`. Returns the problems, empty if none.
   */
  messageProblems(observed: Observed, message: string): string[] {
    const documented = this.lookup(observed.method, observed.path, observed.status);
    const what = `${observed.method} ${observed.path} → ${observed.status} (${documented.key}) message`;
    if (documented.response[MESSAGE_KEY] === undefined) return [`${what}: the response declares no ${MESSAGE_KEY}`];
    let value: unknown;
    try {
      value = JSON.parse(message);
    } catch {
      return [`${what}: not JSON: ${JSON.stringify(message.slice(0, 80))}`];
    }
    const pointer = `${documented.pointer}/${MESSAGE_KEY}`;
    const validate = this.validator(pointer);
    if (!validate(value)) return [`${what}: does not match ${pointer}: ${describeErrors(validate.errors)}`];
    const { event, data } = value as { event: string; data: unknown };
    const declared = this.object(documented.response[EVENTS_KEY], `${documented.key} ${EVENTS_KEY}`);
    if (!Object.hasOwn(declared, event))
      return [`${what} ${JSON.stringify(event)}: not a documented event; documented: ${Object.keys(declared).join(', ')}`];
    this.exercised.add(`${documented.key} event ${event}`);
    const eventPointer = `${documented.pointer}/${EVENTS_KEY}/${escapePointer(event)}`;
    const validateData = this.validator(eventPointer);
    if (!validateData(data))
      return [`${what} ${JSON.stringify(event)}: data does not match ${eventPointer}: ${describeErrors(validateData.errors)}`];
    this.exerciseAlternative(`${documented.key} event ${event}`, eventPointer, data);
    return [];
  }

  /** The document's `x-fallback-responses`. */
  private fallbacks(): Record<string, JsonObject> {
    return this.object(this.document['x-fallback-responses'], 'x-fallback-responses') as Record<string, JsonObject>;
  }

  /** The document path that a raw request path falls under: a literal path first, then a templated one. */
  private matchPath(rawPath: string): string | undefined {
    const templates = this.paths();
    if (templates.includes(rawPath)) return rawPath;
    return templates.find((template) => {
      if (!template.includes('{')) return false;
      // A parameter is one non-empty path segment: an encoded `/` (%2F) stays inside it.
      const pattern = template
        .split(/\{[^}]+\}/)
        .map((literal) => literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]+');
      return new RegExp(`^${pattern}$`).test(rawPath);
    });
  }

  /** Follows an OpenAPI `$ref` (to a response, header, ...) inside the document. */
  private resolve(value: unknown, pointer: string): { value: JsonObject; pointer: string } {
    let current = this.object(value, pointer);
    let at = pointer;
    for (let hops = 0; typeof current.$ref === 'string'; hops++) {
      if (hops > 10) throw new Error(`$ref loop at ${at}`);
      const ref = current.$ref;
      if (!ref.startsWith('#/')) throw new Error(`${at}: only local $refs are supported, not ${ref}`);
      at = ref.slice(1);
      current = this.object(pointerGet(this.document, at), at);
    }
    return { value: current, pointer: at };
  }

  private object(value: unknown, where: string): JsonObject {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`The contract has no object at ${where}.`);
    }
    return value as JsonObject;
  }
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function pointerGet(root: unknown, pointer: string): unknown {
  let current = root;
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, segment)) return undefined;
    current = (current as JsonObject)[segment];
  }
  return current;
}

export function describeErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((error) => `${error.instancePath || '(root)'} ${error.message ?? ''}`.trim()).join('; ');
}
