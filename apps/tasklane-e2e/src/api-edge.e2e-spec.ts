import { TASK_TYPES, taskQueueName } from '@tasklane/contracts';
import { partialUpload, rawRequest } from './support/raw-http';
import { TasklaneSystem } from './support/tasklane-system';

/**
 * The gateway's edge (issue #11), against the real gateway process: API keys are checked before
 * any body is read (an anonymous 4 MiB upload is answered 401 after its first bytes and the
 * connection closed; what the client still sends is dropped unparsed), rate limits per API key and per client address (429 JSON with Retry-After,
 * nothing written), security headers on every response, and CORS only for configured origins.
 */

const RW = 'edge-read-write-0123456789abcdef';
const RW_LIMITED = 'edge-limited-0123456789abcdef';
const RO = 'edge-read-only-0123456789abcdef';
const ORIGIN = 'https://ops.example.com';
const FOUR_MIB = 4_194_304;
const LIMIT = 10;

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

async function sideEffects(system: TasklaneSystem): Promise<{ rows: number; queued: number }> {
  const [row] = await system.query<{ n: number }>('SELECT COUNT(*) AS n FROM background_tasks');
  let queued = 0;
  for (const type of TASK_TYPES) {
    queued += (await system.queueState(taskQueueName(type))).messageCount;
  }
  return { rows: Number(row.n), queued };
}

describe('the gateway edge with API keys and rate limits', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('edge', {
      apps: ['api-gateway'],
      env: {
        API_KEYS_READ_WRITE: `${RW},${RW_LIMITED}`,
        API_KEYS_READ_ONLY: RO,
        RATE_LIMIT_MAX: String(LIMIT),
        RATE_LIMIT_WINDOW_MS: '60000',
        CORS_ORIGINS: ORIGIN,
      },
    });
  });

  afterAll(async () => {
    await system?.stop();
  });

  it('refuses an anonymous 4 MiB upload after its first 64 KiB: 401 JSON and a hang-up at once, without waiting for the rest', async () => {
    const refused = await partialUpload(system.baseUrl, {
      path: '/api/tasks/enqueue',
      headers: {},
      announcedBytes: FOUR_MIB,
      sendBytes: 65_536,
    });
    expect(refused).toMatchObject({ status: 401, closedByServer: true });
    // Hung up (its write side closed) as soon as it answered: no waiting for the rest.
    expect(refused?.closedAfterMs).toBeLessThan(1_000);
    expect(refused?.headers.connection).toBe('close');
    expect(refused?.headers['www-authenticate']).toBe('Bearer realm="tasklane"');
    expect(JSON.parse(refused?.text ?? '')).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
  });

  it('still delivers the 401 to an anonymous client that goes on uploading all 4 MiB (no reset loses the answer)', async () => {
    for (let i = 0; i < 5; i += 1) {
      const refused = await partialUpload(system.baseUrl, {
        path: '/api/tasks/enqueue',
        headers: {},
        announcedBytes: FOUR_MIB,
        sendBytes: FOUR_MIB,
      });
      expect(refused).toMatchObject({ status: 401, closedByServer: true });
    }
  });

  it('refuses a read-only key the same way on a write (403), before the body', async () => {
    const refused = await partialUpload(system.baseUrl, {
      path: '/api/tasks/enqueue',
      headers: { 'x-api-key': RO },
      announcedBytes: FOUR_MIB,
      sendBytes: 65_536,
    });
    expect(refused).toMatchObject({ status: 403, closedByServer: true });
    expect(JSON.parse(refused?.text ?? '')).toMatchObject({
      statusCode: 403,
      message: expect.stringMatching(/read-only/),
    });
  });

  it('waits for the whole body of a caller with a read-write key (the body is read only for it)', async () => {
    const waiting = await partialUpload(
      system.baseUrl,
      { path: '/api/tasks/enqueue', headers: { 'x-api-key': RW }, announcedBytes: FOUR_MIB, sendBytes: 65_536 },
      1_500,
    );
    expect(waiting).toBeNull();
  });

  it('puts the security headers on every response, 2xx and 4xx, and no X-Powered-By', async () => {
    for (const [path, headers, status] of [
      ['/api/tasks/count/all', { 'x-api-key': RO }, 200],
      ['/api/tasks/count/all', {}, 401],
      ['/health/ready', {}, 200],
      ['/api/docs', {}, 200],
    ] as const) {
      const response = await rawRequest(system.baseUrl, { method: 'GET', path, headers });
      expect({ path, status: response.status }).toEqual({ path, status });
      expect(response.headers).toMatchObject({
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
        'content-security-policy': expect.stringContaining("default-src 'self'"),
        'strict-transport-security': expect.stringMatching(/^max-age=/),
      });
      expect(response.headers['x-powered-by']).toBeUndefined();
    }
  });

  it('answers CORS for the configured origin only', async () => {
    const preflight = await rawRequest(system.baseUrl, {
      method: 'OPTIONS',
      path: '/api/tasks/enqueue',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-api-key',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(ORIGIN);
    const other = await rawRequest(system.baseUrl, {
      method: 'GET',
      path: '/api/tasks/count/all',
      headers: { origin: 'https://elsewhere.example.com', 'x-api-key': RO },
    });
    expect(other.status).toBe(200);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers 429 JSON with Retry-After once a key spent its budget, writes nothing, and leaves other keys alone', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT; i += 1) {
      const response = await system.request('GET', '/api/tasks/count/all', undefined, { 'x-api-key': RW_LIMITED });
      statuses.push(response.status);
    }
    expect(statuses).toEqual(Array.from({ length: LIMIT }, () => 200));
    const before = await sideEffects(system);
    const refused = await rawRequest(system.baseUrl, {
      method: 'POST',
      path: '/api/tasks/enqueue',
      headers: { authorization: `Bearer ${RW_LIMITED}`, 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ task_name: 'analytics.task_stats' })),
    });
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(refused.text)).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: `Rate limit exceeded: at most ${LIMIT} requests per 60 s per API key; retry in ${retryAfter} s`,
    });
    expect(refused.text).not.toContain(RW_LIMITED);
    expect(await sideEffects(system)).toEqual(before);
    const other = await system.request(
      'POST',
      '/api/tasks/enqueue',
      { task_name: 'analytics.task_stats' },
      {
        'x-api-key': RW,
      },
    );
    expect(other.status).toBe(201);
  });

  it('limits requests without a valid key per client address: an anonymous flood ends in 429s, other addresses unaffected', async () => {
    const statuses = new Set<number>();
    for (let i = 0; i < LIMIT + 2; i += 1) {
      const response = await rawRequest(system.baseUrl, {
        method: 'GET',
        path: '/api/tasks/count/all',
        headers: { 'x-api-key': 'wrong-key-0123456789' },
        localAddress: '127.0.0.3',
      });
      statuses.add(response.status);
    }
    expect([...statuses]).toEqual([401, 429]);
    const elsewhere = await rawRequest(system.baseUrl, {
      method: 'GET',
      path: '/api/tasks/count/all',
      localAddress: '127.0.0.4',
    });
    expect(elsewhere.status).toBe(401);
    // Probes and metrics are never limited.
    for (let i = 0; i < LIMIT + 2; i += 1) {
      const probe = await rawRequest(system.baseUrl, {
        method: 'GET',
        path: '/health/live',
        localAddress: '127.0.0.3',
      });
      expect(probe.status).toBe(200);
    }
  });
});

describe('the gateway edge with the API open and a rate limit', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('edge-open', {
      apps: ['api-gateway'],
      env: { RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW_MS: '60000' },
    });
  });

  afterAll(async () => {
    await system?.stop();
  });

  it('gives each client address its own budget, and sends no CORS header without CORS_ORIGINS', async () => {
    const first: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      first.push(
        (await rawRequest(system.baseUrl, { method: 'GET', path: '/api/tasks/count/all', localAddress: '127.0.0.5' }))
          .status,
      );
    }
    expect(first).toEqual([200, 200, 200, 200, 200, 429]);
    const second = await rawRequest(system.baseUrl, {
      method: 'GET',
      path: '/api/tasks/count/all',
      headers: { origin: 'https://ops.example.com' },
      localAddress: '127.0.0.6',
    });
    expect(second.status).toBe(200);
    expect(second.headers['x-ratelimit-remaining']).toBe('4');
    expect(second.headers['access-control-allow-origin']).toBeUndefined();
    const body = JSON.parse(
      (await rawRequest(system.baseUrl, { method: 'GET', path: '/api/tasks/count/all', localAddress: '127.0.0.5' }))
        .text,
    ) as ErrorBody;
    expect(body).toMatchObject({ statusCode: 429, message: expect.stringMatching(/per client address/) });
  });
});
