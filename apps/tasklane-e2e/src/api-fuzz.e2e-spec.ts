import fc from 'fast-check';
import { Channel } from 'amqplib';
import { Connection, createConnection } from 'mysql2/promise';
import {
  TASK_NAMES,
  TASK_STATUSES,
  TASK_TYPES,
  TaskResource,
  taskQueueName,
  toWellFormedString,
} from '@tasklane/contracts';
import { RawRequest, RawResponse, rawRequest } from './support/raw-http';
import { TasklaneSystem } from './support/tasklane-system';

/**
 * Property-based end-to-end test of the hardened API (issue #4): the real gateway, as a process,
 * gets arbitrary bodies (any JSON, objects with `__proto__`/`constructor` keys, unicode oddities,
 * huge numbers, random bytes and invalid UTF-8), arbitrary headers (content type, credentials,
 * request id) and arbitrary query strings on every endpoint (tasks and schedules) — once with API keys configured, once
 * without. Whatever arrives: never a 5xx; every response is JSON, every error has its
 * `statusCode`; a rejected request (4xx) writes no row and publishes no message; and with keys,
 * nothing succeeds without a valid key, nor writes with a read-only one.
 *
 * Only the gateway runs (no workers, no tracker), so every published command stays in its queue.
 * Example-based tests of the same cases follow the properties.
 */

const RW = 'fuzz-read-write-0123456789abcdef';
const RO = 'fuzz-read-only-0123456789abcdef';
const RUNS_PER_ENDPOINT = Number(process.env['TASKLANE_FUZZ_RUNS'] ?? 150);
const email = { to: 'ada@example.com', subject: 'Hello', body: 'Hi Ada' };

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  errors?: Array<{ field: string; message: string }>;
}

// ---------------------------------------------------------------------------------------------
// What the gateway changed: rows of background_tasks (a fingerprint of the columns a request may
// touch — not dispatched_at, which the gateway sets shortly after a 201) and queued commands.
// ---------------------------------------------------------------------------------------------

interface SideEffects {
  rows: number;
  fingerprint: string;
  queued: number;
}

class Observer {
  private constructor(
    private readonly database: Connection,
    private readonly channel: Channel,
  ) {}

  static async open(system: TasklaneSystem): Promise<Observer> {
    const database = await createConnection({ uri: system.database.url, timezone: 'Z' });
    const channel = await (await system.brokerConnection()).createChannel();
    channel.on('error', () => undefined);
    return new Observer(database, channel);
  }

  async snapshot(): Promise<SideEffects> {
    const [[row]] = (await this.database.query(
      `SELECT COUNT(*) AS n,
              COALESCE(SUM(CRC32(CONCAT_WS('|', id, task_id, task_name, task_type, status, priority, retry_count,
                max_retries, IFNULL(params, ''), IFNULL(result, ''), IFNULL(error_message, ''),
                IFNULL(started_at, ''), IFNULL(completed_at, '')))), 0) AS crc
         FROM background_tasks`,
    )) as unknown as [Array<{ n: number; crc: string }>];
    const [[schedules]] = (await this.database.query(
      `SELECT COUNT(*) AS n,
              COALESCE(SUM(CRC32(CONCAT_WS('|', id, schedule_id, name, cron, timezone, missed_policy, overlap_policy, enabled,
                task_name, task_type, params, priority, max_retries, timeout_ms, IFNULL(next_run_at, '')))), 0) AS crc
         FROM task_schedules`,
    )) as unknown as [Array<{ n: number; crc: string }>];
    const queues = await Promise.all(TASK_TYPES.map((type) => this.channel.checkQueue(taskQueueName(type))));
    return {
      rows: Number(row.n) + Number(schedules.n),
      fingerprint: `${String(row.crc)}/${String(schedules.crc)}`,
      queued: queues.reduce((sum, queue) => sum + queue.messageCount, 0),
    };
  }

  async close(): Promise<void> {
    await this.channel.close().catch(() => undefined);
    await this.database.end().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

/** Strings nobody should have to handle, and a few that look like attacks. */
const ODD_STRINGS = [
  '\uD800',
  '\uDFFF',
  'a\uDBFFb',
  '\uDC00\uD800',
  '\u0000',
  '\u0001\u001F\u007F',
  '\uFEFF',
  '\u202E',
  '\uFFFE\uFFFF',
  '\u{1F600}',
  'e\u0301',
  '\u200B',
  '',
  ' ',
  "' OR '1'='1",
  "email.send'; DROP TABLE background_tasks; --",
  '" OR ""="',
  '\\',
  '%00',
  '%zz',
  '../../etc/passwd',
  '${jndi:ldap://x}',
  '<script>alert(1)</script>',
  'x'.repeat(300),
];

const FIELD_NAMES = [
  '__proto__',
  'constructor',
  'prototype',
  'task_name',
  'task_type',
  'params',
  'priority',
  'max_retries',
  'timeout_ms',
  'to',
  'subject',
  'body',
  'from',
  'ms',
  'message',
  'format',
  'older_than_days',
  'batch_size',
  'status',
  'limit',
  'offset',
];

/** Number tokens as JSON text: JSON.stringify cannot write 1e400 or 9007199254740993. */
const NUMBER_TOKENS = [
  '0',
  '-0',
  '1',
  '5',
  '10',
  '11',
  '-1',
  '2.5',
  '1e400',
  '-1e400',
  '1e-400',
  '9007199254740993',
  '-9007199254740993',
  '1e21',
  '123456789012345678901234567890',
  '0.1e1',
  '1E2',
];

const stringValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...ODD_STRINGS, ...TASK_NAMES, ...TASK_TYPES, ...TASK_STATUSES, 'ada@example.com'),
  fc.string({ unit: 'binary', maxLength: 16 }),
  fc.string({ maxLength: 16 }),
);

const fieldName: fc.Arbitrary<string> = fc.oneof(fc.constantFrom(...FIELD_NAMES), stringValue);

const numberText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...NUMBER_TOKENS),
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => JSON.stringify(value)),
);

/** `JSON.stringify` escapes unpaired surrogates (`"\ud800"`): the text stays valid JSON. */
const stringText = stringValue.map((value) => JSON.stringify(value));

/** Any JSON value, as text. */
const { json: jsonText } = fc.letrec<{ json: string; object: string; array: string }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    stringText,
    numberText,
    fc.constantFrom('true', 'false', 'null'),
    tie('object'),
    tie('array'),
  ),
  object: fc
    .array(fc.tuple(fieldName, tie('json')), { maxLength: 5 })
    .map((entries) => `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`),
  array: fc.array(tie('json'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
}));

const VALID_PARAMS = [
  JSON.stringify(email),
  '{}',
  '{"ms":1}',
  '{"message":"boom"}',
  '{"older_than_days":30}',
  '{"format":"csv"}',
];

/** Bodies shaped like an enqueue request, to get past the first checks (some are even valid). */
const enqueueText: fc.Arbitrary<string> = fc
  .record(
    {
      task_name: fc.oneof(
        fc.constantFrom(...TASK_NAMES).map((name) => JSON.stringify(name)),
        stringText,
        jsonText,
      ),
      task_type: fc.oneof(
        fc.constantFrom(...TASK_TYPES).map((type) => JSON.stringify(type)),
        jsonText,
      ),
      params: fc.oneof(fc.constantFrom(...VALID_PARAMS), jsonText),
      priority: fc.oneof(numberText, jsonText),
      max_retries: fc.oneof(numberText, jsonText),
      extra: fc.array(fc.tuple(fieldName, jsonText), { maxLength: 2 }),
    },
    { requiredKeys: ['task_name'] },
  )
  .map(({ extra, ...known }) => {
    const entries = [
      ...Object.entries(known).filter(([, value]) => value !== undefined),
      ...(extra ?? []).map(([key, value]) => [key, value] as const),
    ];
    return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`;
  });

/** Odd but well-formed strings: accepted where the DTO allows them, and stored faithfully. */
const wellFormedOdd: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...ODD_STRINGS.filter((text) => text !== '' && toWellFormedString(text) === text)),
  fc.string({ minLength: 1, maxLength: 16 }),
);

/** Enqueue bodies that are valid or nearly so, with odd characters where free text is allowed. */
const plausibleEnqueueText: fc.Arbitrary<string> = fc.oneof(
  fc
    .record({
      subject: wellFormedOdd,
      body: fc.oneof(wellFormedOdd, stringValue),
      priority: fc.integer({ min: -1, max: 11 }),
      max_retries: fc.integer({ min: -1, max: 11 }),
    })
    .map(({ subject, body: text, priority, max_retries }) =>
      JSON.stringify({
        task_name: 'email.send',
        params: { to: 'ada@example.com', subject, body: text },
        priority,
        max_retries,
      }),
    ),
  fc
    .record({ message: fc.oneof(wellFormedOdd, stringValue), task_type: fc.constantFrom(...TASK_TYPES, 'sms') })
    .map(({ message, task_type }) => JSON.stringify({ task_name: 'diagnostic.fail', task_type, params: { message } })),
  fc.constantFrom(...TASK_NAMES).map((task_name) => JSON.stringify({ task_name })),
);

/** Batch enqueue bodies: `{"tasks": [...]}` holding enqueue-shaped items, valid or not. */
const batchText: fc.Arbitrary<string> = fc
  .array(fc.oneof(plausibleEnqueueText, enqueueText, jsonText), { maxLength: 4 })
  .map((items) => `{"tasks":[${items.join(',')}]}`);

const INVALID_UTF8 = [
  [0xff],
  [0xfe, 0xff],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xe2, 0x82],
  [0x80],
  [0xf4, 0x90, 0x80, 0x80],
];

const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');

const body: fc.Arbitrary<Buffer | undefined> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
  { weight: 4, arbitrary: plausibleEnqueueText.map(utf8) },
  { weight: 3, arbitrary: enqueueText.map(utf8) },
  { weight: 2, arbitrary: batchText.map(utf8) },
  { weight: 2, arbitrary: jsonText.map(utf8) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)) },
  // Invalid UTF-8 somewhere inside an otherwise plausible body.
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.oneof(plausibleEnqueueText, enqueueText, batchText), fc.constantFrom(...INVALID_UTF8), fc.nat())
      .map(([text, bytes, at]) => {
        const encoded = utf8(text);
        const cut = at % (encoded.length + 1);
        return Buffer.concat([encoded.subarray(0, cut), Buffer.from(bytes), encoded.subarray(cut)]);
      }),
  },
);

/** What Node lets a client send as a header value: tab, printable ASCII and Latin-1. */
const headerValue: fc.Arbitrary<string> = fc.string({
  unit: fc
    .oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff }), fc.constant(0x09))
    .map((code) => String.fromCharCode(code)),
  maxLength: 40,
});

const ODD_CONTENT_TYPES = [
  'APPLICATION/JSON',
  'application/json; charset=latin1',
  'application/json; charset="utf-16"',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/vnd.api+json',
  'application/json, text/plain',
  '*/*',
  '',
];

/** A header that is mostly absent (`absent` out of `absent + 1` times… weighted). */
function sometimes<T>(
  arbitrary: fc.Arbitrary<T>,
  weightPresent: number,
  weightAbsent: number,
): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: weightAbsent, arbitrary: fc.constant(undefined) }, { weight: weightPresent, arbitrary });
}

function headersArbitrary(withKeys: boolean): fc.Arbitrary<Record<string, string>> {
  const keys = withKeys ? [RW, RO] : ['some-key-0123456789abcdef'];
  const authorization = fc.oneof(
    { weight: 4, arbitrary: fc.constant(`Bearer ${keys[0]}`) },
    { weight: 2, arbitrary: fc.constant(`Bearer ${keys[keys.length - 1]}`) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        ...keys.map((key) => `bearer  ${key} `),
        ...keys.map((key) => `Bearer ${key}x`),
        `Bearer ${keys[0]},${keys[keys.length - 1]}`,
        'Bearer',
        'Bearer ',
        'Basic dXNlcjpwYXNzd29yZA==',
        keys[0],
      ),
    },
    { weight: 1, arbitrary: headerValue.map((value) => `Bearer ${value}`) },
    { weight: 1, arbitrary: headerValue },
  );
  const apiKey = fc.oneof(
    fc.constantFrom(...keys, ...keys.map((key) => ` ${key} `), ...keys.map((key) => key.toUpperCase()), ''),
    headerValue,
  );
  const contentType = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8') },
    { weight: 1, arbitrary: fc.constantFrom(...ODD_CONTENT_TYPES) },
    { weight: 1, arbitrary: headerValue },
  );
  const requestId = fc.oneof(fc.constantFrom('req-1', 'a'.repeat(200), '../../x', 'with space'), headerValue);
  return fc
    .record({
      'content-type': sometimes(contentType, 9, 1),
      authorization: sometimes(authorization, 4, 1),
      'x-api-key': sometimes(apiKey, 1, 3),
      'x-request-id': sometimes(requestId, 1, 2),
    })
    .map(
      (headers) =>
        Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== undefined)) as Record<
          string,
          string
        >,
    );
}

/** Percent-encodes any string (unpaired surrogates become U+FFFD: raw tokens cover those). */
function percentEncode(text: string): string {
  return encodeURIComponent(toWellFormedString(text));
}

const queryPiece: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'status',
    'task_type',
    'limit',
    'offset',
    'cursor',
    '__proto__',
    'constructor',
    'prototype',
    'sort',
    '__proto__[x]',
    'constructor[prototype][x]',
  ),
  fc.constantFrom(
    ...TASK_STATUSES,
    ...TASK_TYPES,
    '5',
    '0',
    '-1',
    '501',
    '1e400',
    '99999999999999999999',
    '2.5',
    'abc',
    // cursors: a valid one (id 123), non-canonical, zero, padded
    'MTIz',
    'MTJ',
    'MA',
    'MTIz%3D',
  ),
  fc.constantFrom(
    '%zz',
    '%',
    '%FF',
    '%ED%A0%80',
    '%C0%AF',
    '%00',
    '%E2%82',
    '+',
    '%2B',
    '%26',
    '%3D',
    '%F0%9F%98%80',
    '\u00e9',
  ),
  stringValue.map(percentEncode),
);

const queryString: fc.Arbitrary<string> = fc.oneof(
  fc.constant(''),
  fc
    .array(fc.tuple(queryPiece, fc.option(queryPiece, { nil: undefined })), { maxLength: 4 })
    .map((pairs) => `?${pairs.map(([key, value]) => (value === undefined ? key : `${key}=${value}`)).join('&')}`),
);

function idSegment(existing: () => string[]): fc.Arbitrary<string> {
  return fc.oneof(
    fc.nat().map((index) => existing()[index % existing().length]),
    fc.uuid(),
    fc.uuid().map((id) => id.toUpperCase()),
    fc.constantFrom(
      '%zz',
      '%ED%A0%80',
      '%FF',
      '..',
      '%2e%2e',
      '%2F',
      'a'.repeat(150),
      "1'%20OR%20'1'='1",
      '%00',
      'null',
      '0',
      '%F0%9F%98%80',
    ),
    stringValue.filter((text) => text !== '').map(percentEncode),
  );
}

// ---------------------------------------------------------------------------------------------
// Endpoints and the oracle
// ---------------------------------------------------------------------------------------------

interface Endpoint {
  name: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: (id: string) => string;
}

const ENDPOINTS: Endpoint[] = [
  { name: 'POST /api/tasks/enqueue', method: 'POST', path: () => '/api/tasks/enqueue' },
  { name: 'POST /api/tasks/enqueue/batch', method: 'POST', path: () => '/api/tasks/enqueue/batch' },
  { name: 'GET /api/tasks/', method: 'GET', path: () => '/api/tasks/' },
  { name: 'GET /api/tasks/count/all', method: 'GET', path: () => '/api/tasks/count/all' },
  { name: 'GET /api/tasks/{id}', method: 'GET', path: (id) => `/api/tasks/${id}` },
  { name: 'GET /api/tasks/{id}/runs', method: 'GET', path: (id) => `/api/tasks/${id}/runs` },
  { name: 'POST /api/tasks/{id}/cancel', method: 'POST', path: (id) => `/api/tasks/${id}/cancel` },
  { name: 'POST /api/tasks/{id}/retry', method: 'POST', path: (id) => `/api/tasks/${id}/retry` },
  { name: 'POST /api/schedules', method: 'POST', path: () => '/api/schedules' },
  { name: 'GET /api/schedules', method: 'GET', path: () => '/api/schedules' },
  { name: 'GET /api/schedules/{id}', method: 'GET', path: (id) => `/api/schedules/${id}` },
  { name: 'PATCH /api/schedules/{id}', method: 'PATCH', path: (id) => `/api/schedules/${id}` },
  { name: 'DELETE /api/schedules/{id}', method: 'DELETE', path: (id) => `/api/schedules/${id}` },
];

type Access = 'read-write' | 'read-only' | 'none';

/** Which key a request presents, judged independently of the gateway's code. */
function accessOf(headers: Record<string, string>): Access {
  // The server strips surrounding whitespace from header values.
  const authorization = headers['authorization']?.trim();
  const apiKey = headers['x-api-key']?.trim();
  let bearer: string | undefined;
  if (authorization !== undefined) {
    const match = /^Bearer +([^\s,]+)$/i.exec(authorization);
    if (!match) {
      return 'none';
    }
    bearer = match[1];
  }
  if (apiKey === '' || (bearer !== undefined && apiKey !== undefined && bearer !== apiKey)) {
    return 'none';
  }
  const key = bearer ?? apiKey;
  return key === RW ? 'read-write' : key === RO ? 'read-only' : 'none';
}

const LEAKS = /\n\s+at |node_modules|\/work\/|dist\/apps|\.ts:\d+|\.js:\d+|ER_[A-Z]{3,}|\bsqlMessage\b|FST_ERR/;

function describeRequest(request: RawRequest): string {
  return JSON.stringify({
    method: request.method,
    path: request.path,
    headers: request.headers,
    body: request.body === undefined ? undefined : request.body.toString('latin1').slice(0, 400),
  });
}

/** The invariants every response must keep. */
function checkResponse(request: RawRequest, response: RawResponse, withKeys: boolean): void {
  const where = `${describeRequest(request)} → ${response.status} ${response.text.slice(0, 300)}`;
  if (response.status >= 500 || response.status < 200) {
    throw new Error(`5xx (or no status): ${where}`);
  }
  // A DELETE that deleted answers 204 with no body at all; everything else is JSON.
  const noContent = response.status === 204 && request.method === 'DELETE';
  if (noContent && response.text !== '') {
    throw new Error(`204 with a body: ${where}`);
  }
  if (!noContent && !/^application\/json/.test(String(response.headers['content-type']))) {
    throw new Error(`not JSON: ${where}`);
  }
  let parsed: unknown = null;
  try {
    parsed = noContent ? null : JSON.parse(response.text);
  } catch {
    throw new Error(`unparsable JSON: ${where}`);
  }
  if (response.status >= 400) {
    const error = parsed as Partial<ErrorBody> | null;
    if (error?.statusCode !== response.status || typeof error.message !== 'string' || typeof error.error !== 'string') {
      throw new Error(`error body without statusCode/error/message: ${where}`);
    }
    if (LEAKS.test(response.text)) {
      throw new Error(`error body leaks internals: ${where}`);
    }
  }
  const access = accessOf(request.headers ?? {});
  if (withKeys) {
    if (access === 'none' && (response.status < 400 || [403, 409].includes(response.status))) {
      throw new Error(`reached a handler without a valid key: ${where}`);
    }
    if (access === 'read-only' && request.method !== 'GET' && (response.status < 400 || response.status === 409)) {
      throw new Error(`a read-only key reached a write handler: ${where}`);
    }
    if (response.status === 401 && !/^Bearer/.test(String(response.headers['www-authenticate']))) {
      throw new Error(`401 without WWW-Authenticate: Bearer: ${where}`);
    }
  } else if (response.status === 401 || response.status === 403) {
    throw new Error(`401/403 without configured keys: ${where}`);
  }
}

function sameEffects(before: SideEffects, after: SideEffects): boolean {
  return before.rows === after.rows && before.fingerprint === after.fingerprint && before.queued === after.queued;
}

async function fuzzEndpoint(
  system: TasklaneSystem,
  observer: Observer,
  endpoint: Endpoint,
  withKeys: boolean,
  existingIds: () => string[],
): Promise<{ statuses: Record<number, number> }> {
  const statuses: Record<number, number> = {};
  await fc.assert(
    fc.asyncProperty(
      idSegment(existingIds),
      queryString,
      body,
      headersArbitrary(withKeys),
      async (id, query, payload, headers) => {
        const request: RawRequest = {
          method: endpoint.method,
          path: `${endpoint.path(id)}${query}`,
          headers,
          body: payload,
        };
        const before = await observer.snapshot();
        const response = await rawRequest(system.baseUrl, request);
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        checkResponse(request, response, withKeys);
        if (response.status >= 400) {
          const after = await observer.snapshot();
          if (!sameEffects(before, after)) {
            throw new Error(
              `a rejected request changed something (${JSON.stringify({ before, after })}): ` +
                `${describeRequest(request)} → ${response.status} ${response.text.slice(0, 300)}`,
            );
          }
        }
      },
    ),
    { numRuns: RUNS_PER_ENDPOINT },
  );
  return { statuses };
}

// ---------------------------------------------------------------------------------------------

describe.each([
  { mode: 'with API keys', withKeys: true },
  { mode: 'without API keys (open)', withKeys: false },
])('API under arbitrary input, $mode', ({ withKeys }) => {
  let system: TasklaneSystem;
  let observer: Observer;
  const ids: string[] = [];
  const auth: Record<string, string> = withKeys ? { authorization: `Bearer ${RW}` } : {};

  async function seed(): Promise<TaskResource> {
    const response = await system.request<TaskResource>(
      'POST',
      '/api/tasks/enqueue',
      { task_name: 'email.send', params: email },
      auth,
    );
    expect(response.status).toBe(201);
    ids.push(response.body.task_id);
    return response.body;
  }

  beforeAll(async () => {
    system = await TasklaneSystem.start(withKeys ? 'fuzz-keys' : 'fuzz-open', {
      apps: ['api-gateway'],
      env: withKeys ? { API_KEYS_READ_WRITE: RW, API_KEYS_READ_ONLY: RO } : {},
    });
    observer = await Observer.open(system);
    for (let i = 0; i < 3; i += 1) {
      await seed();
    }
    // One cancelled task, so that retry has something it may re-queue.
    const cancelled = await seed();
    expect((await system.request('POST', `/api/tasks/${cancelled.task_id}/cancel`, undefined, auth)).status).toBe(200);
    // A paused schedule, so that the schedule endpoints also meet an id that exists.
    const schedule = await system.request<{ schedule_id: string }>(
      'POST',
      '/api/schedules',
      { name: 'fuzzed', cron: '0 3 1 1 *', enabled: false, task_name: 'analytics.task_stats' },
      auth,
    );
    expect(schedule.status).toBe(201);
    ids.push(schedule.body.schedule_id);
  }, 120_000);

  afterAll(async () => {
    await observer?.close();
    await system?.stop();
  });

  it.each(ENDPOINTS)(
    '$name: never a 5xx, always JSON, and a rejected request changes nothing',
    async (endpoint) => {
      const { statuses } = await fuzzEndpoint(system, observer, endpoint, withKeys, () => ids);
      // The generators reach both sides: some requests are rejected, and the gateway keeps running.
      expect(Object.keys(statuses).some((status) => Number(status) >= 400)).toBe(true);
      expect(await system.readiness('api-gateway')).toBe(200);
    },
    120_000,
  );

  it('logs the mode at start-up, never a key', () => {
    const logs = system.apps.get('api-gateway')?.logs() ?? '';
    if (withKeys) {
      expect(logs).toMatch(/API keys required: 1 read-write, 1 read-only/);
      expect(logs).not.toContain('NO API KEYS CONFIGURED');
    } else {
      expect(logs).toContain('NO API KEYS CONFIGURED: the API is OPEN');
    }
    expect(logs).not.toContain(RW);
    expect(logs).not.toContain(RO);
  });
});
