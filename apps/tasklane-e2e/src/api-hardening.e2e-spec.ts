import { TASK_TYPES, TaskResource, taskQueueName } from '@tasklane/contracts';
import { RawResponse, rawRequest } from './support/raw-http';
import { TasklaneSystem } from './support/tasklane-system';

/**
 * The hardened API by example (issue #4), against the real gateway process with API keys
 * configured: the 401/403/2xx matrix of every endpoint, the open operational endpoints, and each
 * kind of bad input — with its status, the problem named, and nothing written or published.
 * (api-fuzz.e2e-spec.ts throws arbitrary input at the same endpoints.)
 */

const RW = 'e2e-read-write-0123456789abcdef';
const RO = 'e2e-read-only-0123456789abcdef';
const email = { to: 'ada@example.com', subject: 'Hello', body: 'Hi Ada' };
const UNKNOWN_ID = '01890a5d-ac96-774b-bcce-b302099a8057';

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  errors?: Array<{ field: string; message: string }>;
}

describe('hardened API (API keys configured)', () => {
  let system: TasklaneSystem;
  const asWriter = { authorization: `Bearer ${RW}` };

  beforeAll(async () => {
    system = await TasklaneSystem.start('hardening', {
      apps: ['api-gateway'],
      env: { API_KEYS_READ_WRITE: RW, API_KEYS_READ_ONLY: RO, BODY_LIMIT_BYTES: '200000' },
    });
  });

  afterAll(async () => {
    await system?.stop();
  });

  async function sideEffects(): Promise<{ rows: number; statuses: string; schedules: string; queued: number }> {
    const [row] = await system.query<{ n: number; statuses: string | null }>(
      "SELECT COUNT(*) AS n, GROUP_CONCAT(status ORDER BY id SEPARATOR ',') AS statuses FROM background_tasks",
    );
    const [schedules] = await system.query<{ all: string | null }>(
      "SELECT GROUP_CONCAT(CONCAT(schedule_id, ':', name, ':', enabled) ORDER BY id SEPARATOR ',') AS `all` FROM task_schedules",
    );
    let queued = 0;
    for (const type of TASK_TYPES) {
      queued += (await system.queueState(taskQueueName(type))).messageCount;
    }
    return { rows: Number(row.n), statuses: row.statuses ?? '', schedules: schedules.all ?? '', queued };
  }

  async function enqueued(): Promise<TaskResource> {
    const response = await system.request<TaskResource>(
      'POST',
      '/api/tasks/enqueue',
      { task_name: 'email.send', params: email },
      asWriter,
    );
    expect(response.status).toBe(201);
    return response.body;
  }

  async function cancelled(): Promise<TaskResource> {
    const task = await enqueued();
    expect((await system.request('POST', `/api/tasks/${task.task_id}/cancel`, undefined, asWriter)).status).toBe(200);
    return task;
  }

  let schedules = 0;
  const scheduleBody = () => ({
    name: `hardening-${++schedules}`,
    cron: '0 3 * * *',
    task_name: 'analytics.task_stats',
  });

  async function scheduled(): Promise<string> {
    const response = await system.request<{ schedule_id: string }>('POST', '/api/schedules', scheduleBody(), asWriter);
    expect(response.status).toBe(201);
    return response.body.schedule_id;
  }

  interface Endpoint {
    name: string;
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
    /** The path, with a task (or schedule) in the state the call succeeds on. */
    path: () => Promise<string>;
    body?: () => unknown;
    success: number;
  }

  const endpoints: Endpoint[] = [
    {
      name: 'POST /api/tasks/enqueue',
      method: 'POST',
      path: async () => '/api/tasks/enqueue',
      body: () => ({ task_name: 'analytics.task_stats' }),
      success: 201,
    },
    {
      name: 'POST /api/tasks/enqueue/batch',
      method: 'POST',
      path: async () => '/api/tasks/enqueue/batch',
      body: () => ({ tasks: [{ task_name: 'analytics.task_stats' }, { task_name: 'report.tasks_summary' }] }),
      success: 201,
    },
    { name: 'GET /api/tasks/', method: 'GET', path: async () => '/api/tasks/', success: 200 },
    { name: 'GET /api/tasks/count/all', method: 'GET', path: async () => '/api/tasks/count/all', success: 200 },
    {
      name: 'GET /api/tasks/{id}',
      method: 'GET',
      path: async () => `/api/tasks/${(await enqueued()).task_id}`,
      success: 200,
    },
    {
      name: 'GET /api/tasks/{id}/runs',
      method: 'GET',
      path: async () => `/api/tasks/${(await enqueued()).task_id}/runs`,
      success: 200,
    },
    {
      name: 'GET /api/tasks/{id}/events',
      method: 'GET',
      path: async () => `/api/tasks/${(await enqueued()).task_id}/events`,
      success: 200,
    },
    {
      name: 'POST /api/tasks/{id}/cancel',
      method: 'POST',
      path: async () => `/api/tasks/${(await enqueued()).task_id}/cancel`,
      success: 200,
    },
    {
      name: 'POST /api/tasks/{id}/retry',
      method: 'POST',
      path: async () => `/api/tasks/${(await cancelled()).task_id}/retry`,
      success: 200,
    },
    {
      name: 'POST /api/schedules',
      method: 'POST',
      path: async () => '/api/schedules',
      body: scheduleBody,
      success: 201,
    },
    { name: 'GET /api/schedules', method: 'GET', path: async () => '/api/schedules', success: 200 },
    {
      name: 'GET /api/schedules/{id}',
      method: 'GET',
      path: async () => `/api/schedules/${await scheduled()}`,
      success: 200,
    },
    {
      name: 'PATCH /api/schedules/{id}',
      method: 'PATCH',
      path: async () => `/api/schedules/${await scheduled()}`,
      body: () => ({ enabled: false }),
      success: 200,
    },
    {
      name: 'DELETE /api/schedules/{id}',
      method: 'DELETE',
      path: async () => `/api/schedules/${await scheduled()}`,
      success: 204,
    },
  ];

  const credentials: Array<{ who: string; headers: Record<string, string>; access: 'none' | 'ro' | 'rw' }> = [
    { who: 'no key', headers: {}, access: 'none' },
    { who: 'an unknown Bearer key', headers: { authorization: `Bearer ${RW.replace('e2e', 'xyz')}` }, access: 'none' },
    { who: 'an unknown X-API-Key', headers: { 'x-api-key': 'not-a-key-0123456789' }, access: 'none' },
    { who: 'Basic credentials', headers: { authorization: 'Basic cnc6a2V5MDEyMzQ1Njc4OQ==' }, access: 'none' },
    { who: 'the read-only key as Bearer', headers: { authorization: `Bearer ${RO}` }, access: 'ro' },
    { who: 'the read-only key as X-API-Key', headers: { 'x-api-key': RO }, access: 'ro' },
    { who: 'the read-write key as Bearer', headers: { authorization: `Bearer ${RW}` }, access: 'rw' },
    { who: 'the read-write key as X-API-Key', headers: { 'x-api-key': RW }, access: 'rw' },
  ];

  describe.each(endpoints)('$name', (endpoint) => {
    it.each(credentials)('with $who', async ({ headers, access }) => {
      const path = await endpoint.path();
      const before = await sideEffects();
      const response = await system.request<ErrorBody>(endpoint.method, path, endpoint.body?.(), headers);
      const expected = access === 'none' ? 401 : access === 'ro' && endpoint.method !== 'GET' ? 403 : endpoint.success;
      expect({ path, status: response.status }).toEqual({ path, status: expected });
      if (expected >= 400) {
        expect(response.body).toMatchObject({ statusCode: expected, message: expect.any(String) });
        expect(JSON.stringify(response.body)).not.toContain(RW);
        expect(JSON.stringify(response.body)).not.toContain(RO);
        expect(await sideEffects()).toEqual(before);
      }
    });
  });

  it('answers 401 with WWW-Authenticate: Bearer and a message saying how to authenticate', async () => {
    const response = await rawRequest(system.baseUrl, { method: 'GET', path: '/api/tasks/count/all' });
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="tasklane"');
    expect(JSON.parse(response.text)).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: 'Authentication required: send an API key as "Authorization: Bearer <key>" or "X-API-Key: <key>"',
    });
    const wrong = await rawRequest(system.baseUrl, {
      method: 'GET',
      path: '/api/tasks/count/all',
      headers: { 'x-api-key': 'wrong-key-0123456789' },
    });
    expect(wrong.headers['www-authenticate']).toBe('Bearer realm="tasklane", error="invalid_token"');
    expect(JSON.parse(wrong.text)).toMatchObject({ statusCode: 401, message: 'Invalid API key' });
  });

  it('answers 403 with a JSON body to a read-only key on a write', async () => {
    const response = await system.request<ErrorBody>(
      'POST',
      '/api/tasks/enqueue',
      { task_name: 'analytics.task_stats' },
      { 'x-api-key': RO },
    );
    expect({ status: response.status, body: response.body }).toEqual({
      status: 403,
      body: {
        statusCode: 403,
        error: 'Forbidden',
        message: 'This API key is read-only; POST /api/tasks/enqueue needs a read-write key',
      },
    });
  });

  it.each(['/health/live', '/health/ready', '/metrics', '/api/docs', '/api/docs-json'])(
    'keeps %s open without a key',
    async (path) => {
      const response = await rawRequest(system.baseUrl, { method: 'GET', path });
      expect(response.status).toBe(200);
    },
  );

  it('documents both security schemes in /api/docs-json', async () => {
    const document = (await system.get<{ components: { securitySchemes: Record<string, unknown> } }>('/api/docs-json'))
      .body;
    expect(document.components.securitySchemes).toEqual({
      bearer: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      api_key: expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-API-Key' }),
    });
  });

  it('never logs a key or an Authorization header', () => {
    const logs = system.apps.get('api-gateway')?.logs() ?? '';
    expect(logs).toContain('API keys required: 1 read-write, 1 read-only');
    expect(logs).not.toContain(RW);
    expect(logs).not.toContain(RO);
    expect(logs.toLowerCase()).not.toContain('authorization');
  });

  // ---------------------------------------------------------------------------------------------

  const bytes = (...parts: Array<string | number[]>): Buffer =>
    Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'utf8') : Buffer.from(part))));

  interface BadInput {
    name: string;
    method?: 'GET' | 'POST';
    path?: string;
    body?: Buffer | string;
    type?: string;
    status: number;
    /** Matched against the message and the field messages of the error body. */
    problem: RegExp;
    field?: string;
  }

  const badInputs: BadInput[] = [
    { name: 'malformed JSON', body: '{"task_name": ', status: 400, problem: /not valid JSON/ },
    { name: 'a text/plain body', body: 'task_name=email.send', type: 'text/plain', status: 415, problem: /JSON/ },
    {
      name: 'a form body',
      body: 'task_name=analytics.task_stats',
      type: 'application/x-www-form-urlencoded',
      status: 415,
      problem: /JSON/,
    },
    {
      name: 'a latin-1 charset',
      body: '{"task_name":"analytics.task_stats"}',
      type: 'application/json; charset=iso-8859-1',
      status: 415,
      problem: /UTF-8/,
    },
    {
      name: 'invalid UTF-8 bytes in a string',
      body: bytes('{"task_name":"email.send","params":{"to":"ada@example.com","subject":"', [0xff], '","body":"x"}}'),
      status: 400,
      problem: /not valid UTF-8/,
      field: '(body)',
    },
    {
      name: 'a CESU-8 surrogate',
      body: bytes('{"task_name":"analytics.task_stats","params":{"task_type":"', [0xed, 0xa0, 0x80], '"}}'),
      status: 400,
      problem: /not valid UTF-8/,
    },
    {
      name: 'an escaped unpaired surrogate in params (MariaDB would refuse it: a 500 before)',
      body: JSON.stringify({ task_name: 'email.send', params: { ...email, subject: 'Hi \uD800' } }),
      status: 400,
      problem: /well-formed Unicode/,
      field: 'params.subject',
    },
    {
      name: 'an unpaired surrogate in a diagnostic message',
      body: JSON.stringify({ task_name: 'diagnostic.fail', task_type: 'email', params: { message: '\uDFFF' } }),
      status: 400,
      problem: /well-formed Unicode/,
      field: 'params.message',
    },
    {
      name: '__proto__ in the body',
      body: '{"task_name":"analytics.task_stats","__proto__":{"admin":true}}',
      status: 400,
      problem: /forbidden property/,
    },
    {
      name: 'constructor.prototype in params',
      body: '{"task_name":"analytics.task_stats","params":{"constructor":{"prototype":{"x":1}}}}',
      status: 400,
      problem: /forbidden property/,
    },
    {
      name: 'a constructor key (accepted silently before)',
      body: '{"task_name":"analytics.task_stats","constructor":1}',
      status: 400,
      problem: /not allowed/,
      field: 'constructor',
    },
    {
      name: 'a prototype key deep in params',
      body: '{"task_name":"analytics.task_stats","params":{"x":[{"prototype":{}}]}}',
      status: 400,
      problem: /not allowed/,
      field: 'params.x[0].prototype',
    },
    {
      name: 'deeply nested params (a stack overflow, 500, before)',
      body: `{"task_name":"email.send","params":{"to":${'['.repeat(20_000)}${']'.repeat(20_000)}}}`,
      status: 400,
      problem: /nested too deeply/,
    },
    {
      name: 'a priority of 1e400',
      body: '{"task_name":"analytics.task_stats","priority":1e400}',
      status: 400,
      problem: /finite/,
      field: 'priority',
    },
    {
      name: 'a max_retries beyond 2^53',
      body: '{"task_name":"analytics.task_stats","max_retries":9007199254740993}',
      status: 400,
      problem: /between/,
      field: 'max_retries',
    },
    {
      name: 'a negative priority',
      body: '{"task_name":"analytics.task_stats","priority":-3}',
      status: 400,
      problem: /priority/,
      field: 'priority',
    },
    {
      name: 'a string where a number goes',
      body: '{"task_name":"analytics.task_stats","priority":"7"}',
      status: 400,
      problem: /priority/,
      field: 'priority',
    },
    { name: 'an array body', body: '[{"task_name":"analytics.task_stats"}]', status: 400, problem: /JSON object/ },
    {
      name: 'params as an array',
      body: '{"task_name":"analytics.task_stats","params":[{}]}',
      status: 400,
      problem: /params/,
      field: 'params',
    },
    {
      name: 'SQL in task_name',
      body: JSON.stringify({ task_name: "email.send'; DROP TABLE background_tasks; --" }),
      status: 400,
      problem: /task_name/,
      field: 'task_name',
    },
    {
      name: 'params over 64 KiB',
      body: JSON.stringify({
        task_name: 'diagnostic.fail',
        task_type: 'email',
        params: { message: 'x'.repeat(70_000) },
      }),
      status: 400,
      problem: /params must be at most 65536 bytes/,
      field: 'params',
    },
    {
      name: 'a body over BODY_LIMIT_BYTES',
      body: JSON.stringify({ task_name: 'x'.repeat(250_000) }),
      status: 413,
      problem: /at most 200000 bytes/,
    },
    {
      name: 'a subject longer than its limit',
      body: JSON.stringify({ task_name: 'email.send', params: { ...email, subject: 's'.repeat(201) } }),
      status: 400,
      problem: /subject/,
      field: 'params.subject',
    },
    {
      name: '__proto__ in the query',
      method: 'GET',
      path: '/api/tasks?__proto__=x',
      status: 400,
      problem: /not allowed/,
    },
    {
      name: 'a repeated __proto__ in the query',
      method: 'GET',
      path: '/api/tasks?__proto__=a&__proto__=b',
      status: 400,
      problem: /not allowed/,
      field: '__proto__',
    },
    {
      name: 'constructor in the query of a write',
      path: `/api/tasks/${UNKNOWN_ID}/cancel?constructor=1`,
      status: 400,
      problem: /not allowed/,
      field: 'constructor',
    },
    {
      name: 'an encoded surrogate in the query',
      method: 'GET',
      path: '/api/tasks/count/all?status=%ED%A0%80',
      status: 400,
      problem: /percent-encoded UTF-8/,
      field: 'status',
    },
    {
      name: 'invalid percent-encoding in the query',
      method: 'GET',
      path: '/api/tasks?status=%zz',
      status: 400,
      problem: /percent-encoded UTF-8/,
      field: 'status',
    },
    {
      name: 'SQL in the query',
      method: 'GET',
      path: "/api/tasks?status=pending'%20OR%20'1'='1",
      status: 400,
      problem: /status/,
      field: 'status',
    },
    {
      name: 'a huge offset',
      method: 'GET',
      path: '/api/tasks?offset=1e400',
      status: 400,
      problem: /offset/,
      field: 'offset',
    },
    {
      name: 'invalid percent-encoding in the path',
      method: 'GET',
      path: '/api/tasks/%E0%A4',
      status: 400,
      problem: /percent-encoded/,
    },
    { name: 'an encoded surrogate in the path', path: '/api/tasks/%ED%A0%80/cancel', status: 400, problem: /percent/ },
    {
      name: 'SQL as a task id',
      method: 'GET',
      path: "/api/tasks/1'%20OR%20'1'='1",
      status: 400,
      problem: /UUID/,
      field: 'task_id',
    },
    {
      name: 'a 300-character task id',
      path: `/api/tasks/${'a'.repeat(300)}/retry`,
      status: 400,
      problem: /UUID/,
      field: 'task_id',
    },
    {
      name: 'a path parameter beyond 2,048 characters',
      path: `/api/tasks/${'a'.repeat(2_049)}/retry`,
      status: 414,
      problem: /too long/,
    },
  ];

  it.each(badInputs)(
    '$name → $status naming the problem, nothing written or published',
    async ({
      method = 'POST',
      path = '/api/tasks/enqueue',
      body,
      type = 'application/json',
      status,
      problem,
      field,
    }) => {
      const before = await sideEffects();
      const response: RawResponse = await rawRequest(system.baseUrl, {
        method,
        path,
        headers: { ...asWriter, ...(body !== undefined ? { 'content-type': type } : {}) },
        body: typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
      });
      expect(response.status).toBe(status);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      const error = JSON.parse(response.text) as ErrorBody;
      expect(error.statusCode).toBe(status);
      expect([error.message, ...(error.errors ?? []).map((item) => item.message)].join(' | ')).toMatch(problem);
      if (field !== undefined) {
        expect(error.errors?.map((item) => item.field)).toContain(field);
      }
      expect(response.text).not.toMatch(/\n\s+at |node_modules|dist\/apps|FST_ERR|ER_[A-Z]{3,}/);
      expect(await sideEffects()).toEqual(before);
    },
  );

  it('stores well-formed unicode oddities faithfully (emoji, RTL, NUL, combining marks)', async () => {
    const subject = 'Grüße \u{1F600} \u05E9\u05DC\u05D5\u05DD e\u0301 \u202E';
    const text = 'a\u0000b\uFEFF\u200Bc';
    const response = await system.request<TaskResource>(
      'POST',
      '/api/tasks/enqueue',
      { task_name: 'email.send', params: { ...email, subject, body: text } },
      asWriter,
    );
    expect(response.status).toBe(201);
    const fetched = await system.request<TaskResource>(
      'GET',
      `/api/tasks/${response.body.task_id}`,
      undefined,
      asWriter,
    );
    expect(fetched.body.params).toEqual({ ...email, subject, body: text });
  });

  it('keeps Object.prototype clean whatever was sent', async () => {
    await system.request('POST', '/api/tasks/enqueue', '{"__proto__":{"polluted":true}}', asWriter);
    await system.request('GET', '/api/tasks?__proto__[polluted]=1', undefined, asWriter);
    const page = await system.request<{ items: unknown[]; polluted?: unknown }>(
      'GET',
      '/api/tasks?limit=1',
      undefined,
      asWriter,
    );
    expect(page.status).toBe(200);
    expect(page.body.polluted).toBeUndefined();
  });
});
