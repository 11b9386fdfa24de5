import 'reflect-metadata';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { Registry } from 'prom-client';
import { ConfigModule, loadConfig } from '@tasklane/config';
import { MAX_PARAMS_BYTES, encodeTaskCursor } from '@tasklane/contracts';
import { HealthService, TaskMetrics } from '@tasklane/observability';
import { AuthModule } from '../auth/auth.module';
import { GATEWAY_APP_OPTIONS, configureGateway, createGatewayAdapter } from '../create-gateway';
import { GatewayEnv } from '../gateway.env';
import { DashboardController } from '../dashboard/dashboard.controller';
import { DashboardStats } from '../dashboard/dashboard-stats.service';
import { OpsController } from '../ops/ops.controller';
import { TasksController } from '../tasks/tasks.controller';
import { CancelTask } from '../tasks/use-cases/cancel-task.use-case';
import { EnqueueTasks } from '../tasks/use-cases/enqueue-tasks.use-case';
import { RetryFailedTasks } from '../tasks/use-cases/retry-failed-tasks.use-case';
import { WaitForTask } from '../tasks/use-cases/wait-for-task.use-case';
import { RetryTask } from '../tasks/use-cases/retry-task.use-case';
import { TaskQueries } from '../tasks/use-cases/task-queries.service';

// Swagger UI's assets are served by @fastify/static, which needs an ES module Jest cannot load on
// Node 20; the document and the UI page do not use it.
jest.mock('@fastify/static', () => {
  const plugin = async (): Promise<void> => undefined;
  return Object.assign(plugin, { [Symbol.for('skip-override')]: true, default: plugin });
});

/**
 * The gateway's HTTP pipeline in process (Fastify inject, no services): the API-key guard, the
 * strict JSON parser, the request sanity checks and the error bodies, with fake use cases that
 * record every call — a rejected request must never reach them.
 */

const RW = 'rw-key-0123456789abcdef';
const RO = 'ro-key-0123456789abcdef';
const TASK_ID = '01890a5d-ac96-774b-bcce-b302099a8057';
const email = { to: 'ada@example.com', subject: 'Hello', body: 'Hi Ada' };

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  errors?: Array<{ field: string; message: string }>;
}

function fakeTasks(): Record<string, jest.Mock> {
  const task = { task_id: TASK_ID, status: 'pending' };
  return {
    enqueue: jest.fn(async () => ({ result: task, created: true })),
    enqueueBatch: jest.fn(async () => ({ result: [task], created: true })),
    get: jest.fn(async () => task),
    runs: jest.fn(async () => []),
    list: jest.fn(async () => ({ items: [], total: 0, limit: 50, offset: 0, next_cursor: null })),
    count: jest.fn(async () => ({ count: 0 })),
    cancel: jest.fn(async () => task),
    retry: jest.fn(async () => task),
    retryFailed: jest.fn(async () => ({ retried: [task], more: false })),
    summary: jest.fn(async () => ({ counts: [], queues: [], throughput: { interval_ms: 5000, samples: [] } })),
  };
}

async function startGateway(
  env: Record<string, string>,
): Promise<{ app: NestFastifyApplication; tasks: Record<string, jest.Mock> }> {
  const tasks = fakeTasks();
  const gatewayEnv = loadConfig(GatewayEnv, env);
  const module = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(GatewayEnv, env), AuthModule],
    controllers: [TasksController, OpsController, DashboardController],
    providers: [
      { provide: EnqueueTasks, useValue: { one: tasks.enqueue, batch: tasks.enqueueBatch } },
      { provide: TaskQueries, useValue: { get: tasks.get, runs: tasks.runs, list: tasks.list, count: tasks.count } },
      { provide: CancelTask, useValue: { execute: tasks.cancel } },
      { provide: RetryTask, useValue: { execute: tasks.retry } },
      { provide: RetryFailedTasks, useValue: { execute: tasks.retryFailed } },
      { provide: WaitForTask, useValue: { execute: tasks.get } },
      { provide: DashboardStats, useValue: { summary: tasks.summary } },
      {
        provide: HealthService,
        useValue: { readiness: async () => ({ status: 'ready', checks: {} }), markShuttingDown: () => undefined },
      },
      { provide: Registry, useValue: new Registry() },
      { provide: TaskMetrics, useValue: { httpDuration: { observe: () => undefined } } },
    ],
  }).compile();
  const app = module.createNestApplication<NestFastifyApplication>(createGatewayAdapter(gatewayEnv), {
    logger: false,
    ...GATEWAY_APP_OPTIONS,
  });
  await configureGateway(app, gatewayEnv);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return { app, tasks };
}

/** The message of an error body and of each of its field errors. */
function explain(error: ErrorBody): string {
  return [error.message, ...(error.errors ?? []).map((problem) => problem.message)].join(' | ');
}

function called(tasks: Record<string, jest.Mock>): number {
  return Object.values(tasks).reduce((sum, mock) => sum + mock.mock.calls.length, 0);
}

function json<T = ErrorBody>(response: LightMyRequestResponse): T {
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  return JSON.parse(response.body) as T;
}

const ENDPOINTS: Array<{ method: 'GET' | 'POST'; url: string; body?: unknown }> = [
  { method: 'POST', url: '/api/tasks/enqueue', body: { task_name: 'email.send', params: email } },
  { method: 'POST', url: '/api/tasks/enqueue/batch', body: { tasks: [{ task_name: 'email.send', params: email }] } },
  { method: 'GET', url: '/api/tasks/' },
  { method: 'GET', url: '/api/tasks' },
  { method: 'GET', url: '/api/tasks/count/all' },
  { method: 'GET', url: `/api/tasks/${TASK_ID}` },
  { method: 'GET', url: `/api/tasks/${TASK_ID}/runs` },
  { method: 'POST', url: `/api/tasks/${TASK_ID}/cancel` },
  { method: 'POST', url: `/api/tasks/${TASK_ID}/retry` },
];

describe('gateway HTTP pipeline with API keys', () => {
  let app: NestFastifyApplication;
  let tasks: Record<string, jest.Mock>;

  const inject = (options: InjectOptions): Promise<LightMyRequestResponse> =>
    app.getHttpAdapter().getInstance().inject(options);

  beforeAll(async () => {
    ({ app, tasks } = await startGateway({ API_KEYS_READ_WRITE: RW, API_KEYS_READ_ONLY: RO }));
  });

  afterAll(async () => {
    await app?.close();
  });

  beforeEach(() => {
    for (const mock of Object.values(tasks)) {
      mock.mockClear();
    }
  });

  const credentials: Array<[string, Record<string, string>, 'none' | 'bad' | 'ro' | 'rw']> = [
    ['no key', {}, 'none'],
    ['a wrong Bearer key', { authorization: `Bearer ${RW}0` }, 'bad'],
    ['a wrong X-API-Key', { 'x-api-key': 'x'.repeat(20) }, 'bad'],
    ['Basic credentials', { authorization: 'Basic cnc6a2V5' }, 'bad'],
    ['the read-only key (Bearer)', { authorization: `Bearer ${RO}` }, 'ro'],
    ['the read-only key (X-API-Key)', { 'x-api-key': RO }, 'ro'],
    ['the read-write key (Bearer)', { authorization: `Bearer ${RW}` }, 'rw'],
    ['the read-write key (X-API-Key)', { 'x-api-key': RW }, 'rw'],
  ];

  describe.each(ENDPOINTS)('$method $url', ({ method, url, body }) => {
    it.each(credentials)('with %s', async (_case, headers, who) => {
      const response = await inject({ method, url, headers, payload: body as object | undefined });
      const expected = who === 'none' || who === 'bad' ? 401 : who === 'ro' && method === 'POST' ? 403 : 200;
      const successStatus = url.includes('/enqueue') ? 201 : 200;
      expect(response.statusCode).toBe(expected === 200 ? successStatus : expected);
      if (expected === 200) {
        expect(called(tasks)).toBe(1);
        return;
      }
      expect(called(tasks)).toBe(0);
      const error = json(response);
      expect(error.statusCode).toBe(expected);
      if (expected === 401) {
        expect(response.headers['www-authenticate']).toMatch(/^Bearer realm="tasklane"/);
      } else {
        expect(error.message).toMatch(/read-only/);
      }
      expect(response.body).not.toContain(RW);
      expect(response.body).not.toContain(RO);
    });
  });

  it.each(['/health/live', '/health/ready', '/metrics', '/api/docs-json', '/api/docs'])(
    'keeps %s open without a key',
    async (url) => {
      expect((await inject({ method: 'GET', url })).statusCode).toBe(200);
    },
  );

  it('answers a repeated API read with 304 and no body when If-None-Match names its ETag', async () => {
    const headers = { authorization: `Bearer ${RO}` };
    const first = await inject({ method: 'GET', url: '/api/tasks/?limit=50', headers });
    expect(first.statusCode).toBe(200);
    const etag = String(first.headers['etag']);
    expect(etag).toMatch(/^W\/"/);
    expect(first.headers['cache-control']).toBe('private, no-cache');
    const again = await inject({
      method: 'GET',
      url: '/api/tasks/?limit=50',
      headers: { ...headers, 'if-none-match': etag },
    });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    // Another answer, another tag: a full 200.
    tasks.list.mockResolvedValueOnce({ items: [], total: 1, limit: 50, offset: 0, next_cursor: null });
    const changed = await inject({
      method: 'GET',
      url: '/api/tasks/?limit=50',
      headers: { ...headers, 'if-none-match': etag },
    });
    expect(changed.statusCode).toBe(200);
    expect(changed.headers['etag']).not.toBe(etag);
    // A write is never answered 304.
    const post = await inject({
      method: 'POST',
      url: `/api/tasks/${TASK_ID}/cancel`,
      headers: { authorization: `Bearer ${RW}`, 'if-none-match': '*' },
    });
    expect(post.statusCode).toBe(200);
  });

  it('serves /ui without a key (the page asks for one); without a build it says how to make one', async () => {
    for (const url of ['/ui', '/ui/', '/ui/app.js']) {
      const page = await inject({ method: 'GET', url });
      expect({ url, status: page.statusCode }).toEqual({ url, status: 503 });
      expect(JSON.parse(page.body)).toMatchObject({ message: expect.stringContaining('npm run build') });
    }
  });

  it('tells the dashboard what a key may do: read-only, read-write; 401 without one', async () => {
    const readOnly = await inject({ method: 'GET', url: '/api/dashboard/caller', headers: { 'x-api-key': RO } });
    expect(JSON.parse(readOnly.body)).toEqual({
      access: 'read-only',
      actor: expect.stringMatching(/^key:[0-9a-f]{12}$/),
      can_write: false,
    });
    const readWrite = await inject({
      method: 'GET',
      url: '/api/dashboard/caller',
      headers: { authorization: `Bearer ${RW}` },
    });
    expect(JSON.parse(readWrite.body)).toMatchObject({ access: 'read-write', can_write: true });
    expect((await inject({ method: 'GET', url: '/api/dashboard/caller' })).statusCode).toBe(401);
  });

  it('documents both security schemes and requires one of them on the task endpoints', async () => {
    const document = json<{
      components: { securitySchemes: Record<string, unknown> };
      security?: unknown[];
      paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
    }>(await inject({ method: 'GET', url: '/api/docs-json' }));
    expect(Object.keys(document.components.securitySchemes).sort()).toEqual(['api_key', 'bearer']);
    expect(document.paths['/health/live'].get.security).toEqual([]);
    expect(document.paths['/api/tasks/enqueue'].post.responses['401']).toBeDefined();
  });

  it('answers 401 before looking at a bad body (a caller without a key learns nothing)', async () => {
    const response = await inject({
      method: 'POST',
      url: '/api/tasks/enqueue',
      payload: { task_name: 'nope', priority: 'x' },
    });
    expect(response.statusCode).toBe(401);
  });

  it('answers 401 before the request-sanity check too (a reserved name in the query)', async () => {
    const response = await inject({ method: 'GET', url: '/api/tasks/?__proto__=1&limit=%FF' });
    expect(response.statusCode).toBe(401);
  });
});

describe('gateway HTTP pipeline without API keys (open)', () => {
  let app: NestFastifyApplication;
  let tasks: Record<string, jest.Mock>;

  const inject = (options: InjectOptions): Promise<LightMyRequestResponse> =>
    app.getHttpAdapter().getInstance().inject(options);

  const enqueue = (payload: string | Buffer, contentType = 'application/json'): Promise<LightMyRequestResponse> =>
    inject({ method: 'POST', url: '/api/tasks/enqueue', headers: { 'content-type': contentType }, payload });

  beforeAll(async () => {
    ({ app, tasks } = await startGateway({ BODY_LIMIT_BYTES: '200000' }));
  });

  afterAll(async () => {
    await app?.close();
  });

  beforeEach(() => {
    for (const mock of Object.values(tasks)) {
      mock.mockClear();
    }
  });

  afterEach(() => {
    // Nothing in these tests is valid input: the service is never reached.
    expect(called(tasks)).toBe(0);
  });

  it.each(ENDPOINTS.filter((endpoint) => endpoint.method === 'GET'))('serves $url without a key', async ({ url }) => {
    expect((await inject({ method: 'GET', url })).statusCode).toBe(200);
    tasks['get'].mockClear();
    tasks['runs'].mockClear();
    tasks['list'].mockClear();
    tasks['count'].mockClear();
  });

  interface BadBody {
    name: string;
    payload: string | Buffer;
    type?: string;
    status: number;
    message: RegExp;
    field?: string;
  }

  const utf8 = (...parts: Array<string | number[]>): Buffer =>
    Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : Buffer.from(part))));

  const badBodies: BadBody[] = [
    { name: 'malformed JSON', payload: '{"task_name": ', status: 400, message: /not valid JSON/ },
    { name: 'a trailing comma', payload: '{"task_name": "email.send",}', status: 400, message: /not valid JSON/ },
    {
      name: 'text/plain',
      payload: 'task_name=email.send',
      type: 'text/plain',
      status: 415,
      message: /Content-Type: application\/json/,
    },
    {
      name: 'a form (urlencoded) body',
      payload: 'task_name=analytics.task_stats',
      type: 'application/x-www-form-urlencoded',
      status: 415,
      message: /application\/json/,
    },
    {
      name: 'a JSON body in latin-1',
      payload: '{"task_name":"email.send"}',
      type: 'application/json; charset=latin1',
      status: 415,
      message: /UTF-8/,
    },
    {
      name: 'invalid UTF-8 bytes',
      payload: utf8('{"', [0xff, 0xfe], '":1}'),
      status: 400,
      message: /not valid UTF-8/,
      field: '(body)',
    },
    {
      name: 'an overlong UTF-8 sequence',
      payload: utf8('{"task_name":"', [0xc0, 0xaf], '"}'),
      status: 400,
      message: /not valid UTF-8/,
    },
    {
      name: 'a UTF-8-encoded surrogate (CESU-8)',
      payload: utf8('{"task_name":"', [0xed, 0xa0, 0x80], '"}'),
      status: 400,
      message: /not valid UTF-8/,
    },
    {
      name: 'a truncated UTF-8 sequence',
      payload: utf8('{"task_name":"', [0xe2, 0x82], '"}'),
      status: 400,
      message: /not valid UTF-8/,
    },
    {
      name: '__proto__ at the top',
      payload: '{"task_name":"email.send","__proto__":{"x":1}}',
      status: 400,
      message: /forbidden property/,
    },
    {
      name: 'constructor.prototype',
      payload: '{"task_name":"email.send","constructor":{"prototype":{"x":1}}}',
      status: 400,
      message: /forbidden property/,
    },
    {
      name: 'a bare constructor key',
      payload: '{"task_name":"email.send","constructor":1}',
      status: 400,
      message: /not allowed/,
      field: 'constructor',
    },
    {
      name: 'prototype deep in params',
      payload: '{"task_name":"analytics.task_stats","params":{"a":[{"prototype":1}]}}',
      status: 400,
      message: /not allowed/,
      field: 'params.a[0].prototype',
    },
    {
      name: 'an escaped unpaired surrogate',
      payload: '{"task_name":"email.send","params":{"to":"a@b.co","subject":"\\ud800","body":"x"}}',
      status: 400,
      message: /well-formed Unicode/,
      field: 'params.subject',
    },
    {
      name: 'an unpaired surrogate in a key',
      payload: '{"task_name":"email.send","\\udc00":1}',
      status: 400,
      message: /well-formed Unicode/,
    },
    {
      name: 'a number beyond 2^53',
      payload: '{"task_name":"email.send","priority":9007199254740993}',
      status: 400,
      message: /between/,
      field: 'priority',
    },
    {
      name: '1e400',
      payload: '{"task_name":"email.send","max_retries":1e400}',
      status: 400,
      message: /finite/,
      field: 'max_retries',
    },
    {
      name: 'a negative priority',
      payload: '{"task_name":"email.send","priority":-5}',
      status: 400,
      message: /priority/,
      field: 'priority',
    },
    {
      name: 'an array body',
      payload: '[{"task_name":"email.send"}]',
      status: 400,
      message: /JSON object/,
      field: '(body)',
    },
    { name: 'a string body', payload: '"email.send"', status: 400, message: /JSON object/, field: '(body)' },
    { name: 'an empty body', payload: '', status: 400, message: /JSON object/, field: '(body)' },
    {
      name: 'params as an array',
      payload: '{"task_name":"analytics.task_stats","params":[]}',
      status: 400,
      message: /params/,
      field: 'params',
    },
    {
      name: 'SQL in task_name',
      payload: JSON.stringify({ task_name: "email.send'; DROP TABLE background_tasks; --" }),
      status: 400,
      message: /task_name/,
      field: 'task_name',
    },
    {
      name: 'deep nesting',
      payload: `{"task_name":"email.send","params":${'['.repeat(50_000)}${']'.repeat(50_000)}}`,
      status: 400,
      message: /nested too deeply/,
    },
    {
      name: 'params over 64 KiB',
      payload: JSON.stringify({
        task_name: 'diagnostic.fail',
        task_type: 'email',
        params: { message: 'x'.repeat(MAX_PARAMS_BYTES) },
      }),
      status: 400,
      message: /at most 65536 bytes/,
      field: 'params',
    },
    {
      name: 'a body over BODY_LIMIT_BYTES',
      payload: JSON.stringify({ task_name: 'x'.repeat(250_000) }),
      status: 413,
      message: /at most 200000 bytes/,
    },
  ];

  it.each(badBodies)(
    'POST /api/tasks/enqueue with $name → $status',
    async ({ payload, type, status, message, field }) => {
      const response = await enqueue(payload, type);
      expect(response.statusCode).toBe(status);
      const error = json(response);
      expect(error.statusCode).toBe(status);
      expect(explain(error)).toMatch(message);
      if (field !== undefined) {
        expect(error.errors?.map((problem) => problem.field)).toContain(field);
      }
      expect(response.body).not.toMatch(/node_modules|\bat .*\.js:\d+|FST_/);
    },
  );

  interface BadUrl {
    method: 'GET' | 'POST';
    url: string;
    status: number;
    message: RegExp;
    field?: string;
  }

  const badUrls: BadUrl[] = [
    { method: 'GET', url: '/api/tasks?__proto__=x', status: 400, message: /not allowed/, field: '__proto__' },
    {
      method: 'GET',
      url: '/api/tasks?__proto__=a&__proto__=b',
      status: 400,
      message: /not allowed/,
      field: '__proto__',
    },
    {
      method: 'GET',
      url: '/api/tasks/count/all?constructor=x',
      status: 400,
      message: /not allowed/,
      field: 'constructor',
    },
    { method: 'GET', url: '/api/tasks?prototype', status: 400, message: /not allowed/, field: 'prototype' },
    {
      method: 'GET',
      url: '/api/tasks?status=%ED%A0%80',
      status: 400,
      message: /percent-encoded UTF-8/,
      field: 'status',
    },
    { method: 'GET', url: '/api/tasks?status=%FF', status: 400, message: /percent-encoded UTF-8/, field: 'status' },
    { method: 'GET', url: '/api/tasks?status=%zz', status: 400, message: /percent-encoded UTF-8/, field: 'status' },
    { method: 'GET', url: '/api/tasks?status=%', status: 400, message: /percent-encoded UTF-8/, field: 'status' },
    { method: 'GET', url: '/api/tasks?%E0%A4=1', status: 400, message: /parameter name/, field: 'query' },
    { method: 'GET', url: '/api/tasks?limit=1e400', status: 400, message: /limit/, field: 'limit' },
    { method: 'GET', url: '/api/tasks?limit=-1', status: 400, message: /limit/, field: 'limit' },
    { method: 'GET', url: '/api/tasks?limit=', status: 400, message: /limit/, field: 'limit' },
    { method: 'GET', url: '/api/tasks?offset=99999999999999999999', status: 400, message: /offset/, field: 'offset' },
    { method: 'GET', url: '/api/tasks?offset=1&offset=2', status: 400, message: /offset/, field: 'offset' },
    { method: 'GET', url: "/api/tasks?status=pending'%20OR%201=1--", status: 400, message: /status/, field: 'status' },
    { method: 'GET', url: '/api/tasks?cursor=', status: 400, message: /cursor/, field: 'cursor' },
    { method: 'GET', url: '/api/tasks?cursor=%3D%3D', status: 400, message: /cursor/, field: 'cursor' },
    { method: 'GET', url: '/api/tasks?cursor=MTIz%3D', status: 400, message: /cursor/, field: 'cursor' },
    {
      method: 'GET',
      url: '/api/tasks?cursor=MTJ',
      status: 400,
      message: /next_cursor given by this API/,
      field: 'cursor',
    },
    { method: 'GET', url: '/api/tasks?cursor=MA', status: 400, message: /cursor/, field: 'cursor' },
    { method: 'GET', url: '/api/tasks?cursor=123', status: 400, message: /cursor/, field: 'cursor' },
    { method: 'GET', url: `/api/tasks?cursor=${'A'.repeat(90)}`, status: 400, message: /cursor/, field: 'cursor' },
    { method: 'GET', url: "/api/tasks?cursor=MTIz'%20OR%201=1--", status: 400, message: /cursor/, field: 'cursor' },
    { method: 'GET', url: '/api/tasks?cursor=MTIz&cursor=MTIz', status: 400, message: /cursor/, field: 'cursor' },
    {
      method: 'GET',
      url: '/api/tasks?cursor=MTIz&offset=5',
      status: 400,
      message: /cursor cannot be combined with a non-zero offset/,
      field: 'cursor',
    },
    {
      method: 'GET',
      url: '/api/tasks/count/all?cursor=MTIz',
      status: 400,
      message: /not allowed|should not exist/,
      field: 'cursor',
    },
    { method: 'GET', url: '/api/tasks?status=%F0%9F%98%80', status: 400, message: /status/, field: 'status' },
    {
      method: 'POST',
      url: `/api/tasks/${TASK_ID}/cancel?__proto__=1`,
      status: 400,
      message: /not allowed/,
      field: '__proto__',
    },
    {
      method: 'POST',
      url: `/api/tasks/${TASK_ID}/retry?x=%C0%AF`,
      status: 400,
      message: /percent-encoded UTF-8/,
      field: 'x',
    },
    { method: 'GET', url: '/api/tasks/%zz', status: 400, message: /percent-encoded/ },
    { method: 'GET', url: '/api/tasks/%ED%A0%80', status: 400, message: /percent-encoded/ },
    { method: 'POST', url: '/api/tasks/%FF/cancel', status: 400, message: /percent-encoded/ },
    { method: 'GET', url: `/api/tasks/${'a'.repeat(300)}`, status: 400, message: /UUID/, field: 'task_id' },
    { method: 'POST', url: `/api/tasks/${'a'.repeat(2_048)}/cancel`, status: 400, message: /UUID/, field: 'task_id' },
    { method: 'GET', url: `/api/tasks/${'a'.repeat(2_049)}`, status: 414, message: /too long/ },
    { method: 'GET', url: "/api/tasks/1'%20OR%20'1'='1", status: 400, message: /UUID/, field: 'task_id' },
    { method: 'GET', url: '/api/tasks/%00', status: 400, message: /UUID/, field: 'task_id' },
    { method: 'GET', url: '/api/tasks/%F0%9F%98%80', status: 400, message: /UUID/, field: 'task_id' },
  ];

  it.each(badUrls)('$method $url → $status', async ({ method, url, status, message, field }) => {
    const response = await inject({ method, url });
    expect(response.statusCode).toBe(status);
    const error = json(response);
    expect(error.statusCode).toBe(status);
    expect(explain(error)).toMatch(message);
    if (field !== undefined) {
      expect(error.errors?.map((problem) => problem.field)).toContain(field);
    }
    expect(response.body).not.toMatch(/FST_|node_modules/);
    expect(response.headers['x-request-id']).toBeDefined();
  });

  it('passes a valid cursor, with filters, a limit and offset 0, to the service as given', async () => {
    const cursor = encodeTaskCursor({ createdAtMs: 1_780_000_000_000, id: '123456' });
    const response = await inject({
      method: 'GET',
      url: `/api/tasks/?status=failed&limit=20&offset=0&cursor=${cursor}`,
    });
    expect(response.statusCode).toBe(200);
    expect(json(response)).toEqual({ items: [], total: 0, limit: 50, offset: 0, next_cursor: null });
    expect(tasks['list'].mock.calls).toEqual([
      [
        { status: 'failed', taskType: undefined },
        { limit: 20, offset: 0, cursor },
      ],
    ]);
    tasks['list'].mockClear();
  });

  it('does not pollute Object.prototype whatever was sent', async () => {
    await enqueue('{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}');
    await inject({ method: 'GET', url: '/api/tasks?__proto__[polluted]=1&constructor[prototype][polluted]=1' });
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('gateway HTTP pipeline: batch enqueue with the default body limit', () => {
  let app: NestFastifyApplication;
  let tasks: Record<string, jest.Mock>;

  const batch = (payload: unknown): Promise<LightMyRequestResponse> =>
    app
      .getHttpAdapter()
      .getInstance()
      .inject({
        method: 'POST',
        url: '/api/tasks/enqueue/batch',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(payload),
      });

  beforeAll(async () => {
    ({ app, tasks } = await startGateway({}));
  });

  afterAll(async () => {
    await app?.close();
  });

  beforeEach(() => {
    for (const mock of Object.values(tasks)) {
      mock.mockClear();
    }
  });

  it('takes 1,000 emails of ~2 KB each (a body over 1 MiB, under the default 4 MiB) → 201 {tasks}', async () => {
    const item = { task_name: 'email.send', params: { ...email, body: 'x'.repeat(2_000) } };
    const payload = { tasks: Array.from({ length: 1_000 }, () => item) };
    expect(JSON.stringify(payload).length).toBeGreaterThan(1_048_576);
    const response = await batch(payload);
    expect(response.statusCode).toBe(201);
    expect(json<{ tasks: unknown[] }>(response)).toEqual({ tasks: [{ task_id: TASK_ID, status: 'pending' }] });
    expect(tasks['enqueueBatch']).toHaveBeenCalledTimes(1);
    expect((tasks['enqueueBatch'].mock.calls[0] as unknown[][])[0]).toHaveLength(1_000);
  });

  it('answers 413 over the default 4 MiB, naming the limit', async () => {
    const item = { task_name: 'email.send', params: { ...email, body: 'x'.repeat(4_500) } };
    const response = await batch({ tasks: Array.from({ length: 1_000 }, () => item) });
    expect(response.statusCode).toBe(413);
    expect(json(response).message).toMatch(/4194304 bytes/);
    expect(called(tasks)).toBe(0);
  });

  it('answers 400 naming tasks[i]… for one bad item, and never reaches the service', async () => {
    const good = { task_name: 'diagnostic.sleep', task_type: 'email', params: { ms: 0 } };
    const response = await batch({ tasks: [good, good, { ...good, params: { ms: -1 } }] });
    expect(response.statusCode).toBe(400);
    const error = json(response);
    expect(error.errors?.map((problem) => problem.field)).toEqual(['tasks[2].params.ms']);
    expect(called(tasks)).toBe(0);
  });

  it.each([{ tasks: [] }, { tasks: Array.from({ length: 1_001 }, () => ({ task_name: 'x' })) }, { task_name: 'x' }])(
    'answers 400 for a batch of the wrong shape (%#)',
    async (payload) => {
      const response = await batch(payload);
      expect(response.statusCode).toBe(400);
      expect(json(response).errors?.[0]?.field).toMatch(/^tasks$|^task_name$/);
      expect(called(tasks)).toBe(0);
    },
  );
});

describe('gateway HTTP pipeline: rate limits', () => {
  let app: NestFastifyApplication;
  let tasks: Record<string, jest.Mock>;
  const RW2 = 'rw-two-0123456789abcdef';

  const inject = (options: InjectOptions): Promise<LightMyRequestResponse> =>
    app.getHttpAdapter().getInstance().inject(options);

  beforeAll(async () => {
    ({ app, tasks } = await startGateway({
      API_KEYS_READ_WRITE: `${RW},${RW2}`,
      RATE_LIMIT_MAX: '3',
      RATE_LIMIT_WINDOW_MS: '60000',
    }));
  });

  afterAll(async () => {
    await app?.close();
  });

  const count = (headers: Record<string, string>, remoteAddress = '10.0.0.1') =>
    inject({ method: 'GET', url: '/api/tasks/count/all', headers, remoteAddress });

  it('answers 429 JSON with Retry-After once a key spent its budget, without reaching the service; another key is not affected', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const response = await count({ 'x-api-key': RW });
      statuses.push(response.statusCode);
      expect(response.headers['x-ratelimit-limit']).toBe('3');
      expect(response.headers['x-ratelimit-remaining']).toBe(String(2 - i));
    }
    tasks.count.mockClear();
    // The same key from another address: the budget is the key's.
    const refused = await count({ authorization: `Bearer ${RW}` }, '10.0.0.2');
    expect(statuses).toEqual([200, 200, 200]);
    expect(refused.statusCode).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(json(refused)).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: expect.stringMatching(/^Rate limit exceeded: at most 3 requests per 60 s per API key; retry in \d+ s$/),
    });
    expect(refused.body).not.toContain(RW);
    expect(tasks.count).not.toHaveBeenCalled();
    expect((await count({ 'x-api-key': RW2 })).statusCode).toBe(200);
  });

  it('counts requests without a valid key per client address (a 401 flood ends in 429s), and closes their connection when they carry a body', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      statuses.push((await count({}, '10.0.0.9')).statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    const upload = await inject({
      method: 'POST',
      url: '/api/tasks/enqueue',
      remoteAddress: '10.0.0.9',
      payload: { task_name: 'email.send', params: email },
    });
    expect(upload.statusCode).toBe(429);
    expect(upload.headers.connection).toBe('close');
    expect(json(upload).message).toMatch(/per client address/);
    expect((await count({}, '10.0.0.10')).statusCode).toBe(401);
  });

  it('never limits the public routes (health probes, metrics, API docs)', async () => {
    for (let i = 0; i < 6; i += 1) {
      for (const url of ['/health/live', '/metrics', '/api/docs-json']) {
        const response = await inject({ method: 'GET', url, remoteAddress: '10.0.0.20' });
        expect({ url, status: response.statusCode }).toEqual({ url, status: 200 });
        expect(response.headers['x-ratelimit-limit']).toBeUndefined();
      }
    }
  });
});

describe('gateway HTTP pipeline: security headers and CORS', () => {
  const ORIGIN = 'https://ops.example.com';

  describe('without CORS_ORIGINS', () => {
    let app: NestFastifyApplication;
    const inject = (options: InjectOptions): Promise<LightMyRequestResponse> =>
      app.getHttpAdapter().getInstance().inject(options);

    beforeAll(async () => {
      ({ app } = await startGateway({ API_KEYS_READ_WRITE: RW }));
    });

    afterAll(async () => {
      await app?.close();
    });

    it.each([
      ['a 200', { url: '/api/tasks/count/all', headers: { 'x-api-key': RW } }, 200],
      ['a 401', { url: '/api/tasks/count/all', headers: {} }, 401],
      ['a 404', { url: '/api/nowhere', headers: { 'x-api-key': RW } }, 404],
      ['the API docs', { url: '/api/docs', headers: {} }, 200],
    ])('sets the security headers on %s', async (_case, request, status) => {
      const response = await inject({ method: 'GET', ...request });
      expect(response.statusCode).toBe(status);
      expect(response.headers).toMatchObject({
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
        'strict-transport-security': expect.stringMatching(/^max-age=\d+/),
        'cross-origin-opener-policy': 'same-origin',
      });
      const csp = String(response.headers['content-security-policy']);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(response.headers['x-powered-by']).toBeUndefined();
    });

    it('sends no CORS header, even to a preflight', async () => {
      const simple = await inject({
        method: 'GET',
        url: '/api/tasks/count/all',
        headers: { 'x-api-key': RW, origin: ORIGIN },
      });
      expect(simple.statusCode).toBe(200);
      expect(simple.headers['access-control-allow-origin']).toBeUndefined();
      const preflight = await inject({
        method: 'OPTIONS',
        url: '/api/tasks/enqueue',
        headers: { origin: ORIGIN, 'access-control-request-method': 'POST' },
      });
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
      expect(preflight.headers['access-control-allow-methods']).toBeUndefined();
    });
  });

  describe('with CORS_ORIGINS', () => {
    let app: NestFastifyApplication;
    const inject = (options: InjectOptions): Promise<LightMyRequestResponse> =>
      app.getHttpAdapter().getInstance().inject(options);

    beforeAll(async () => {
      ({ app } = await startGateway({ API_KEYS_READ_WRITE: RW, CORS_ORIGINS: `${ORIGIN}, http://localhost:5173` }));
    });

    afterAll(async () => {
      await app?.close();
    });

    it('answers a preflight from an allowed origin without a key, allowing the key headers', async () => {
      const preflight = await inject({
        method: 'OPTIONS',
        url: '/api/tasks/enqueue',
        headers: {
          origin: ORIGIN,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type',
        },
      });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe(ORIGIN);
      expect(String(preflight.headers['access-control-allow-headers'])).toMatch(/Authorization/);
      expect(String(preflight.headers['access-control-allow-methods'])).toMatch(/POST/);
      expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();
    });

    it('lets an allowed origin read responses (a 401 included), and no other origin', async () => {
      const allowed = await inject({ method: 'GET', url: '/api/tasks/count/all', headers: { origin: ORIGIN } });
      expect(allowed.statusCode).toBe(401);
      expect(allowed.headers['access-control-allow-origin']).toBe(ORIGIN);
      expect(allowed.headers.vary).toMatch(/Origin/);
      const other = await inject({
        method: 'GET',
        url: '/api/tasks/count/all',
        headers: { origin: 'https://evil.example.com', 'x-api-key': RW },
      });
      expect(other.statusCode).toBe(200);
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    });
  });
});
