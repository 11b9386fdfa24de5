import {
  Queue,
  TASK_NAMES,
  TASK_TYPES,
  TaskResource,
  TaskType,
  isTerminalStatus,
  taskQueueName,
} from '@tasklane/contracts';
import { PrometheusExposition, parsePrometheusText, sampleValue, findSamples, waitFor } from '@tasklane/testing';
import { AppName, TasklaneSystem, WORKER_OF } from './support/tasklane-system';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const WORKERS = Object.values(WORKER_OF);
const HEADLESS: AppName[] = ['status-tracker', ...WORKERS];
const ALL_APPS: AppName[] = ['api-gateway', ...HEADLESS];

const email = { to: 'ada@example.com', subject: 'Metrics', body: 'Counted.' };
const finished = (task: TaskResource) => isTerminalStatus(task.status);

interface ReadinessBody {
  status: string;
  checks: Record<string, string>;
}

/**
 * What an operator sees of Tasklane: probes (`/health/live`, `/health/ready`), Prometheus metrics,
 * request ids, the API documentation and JSON logs — for the gateway on its API port, for the
 * workers and the tracker on their HEALTH_PORT. All six apps run, behind proxies the test cuts.
 */
describe('observability', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('observability', { proxies: true });
  });

  afterAll(async () => {
    await system?.stop();
  });

  async function readiness(key: string): Promise<{ status: number; body: ReadinessBody }> {
    const response = await system.opsGet(key, '/health/ready');
    return { status: response.status, body: JSON.parse(response.body) as ReadinessBody };
  }

  async function metricsOf(key: string): Promise<PrometheusExposition> {
    const response = await system.opsGet(key, '/metrics');
    expect(response.status).toBe(200);
    expect(response.contentType).toBe(PROMETHEUS_CONTENT_TYPE);
    return parsePrometheusText(response.body);
  }

  /** Waits until a sample of `key`'s metrics satisfies `done`, and returns its value. */
  async function waitForSample(
    key: string,
    name: string,
    labels: Record<string, string>,
    done: (value: number) => boolean,
  ): Promise<number> {
    let last: number | undefined;
    try {
      return await waitFor(
        `${name}${JSON.stringify(labels)} of ${key}`,
        async () => {
          last = sampleValue(await metricsOf(key), name, labels);
          return last !== undefined && done(last) ? last : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 200 },
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}; last value: ${String(last)}`);
    }
  }

  async function rawRequest(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${system.baseUrl}${path}`, { headers, signal: AbortSignal.timeout(10_000) });
  }

  describe('probes', () => {
    it('gateway: /health/live answers 200 and /health/ready 200 with RabbitMQ and the database up', async () => {
      const live = await system.opsGet('api-gateway', '/health/live');
      expect(live.status).toBe(200);
      expect(JSON.parse(live.body)).toEqual({ status: 'alive' });
      const ready = await readiness('api-gateway');
      expect(ready).toEqual({ status: 200, body: { status: 'ready', checks: { rabbitmq: 'up', database: 'up' } } });
    });

    it.each(HEADLESS)('%s: live 200, ready 200 with its consumer, RabbitMQ and the database up', async (app) => {
      const live = await system.opsGet(app, '/health/live');
      expect(live.status).toBe(200);
      expect(JSON.parse(live.body)).toEqual({ status: 'alive' });
      expect(await readiness(app)).toEqual({
        status: 200,
        body: { status: 'ready', checks: { consumer: 'up', rabbitmq: 'up', database: 'up' } },
      });
    });

    it.each(HEADLESS)('%s: its ops port answers 404 to anything else (no API there)', async (app) => {
      const response = await system.opsGet(app, '/api/tasks');
      expect(response.status).toBe(404);
      expect(response.contentType).toMatch(/^application\/json/);
    });
  });

  describe('metrics', () => {
    it.each(ALL_APPS)('%s: /metrics is Prometheus text, every series labelled with the app', async (app) => {
      const exposition = await metricsOf(app);
      expect(exposition.types['process_cpu_user_seconds_total']).toBe('counter');
      expect(exposition.samples.length).toBeGreaterThan(10);
      const apps = new Set(exposition.samples.map((sample) => sample.labels['app']));
      expect([...apps]).toEqual([app]);
    });

    it('gateway: tasklane_tasks_enqueued_total grows with each enqueue, by task type and priority', async () => {
      const labels = { task_type: 'email', priority: '7' };
      const before = sampleValue(await metricsOf('api-gateway'), 'tasklane_tasks_enqueued_total', labels) ?? 0;
      await system.enqueue({ task_name: 'email.send', params: email, priority: 7 });
      await system.enqueue({ task_name: 'email.send', params: email, priority: 7 });
      const text = (await system.opsGet('api-gateway', '/metrics')).body;
      expect(text).toMatch(
        new RegExp(`^tasklane_tasks_enqueued_total\\{[^}]*task_type="email"[^}]*\\} ${before + 2}$`, 'm'),
      );
      expect(sampleValue(text, 'tasklane_tasks_enqueued_total', labels)).toBe(before + 2);
    });

    it('gateway: a rejected enqueue is not counted', async () => {
      const count = async () =>
        findSamples(await metricsOf('api-gateway'), 'tasklane_tasks_enqueued_total').reduce(
          (sum, sample) => sum + sample.value,
          0,
        );
      const before = await count();
      expect((await system.post('/api/tasks/enqueue', { task_name: 'email.send', params: {} })).status).toBe(400);
      expect(await count()).toBe(before);
    });

    it('gateway: http_request_duration_seconds labels routes by template, never by task id', async () => {
      const task = await system.enqueue({ task_name: 'email.send', params: email });
      const unknownId = '01890a5d-ac96-774b-bcce-b302099a8057';
      const labels = { method: 'GET', route: '/api/tasks/:task_id' };
      const before = await metricsOf('api-gateway');
      const countOf = (exposition: PrometheusExposition, status: string) =>
        sampleValue(exposition, 'http_request_duration_seconds_count', { ...labels, status_code: status }) ?? 0;

      expect((await system.get(`/api/tasks/${task.task_id}`)).status).toBe(200);
      expect((await system.get(`/api/tasks/${unknownId}`)).status).toBe(404);
      expect((await system.get('/api/tasks/not-a-uuid')).status).toBe(400);
      expect((await system.get(`/api/nothing-here/${unknownId}`)).status).toBe(404);

      const after = await metricsOf('api-gateway');
      expect(after.types['http_request_duration_seconds']).toBe('histogram');
      expect(countOf(after, '200')).toBe(countOf(before, '200') + 1);
      expect(countOf(after, '404')).toBe(countOf(before, '404') + 1);
      expect(countOf(after, '400')).toBe(countOf(before, '400') + 1);
      expect(
        sampleValue(after, 'http_request_duration_seconds_count', {
          method: 'POST',
          route: '/api/tasks/enqueue',
          status_code: '201',
        }),
      ).toBeGreaterThanOrEqual(1);
      const routes = new Set(findSamples(after, 'http_request_duration_seconds_count').map((s) => s.labels['route']));
      for (const route of routes) {
        expect(route).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
        expect(route).not.toContain('not-a-uuid');
      }
    });

    it('worker and tracker: count a completed task (started, completed, duration, persisted events)', async () => {
      const type = { task_type: 'email' };
      const succeeded = { task_type: 'email', task_name: 'email.send', outcome: 'succeeded' };
      const worker = await metricsOf('worker-email');
      const tracker = await metricsOf('status-tracker');
      const before = {
        started: sampleValue(worker, 'tasklane_tasks_started_total', type) ?? NaN,
        completed: sampleValue(worker, 'tasklane_tasks_completed_total', type) ?? NaN,
        duration: sampleValue(worker, 'tasklane_task_duration_seconds_count', succeeded) ?? 0,
        persisted: sampleValue(tracker, 'tasklane_events_persisted_total', { event: 'succeeded' }) ?? 0,
        lag: sampleValue(tracker, 'tasklane_event_lag_seconds_count') ?? 0,
      };
      // The worker exports its counters before its first task.
      expect(before.started).toEqual(expect.any(Number));
      expect(before.completed).toEqual(expect.any(Number));

      const task = await system.enqueue({ task_name: 'email.send', params: email });
      expect((await system.waitForTask(task.task_id, finished)).status).toBe('completed');

      await waitForSample('worker-email', 'tasklane_tasks_started_total', type, (v) => v >= before.started + 1);
      await waitForSample('worker-email', 'tasklane_tasks_completed_total', type, (v) => v >= before.completed + 1);
      await waitForSample(
        'worker-email',
        'tasklane_task_duration_seconds_count',
        succeeded,
        (v) => v >= before.duration + 1,
      );
      await waitForSample(
        'status-tracker',
        'tasklane_events_persisted_total',
        { event: 'succeeded' },
        (v) => v >= before.persisted + 1,
      );
      await waitForSample('status-tracker', 'tasklane_events_persisted_total', { event: 'started' }, (v) => v >= 1);
      // started + succeeded: each written event is timed.
      await waitForSample('status-tracker', 'tasklane_event_lag_seconds_count', {}, (v) => v >= before.lag + 2);
      const after = await metricsOf('worker-email');
      expect(sampleValue(after, 'tasklane_tasks_failed_total', type)).toBe(0);
      expect(after.types['tasklane_task_duration_seconds']).toBe('histogram');
    });

    it('worker: a failed task is counted as failed, with a failed duration', async () => {
      const task = await system.enqueue({
        task_name: 'diagnostic.fail',
        task_type: 'report',
        params: { message: 'on purpose' },
        max_retries: 0,
      });
      expect((await system.waitForTask(task.task_id, finished)).status).toBe('failed');
      await waitForSample('worker-report', 'tasklane_tasks_failed_total', { task_type: 'report' }, (v) => v >= 1);
      await waitForSample(
        'worker-report',
        'tasklane_task_duration_seconds_count',
        { task_type: 'report', task_name: 'diagnostic.fail', outcome: 'failed' },
        (value) => value >= 1,
      );
      expect(
        sampleValue(await metricsOf('worker-report'), 'tasklane_tasks_completed_total', { task_type: 'report' }),
      ).toBe(0);
    });

    it.each(WORKERS)('%s: exports its task counters from the start, for its own type only', async (app) => {
      const type = TASK_TYPES.find((candidate) => WORKER_OF[candidate] === app) as TaskType;
      const exposition = await metricsOf(app);
      for (const name of [
        'tasklane_tasks_started_total',
        'tasklane_tasks_completed_total',
        'tasklane_tasks_failed_total',
        'tasklane_tasks_retried_total',
      ]) {
        const samples = findSamples(exposition, name);
        expect({ name, types: samples.map((sample) => sample.labels['task_type']) }).toEqual({ name, types: [type] });
      }
    });

    it('tracker: exports the age of the oldest pending task for every task type, and the queue depths', async () => {
      const tracker = await metricsOf('status-tracker');
      for (const type of TASK_TYPES) {
        expect(sampleValue(tracker, 'tasklane_pending_oldest_age_seconds', { task_type: type })).toEqual(
          expect.any(Number),
        );
        expect(sampleValue(tracker, 'tasklane_queue_messages_ready', { queue: taskQueueName(type) })).toEqual(
          expect.any(Number),
        );
      }
      expect(sampleValue(tracker, 'tasklane_queue_messages_ready', { queue: 'tasklane.tasks.email' })).toEqual(
        expect.any(Number),
      );
      expect(sampleValue(tracker, 'tasklane_queue_messages_ready', { queue: Queue.StatusTracker })).toEqual(
        expect.any(Number),
      );
      expect(sampleValue(tracker, 'tasklane_queue_messages_ready', { queue: Queue.DeadLetter })).toEqual(
        expect.any(Number),
      );
    });

    it('tracker: folds the count changes of every write into the task counts (ADR 0009), which stay exact', async () => {
      const task = await system.enqueue({ task_name: 'diagnostic.sleep', task_type: 'report', params: { ms: 1 } });
      expect((await system.waitForTask(task.task_id, finished)).status).toBe('completed');
      await waitForSample('status-tracker', 'tasklane_count_changes_pending', {}, (value) => value === 0);
      type Count = { task_type: string; status: string; n: number };
      const folded = await system.query<Count>(
        'SELECT task_type, status, n FROM background_task_counts WHERE n <> 0 ORDER BY task_type, status',
      );
      const scanned = await system.query<Count>(
        'SELECT task_type, status, COUNT(*) AS n FROM background_tasks GROUP BY task_type, status ORDER BY task_type, status',
      );
      expect(folded.map((row) => ({ ...row, n: Number(row.n) }))).toEqual(
        scanned.map((row) => ({ ...row, n: Number(row.n) })),
      );
      expect(folded).toContainEqual(expect.objectContaining({ task_type: 'report', status: 'completed' }));
    });

    it('tracker: the backlog gauges grow while a worker is away, and fall back once it returns', async () => {
      const queue = taskQueueName(TaskType.Cleanup);
      await system.stopApp('worker-cleanup');
      let task: TaskResource;
      try {
        task = await system.enqueue({ task_name: 'diagnostic.sleep', task_type: 'cleanup', params: { ms: 1 } });
        await waitForSample('status-tracker', 'tasklane_queue_messages_ready', { queue }, (value) => value >= 1);
        await waitForSample(
          'status-tracker',
          'tasklane_pending_oldest_age_seconds',
          { task_type: 'cleanup' },
          (value) => value >= 1,
        );
        expect((await system.get<TaskResource>(`/api/tasks/${task.task_id}`)).body.status).toBe('pending');
      } finally {
        await system.startApp('worker-cleanup');
      }
      expect((await system.waitForTask(task.task_id, finished)).status).toBe('completed');
      await waitForSample('status-tracker', 'tasklane_queue_messages_ready', { queue }, (value) => value === 0);
      await waitForSample(
        'status-tracker',
        'tasklane_pending_oldest_age_seconds',
        { task_type: 'cleanup' },
        (value) => value === 0,
      );
    });
  });

  describe('request ids', () => {
    it('echoes the X-Request-Id a caller sends', async () => {
      const response = await rawRequest('/api/tasks/count/all', { 'x-request-id': 'trace-4b1d-0001' });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-request-id')).toBe('trace-4b1d-0001');
      await response.arrayBuffer();
    });

    it('makes up a UUID when the caller sends none, a new one per request', async () => {
      const first = await rawRequest('/api/tasks/count/all');
      const second = await rawRequest('/api/tasks/count/all');
      await Promise.all([first.arrayBuffer(), second.arrayBuffer()]);
      expect(first.headers.get('x-request-id')).toMatch(UUID);
      expect(second.headers.get('x-request-id')).toMatch(UUID);
      expect(first.headers.get('x-request-id')).not.toBe(second.headers.get('x-request-id'));
    });

    it.each([
      ['too long', 'x'.repeat(129)],
      ['with spaces and markup', 'abc <script>'],
    ])('replaces a caller id that is %s with a UUID', async (_case, given) => {
      const response = await rawRequest('/api/tasks/count/all', { 'x-request-id': given });
      await response.arrayBuffer();
      expect(response.headers.get('x-request-id')).toMatch(UUID);
    });

    it('sets it on errors too (400, 404) and on the probes', async () => {
      for (const path of ['/api/tasks/not-a-uuid', '/api/nothing-here', '/health/ready', '/metrics']) {
        const sent = await rawRequest(path, { 'x-request-id': `id-${path}` });
        const made = await rawRequest(path);
        await Promise.all([sent.arrayBuffer(), made.arrayBuffer()]);
        expect({ path, id: sent.headers.get('x-request-id') }).toEqual({ path, id: `id-${path}` });
        expect({ path, id: made.headers.get('x-request-id') }).toEqual({ path, id: expect.stringMatching(UUID) });
      }
    });
  });

  describe('API documentation', () => {
    it('serves Swagger UI at /api/docs', async () => {
      const response = await rawRequest('/api/docs');
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await response.text()).toMatch(/swagger/i);
    });

    it('serves the OpenAPI document at /api/docs-json, listing every route', async () => {
      const response = await system.get<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(
        '/api/docs-json',
      );
      expect(response.status).toBe(200);
      expect(response.body.openapi).toMatch(/^3\./);
      expect(Object.keys(response.body.paths['/api/tasks/enqueue'])).toEqual(['post']);
      expect(Object.keys(response.body.paths).sort()).toEqual([
        '/api/dashboard/caller',
        '/api/dashboard/summary',
        '/api/schedules',
        '/api/schedules/{schedule_id}',
        '/api/tasks',
        '/api/tasks/count/all',
        '/api/tasks/enqueue',
        '/api/tasks/enqueue/batch',
        '/api/tasks/retry-failed',
        '/api/tasks/{task_id}',
        '/api/tasks/{task_id}/cancel',
        '/api/tasks/{task_id}/events',
        '/api/tasks/{task_id}/retry',
        '/api/tasks/{task_id}/runs',
        '/health/live',
        '/health/ready',
        '/metrics',
      ]);
      // Schemas are named components; follow the references as a generated client would.
      type Schema = { $ref?: string; title?: string; properties?: Record<string, Schema>; oneOf?: Schema[] };
      const document = response.body as unknown as { components: { schemas: Record<string, Schema> } };
      const resolve = (schema: Schema): Schema =>
        schema.$ref ? resolve(document.components.schemas[schema.$ref.replace('#/components/schemas/', '')]) : schema;
      const enqueue = response.body.paths['/api/tasks/enqueue']['post'] as {
        requestBody: { content: { 'application/json': { schema: Schema } } };
      };
      const body = resolve(enqueue.requestBody.content['application/json'].schema);
      const variants = (body.properties?.['params'].oneOf ?? []).map(resolve);
      expect(variants.map((variant) => variant.title).sort()).toEqual([...TASK_NAMES].sort());
    });
  });

  describe('logs', () => {
    it('a worker logs each task as JSON lines with task_id, task_name and attempt', async () => {
      const task = await system.enqueue({ task_name: 'email.send', params: email });
      expect((await system.waitForTask(task.task_id, finished)).status).toBe('completed');
      const worker = system.apps.get('worker-email');
      const lines = await waitFor('the task to be logged', () => {
        const found = parseJsonLines(worker?.logs() ?? '').filter((line) => line['task_id'] === task.task_id);
        return found.some((line) => line['message'] === 'task succeeded') ? found : undefined;
      });
      const messages = lines.map((line) => line['message']);
      expect(messages).toEqual(expect.arrayContaining(['task started', 'task succeeded']));
      for (const line of lines.filter((candidate) =>
        ['task started', 'task succeeded'].includes(String(candidate['message'])),
      )) {
        expect(line).toMatchObject({
          level: 'info',
          app: 'worker-email',
          context: 'TaskLifecycle',
          task_id: task.task_id,
          task_name: 'email.send',
          attempt: expect.any(Number),
          time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        });
        expect(line['attempt']).toBeGreaterThanOrEqual(1);
      }
    });

    it.each(ALL_APPS)('%s: every line of its output is a JSON object with level, time, app and message', (app) => {
      const output = system.apps.get(app)?.logs() ?? '';
      const lines = output.split('\n').filter((line) => line.trim() !== '');
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        let parsed: Record<string, unknown> | null = null;
        try {
          parsed = JSON.parse(line) as Record<string, unknown>;
        } catch {
          // reported below with the line
        }
        expect({ line, parsed }).toEqual({
          line,
          parsed: expect.objectContaining({
            level: expect.any(String),
            time: expect.any(String),
            app,
            message: expect.any(String),
          }),
        });
      }
    });
  });

  describe('shutdown', () => {
    it('a draining worker answers ready 503 with shutdown: down, stays live, and finishes its task', async () => {
      const task = await system.enqueue({
        task_name: 'diagnostic.sleep',
        task_type: 'analytics',
        params: { ms: 3_000 },
      });
      await system.waitForTask(task.task_id, (current) => current.status === 'running');
      const stopping = system.stopApp('worker-analytics');
      try {
        const report = await waitFor(
          'the draining worker to report its shutdown',
          async () => {
            const answer = await readiness('worker-analytics');
            return answer.body.checks['shutdown'] === 'down' ? answer : undefined;
          },
          { timeoutMs: 2_500, intervalMs: 50 },
        );
        // From the first moment of the shutdown: the consumer may still be cancelling.
        expect(report).toEqual({
          status: 503,
          body: {
            status: 'not_ready',
            checks: { consumer: expect.any(String), rabbitmq: 'up', database: 'up', shutdown: 'down' },
          },
        });
        const drained = await waitFor('the consumer to stop', async () => {
          const answer = await readiness('worker-analytics');
          return answer.body.checks['consumer'] === 'down' ? answer : undefined;
        });
        expect(drained.status).toBe(503);
        expect(drained.body.checks['shutdown']).toBe('down');
        expect((await system.opsGet('worker-analytics', '/health/live')).status).toBe(200);
        expect((await system.get<TaskResource>(`/api/tasks/${task.task_id}`)).body.status).toBe('running');
        expect(await stopping).toBe(0);
      } finally {
        await stopping;
        await system.startApp('worker-analytics');
      }
      expect((await system.waitForTask(task.task_id, finished)).status).toBe('completed');
    });
  });

  describe('when a dependency goes away', () => {
    async function waitForReadiness(
      key: string,
      status: number,
      checks: Record<string, string>,
    ): Promise<ReadinessBody> {
      let last: unknown;
      try {
        return await waitFor(
          `${key} to answer ${status} ${JSON.stringify(checks)}`,
          async () => {
            const report = await readiness(key);
            last = report;
            const matches = Object.entries(checks).every(([name, state]) => report.body.checks[name] === state);
            return report.status === status && matches ? report.body : undefined;
          },
          { timeoutMs: 20_000, intervalMs: 200 },
        );
      } catch (error) {
        throw new Error(`${(error as Error).message}; last answer: ${JSON.stringify(last)}`);
      }
    }

    async function expectAllReady(): Promise<void> {
      for (const app of ALL_APPS) {
        await waitForReadiness(app, 200, {});
      }
    }

    it('RabbitMQ down: every app turns not ready naming rabbitmq, stays live, and is ready again once it returns', async () => {
      await system.cutBroker();
      try {
        const gateway = await waitForReadiness('api-gateway', 503, { rabbitmq: 'down' });
        expect(gateway).toEqual({ status: 'not_ready', checks: { rabbitmq: 'down', database: 'up' } });
        for (const app of HEADLESS) {
          const report = await waitForReadiness(app, 503, { rabbitmq: 'down' });
          expect(report).toEqual({
            status: 'not_ready',
            checks: { rabbitmq: 'down', consumer: 'down', database: 'up' },
          });
        }
        for (const app of ALL_APPS) {
          expect({ app, live: (await system.opsGet(app, '/health/live')).status }).toEqual({ app, live: 200 });
        }
        // Metrics still answer: an outage must be observable.
        expect((await system.opsGet('status-tracker', '/metrics')).status).toBe(200);
        expect((await system.opsGet('api-gateway', '/metrics')).status).toBe(200);
      } finally {
        await system.restoreBroker();
      }
      const back = await waitForReadiness('api-gateway', 200, {});
      expect(back).toEqual({ status: 'ready', checks: { rabbitmq: 'up', database: 'up' } });
      await expectAllReady();
    });

    it('database down: every app turns not ready naming database, stays live, and is ready again once it returns', async () => {
      await system.cutDatabase();
      try {
        const gateway = await waitForReadiness('api-gateway', 503, { database: 'down' });
        expect(gateway).toEqual({ status: 'not_ready', checks: { rabbitmq: 'up', database: 'down' } });
        for (const app of HEADLESS) {
          const report = await waitForReadiness(app, 503, { database: 'down' });
          expect(report.checks).toMatchObject({ rabbitmq: 'up', database: 'down' });
        }
        // Metrics still answer, including the tracker's (which reads the table when scraped).
        expect((await system.opsGet('status-tracker', '/metrics')).status).toBe(200);
        expect((await system.opsGet('api-gateway', '/metrics')).status).toBe(200);
        for (const app of ALL_APPS) {
          expect({ app, live: (await system.opsGet(app, '/health/live')).status }).toEqual({ app, live: 200 });
        }
      } finally {
        await system.restoreDatabase();
      }
      const back = await waitForReadiness('api-gateway', 200, {});
      expect(back).toEqual({ status: 'ready', checks: { rabbitmq: 'up', database: 'up' } });
      await expectAllReady();
      // And the system works again.
      const task = await system.enqueue({ task_name: 'email.send', params: email });
      expect((await system.waitForTask(task.task_id, finished)).status).toBe('completed');
    });
  });
});

function parseJsonLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}
