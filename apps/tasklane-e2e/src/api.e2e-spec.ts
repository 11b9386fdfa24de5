import { TASK_TYPES, TaskPage, TaskResource, TaskStatus, TaskType, taskQueueName } from '@tasklane/contracts';
import { waitFor } from '@tasklane/testing';
import { HttpResponse, TasklaneSystem } from './support/tasklane-system';

interface ErrorBody {
  statusCode: number;
  message: string;
  errors?: Array<{ field: string; message: string }>;
}

const email = { to: 'ada@example.com', subject: 'Hello', body: 'Hi Ada' };

/**
 * The REST contract: validation, lookups, listing and counting, and 503 when a dependency is
 * down. Only the gateway runs (no workers), so every enqueued command stays visible in its queue.
 */
describe('REST API', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('api', { apps: ['api-gateway'], proxies: true });
  });

  afterAll(async () => {
    await system?.stop();
  });

  async function rowCount(): Promise<number> {
    const [row] = await system.query<{ n: number }>('SELECT COUNT(*) AS n FROM background_tasks');
    return Number(row.n);
  }

  async function queuedMessages(): Promise<number> {
    let total = 0;
    for (const type of TASK_TYPES) {
      total += (await system.queueState(taskQueueName(type))).messageCount;
    }
    return total;
  }

  describe('POST /api/tasks/enqueue', () => {
    it('answers 201 with the pending task and queues its command at its priority', async () => {
      const before = await system.queueState(taskQueueName(TaskType.Email));
      const response = await system.post<TaskResource>('/api/tasks/enqueue', {
        task_name: 'email.send',
        params: email,
        priority: 9,
      });
      expect(response.status).toBe(201);
      expect(response.body).toEqual({
        task_id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
        task_name: 'email.send',
        task_type: 'email',
        priority: 9,
        status: 'pending',
        params: email,
        result: null,
        error_message: null,
        retry_count: 0,
        max_retries: 3,
        timeout_ms: 60_000,
        run: 1,
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        run_at: null,
        progress: null,
        progress_message: null,
        started_at: null,
        completed_at: null,
      });
      expect((await system.queueState(taskQueueName(TaskType.Email))).messageCount).toBe(before.messageCount + 1);
      const fetched = await system.get<TaskResource>(`/api/tasks/${response.body.task_id}`);
      expect(fetched.status).toBe(200);
      expect(fetched.body).toEqual(response.body);
    });

    it('applies defaults: priority 5, max_retries 3, the catalogue type and timeout, empty params', async () => {
      const response = await system.post<TaskResource>('/api/tasks/enqueue', { task_name: 'analytics.task_stats' });
      expect(response.status).toBe(201);
      expect(response.body).toMatchObject({
        task_type: 'analytics',
        priority: 5,
        max_retries: 3,
        timeout_ms: 300_000,
        run: 1,
        params: {},
      });
    });

    const invalid: Array<[string, unknown, string[]]> = [
      ['a missing task_name', { params: email }, ['task_name']],
      ['an unknown task_name', { task_name: 'email.nope' }, ['task_name']],
      [
        'a task_type that does not match the name',
        { task_name: 'email.send', task_type: 'report', params: email },
        ['task_type'],
      ],
      ['an unknown task_type', { task_name: 'email.send', task_type: 'sms', params: email }, ['task_type']],
      [
        'no task_type where the name has no default',
        { task_name: 'diagnostic.sleep', params: { ms: 1 } },
        ['task_type'],
      ],
      [
        'params failing the task DTO',
        { task_name: 'email.send', params: { to: 'not-an-email', subject: '' } },
        ['params.to', 'params.subject', 'params.body'],
      ],
      ['an unknown param', { task_name: 'email.send', params: { ...email, cc: 'x@example.com' } }, ['params.cc']],
      ['params that are not an object', { task_name: 'email.send', params: [email] }, ['params']],
      ['priority 0', { task_name: 'email.send', params: email, priority: 0 }, ['priority']],
      ['priority 11', { task_name: 'email.send', params: email, priority: 11 }, ['priority']],
      ['a fractional priority', { task_name: 'email.send', params: email, priority: 2.5 }, ['priority']],
      ['a string priority', { task_name: 'email.send', params: email, priority: '5' }, ['priority']],
      ['max_retries -1', { task_name: 'email.send', params: email, max_retries: -1 }, ['max_retries']],
      ['max_retries 11', { task_name: 'email.send', params: email, max_retries: 11 }, ['max_retries']],
      ['an unknown field', { task_name: 'email.send', params: email, colour: 'red' }, ['colour']],
      [
        'several problems at once',
        { task_name: 'email.send', params: { to: 'x' }, priority: 99, max_retries: 'a' },
        ['params.to', 'priority', 'max_retries'],
      ],
      ['an array body', [{ task_name: 'email.send' }], ['(body)']],
      ['a null body', null, ['(body)']],
    ];

    it.each(invalid)(
      'answers 400 naming each bad field for %s, and writes and publishes nothing',
      async (_case, body, fields) => {
        const rowsBefore = await rowCount();
        const queuedBefore = await queuedMessages();
        const response = await system.post<ErrorBody>('/api/tasks/enqueue', body);
        expect(response.status).toBe(400);
        expect(response.body.statusCode).toBe(400);
        const named = new Set(response.body.errors?.map((error) => error.field));
        for (const field of fields) {
          expect(named).toContain(field);
        }
        expect(await rowCount()).toBe(rowsBefore);
        expect(await queuedMessages()).toBe(queuedBefore);
      },
    );

    it('answers 400 to malformed JSON and 415 to a body that is not JSON', async () => {
      const malformed = await system.request<ErrorBody>('POST', '/api/tasks/enqueue', '{"task_name": ');
      expect(malformed.status).toBe(400);
      expect(malformed.body.message).toMatch(/JSON/);
      const text = await system.request<ErrorBody>('POST', '/api/tasks/enqueue', 'task_name=email.send', {
        'content-type': 'text/plain',
      });
      expect(text.status).toBe(415);
      expect(text.body.statusCode).toBe(415);
    });
  });

  describe('POST /api/tasks/enqueue/batch', () => {
    it('answers 201 with every task, pending and in order, and queues each command at its priority', async () => {
      const queuedBefore = await system.queueState(taskQueueName(TaskType.Email));
      const rowsBefore = await rowCount();
      const tasks = Array.from({ length: 300 }, (_, index) => ({
        task_name: 'email.send',
        params: { ...email, subject: `Hello ${index}` },
        priority: (index % 10) + 1,
      }));
      const response = await system.post<{ tasks: TaskResource[] }>('/api/tasks/enqueue/batch', { tasks });
      expect(response.status).toBe(201);
      expect(response.body.tasks).toHaveLength(300);
      response.body.tasks.forEach((task, index) => {
        expect(task).toMatchObject({
          task_name: 'email.send',
          task_type: 'email',
          status: 'pending',
          priority: tasks[index].priority,
          params: tasks[index].params,
          max_retries: 3,
        });
      });
      expect(new Set(response.body.tasks.map((task) => task.task_id)).size).toBe(300);
      expect(await rowCount()).toBe(rowsBefore + 300);
      await waitFor('the 300 commands in the email queue', async () => {
        const queued = await system.queueState(taskQueueName(TaskType.Email));
        return queued.messageCount === queuedBefore.messageCount + 300;
      });
      const last = response.body.tasks[299];
      expect((await system.get<TaskResource>(`/api/tasks/${last.task_id}`)).body).toEqual(last);
    });

    it('answers 400 naming tasks[i] for one bad item among good ones, and writes and publishes nothing', async () => {
      const rowsBefore = await rowCount();
      const queuedBefore = await queuedMessages();
      const good = { task_name: 'email.send', params: email };
      const response = await system.post<ErrorBody>('/api/tasks/enqueue/batch', {
        tasks: [good, good, { ...good, priority: 11 }, good, { task_name: 'email.nope' }],
      });
      expect(response.status).toBe(400);
      expect(response.body.errors?.map((error) => error.field)).toEqual(['tasks[2].priority', 'tasks[4].task_name']);
      expect(await rowCount()).toBe(rowsBefore);
      expect(await queuedMessages()).toBe(queuedBefore);
    });

    it('answers 400 to an empty batch and to one over 1,000 tasks', async () => {
      for (const length of [0, 1_001]) {
        const tasks = Array.from({ length }, () => ({ task_name: 'email.send', params: email }));
        const response = await system.post<ErrorBody>('/api/tasks/enqueue/batch', { tasks });
        expect(response.status).toBe(400);
        expect(response.body.errors?.[0]?.field).toBe('tasks');
      }
    });
  });

  describe('GET /api/tasks/{task_id}', () => {
    it('answers 404 for an unknown id and 400 for a malformed one', async () => {
      const unknown = await system.get<ErrorBody>('/api/tasks/01890a5d-ac96-774b-bcce-b302099a8057');
      expect(unknown.status).toBe(404);
      expect(unknown.body.message).toMatch(/not found/);
      const malformed = await system.get<ErrorBody>('/api/tasks/not-a-uuid');
      expect(malformed.status).toBe(400);
      expect(malformed.body.errors).toEqual([{ field: 'task_id', message: 'task_id must be a UUID' }]);
    });
  });

  describe('listing and counting', () => {
    let created: TaskResource[];

    beforeAll(async () => {
      await system.query('DELETE FROM background_tasks');
      created = [];
      for (let i = 0; i < 7; i += 1) {
        created.push(
          await system.enqueue(
            i % 2 === 0
              ? { task_name: 'email.send', params: email }
              : { task_name: 'report.tasks_summary', params: {} },
          ),
        );
      }
      // Two of them are cancelled (pending → cancelled through the API).
      for (const task of [created[0], created[3]]) {
        expect((await system.post(`/api/tasks/${task.task_id}/cancel`)).status).toBe(200);
      }
    });

    it('lists newest first with total, limit and offset, with or without the trailing slash', async () => {
      for (const path of ['/api/tasks', '/api/tasks/']) {
        const page = await system.get<TaskPage>(`${path}?limit=3&offset=1`);
        expect(page.status).toBe(200);
        expect(page.body.total).toBe(7);
        expect(page.body.limit).toBe(3);
        expect(page.body.offset).toBe(1);
        expect(page.body.items.map((task) => task.task_id)).toEqual(
          [...created]
            .reverse()
            .slice(1, 4)
            .map((task) => task.task_id),
        );
      }
      const all = await system.get<TaskPage>('/api/tasks');
      expect(all.body).toMatchObject({ total: 7, limit: 50, offset: 0 });
      expect(all.body.items).toHaveLength(7);
      const beyond = await system.get<TaskPage>('/api/tasks?offset=100');
      expect(beyond.body).toMatchObject({ items: [], total: 7 });
    });

    it('filters by status and by task_type, together or apart', async () => {
      const cancelled = await system.get<TaskPage>('/api/tasks?status=cancelled');
      expect(cancelled.body.total).toBe(2);
      expect(cancelled.body.items.every((task) => task.status === TaskStatus.Cancelled)).toBe(true);
      const reports = await system.get<TaskPage>('/api/tasks?task_type=report');
      expect(reports.body.total).toBe(3);
      const pendingEmails = await system.get<TaskPage>('/api/tasks?task_type=email&status=pending');
      expect(pendingEmails.body.total).toBe(3);
      expect(pendingEmails.body.items.every((task) => task.task_type === 'email' && task.status === 'pending')).toBe(
        true,
      );
    });

    it('counts by status and task_type', async () => {
      expect((await system.get('/api/tasks/count/all')).body).toEqual({ count: 7 });
      expect((await system.get('/api/tasks/count/all?status=pending')).body).toEqual({ count: 5 });
      expect((await system.get('/api/tasks/count/all?task_type=email')).body).toEqual({ count: 4 });
      expect((await system.get('/api/tasks/count/all?task_type=email&status=cancelled')).body).toEqual({ count: 1 });
      expect((await system.get('/api/tasks/count/all?status=failed')).body).toEqual({ count: 0 });
    });

    it('walks every page with next_cursor, newest first, each task once, with or without filters', async () => {
      const newestFirst = [...created].reverse();
      const cases: Array<[string, TaskResource[]]> = [
        ['', newestFirst],
        ['&task_type=email', newestFirst.filter((task) => task.task_type === TaskType.Email)],
        [
          '&status=pending&task_type=report',
          // created[3] is a cancelled report
          newestFirst.filter((task) => task.task_type === TaskType.Report && task !== created[3]),
        ],
      ];
      for (const [filter, want] of cases) {
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const path = `/api/tasks?limit=2${filter}${cursor === null ? '' : `&cursor=${cursor}`}`;
          const page: HttpResponse<TaskPage> = await system.get<TaskPage>(path);
          expect(page.status).toBe(200);
          // The first page counts exactly (as the original API); cursor pages do not count.
          expect(page.body).toMatchObject({ total: cursor === null ? want.length : null, limit: 2, offset: 0 });
          seen.push(...page.body.items.map((task) => task.task_id));
          cursor = page.body.next_cursor;
          pages += 1;
        } while (cursor !== null && pages <= 10);
        expect({ filter, seen }).toEqual({ filter, seen: want.map((task) => task.task_id) });
        expect(pages).toBe(Math.ceil(want.length / 2));
      }
    });

    it('starts the next page right after the cursor, even when a task was enqueued meanwhile', async () => {
      const newestFirst = [...created].reverse().map((task) => task.task_id);
      const first = await system.get<TaskPage>('/api/tasks?limit=3');
      expect(first.body.items.map((task) => task.task_id)).toEqual(newestFirst.slice(0, 3));
      expect(first.body.next_cursor).toEqual(expect.any(String));
      const newer = await system.enqueue({ task_name: 'report.tasks_summary', params: {} });
      try {
        const second = await system.get<TaskPage>(`/api/tasks?limit=3&cursor=${first.body.next_cursor ?? ''}`);
        expect(second.body.items.map((task) => task.task_id)).toEqual(newestFirst.slice(3, 6));
        expect(second.body.total).toBeNull();
        expect((await system.get<TaskPage>('/api/tasks?limit=3')).body.total).toBe(8);
        // By offset, the same page would repeat the first page's last task.
        const byOffset = await system.get<TaskPage>('/api/tasks?limit=3&offset=3');
        expect(byOffset.body.items.map((task) => task.task_id)).toEqual(newestFirst.slice(2, 5));
      } finally {
        await system.query('DELETE FROM background_tasks WHERE task_id = ?', [newer.task_id]);
      }
    });

    it('lists 300 tasks enqueued concurrently newest first by created_at, by offset and by cursor', async () => {
      const enqueued = await Promise.all(
        Array.from({ length: 300 }, (_, index) =>
          system.enqueue({ task_name: 'report.tasks_summary', params: {}, priority: 1 + (index % 10) }),
        ),
      );
      try {
        const isNewestFirst = (items: TaskResource[]) =>
          items.every(
            (task, index) => index === 0 || Date.parse(items[index - 1].created_at) >= Date.parse(task.created_at),
          );
        const page = await system.get<TaskPage>('/api/tasks/?limit=200');
        expect(page.status).toBe(200);
        expect(page.body.items).toHaveLength(200);
        expect(isNewestFirst(page.body.items)).toBe(true);
        const rest = await system.get<TaskPage>(`/api/tasks/?limit=200&cursor=${page.body.next_cursor ?? ''}`);
        const listed = [...page.body.items, ...rest.body.items];
        expect(isNewestFirst(listed)).toBe(true);
        // Every task once: the 300 and the 7 of the fixture.
        expect(new Set(listed.map((task) => task.task_id)).size).toBe(307);
        const byType = await system.get<TaskPage>('/api/tasks/?task_type=report&status=pending&limit=200');
        expect(isNewestFirst(byType.body.items)).toBe(true);
      } finally {
        await system.query('DELETE FROM background_tasks WHERE task_id IN (?)', [enqueued.map((task) => task.task_id)]);
      }
    });

    it.each([
      ['/api/tasks?cursor=abc', 'cursor'],
      ['/api/tasks?cursor=', 'cursor'],
      ['/api/tasks?cursor=MTIz&offset=3', 'cursor'],
      // a cursor of an earlier version (the row id alone)
      ['/api/tasks?cursor=MTIz', 'cursor'],
      ['/api/tasks?status=done', 'status'],
      ['/api/tasks?task_type=sms', 'task_type'],
      ['/api/tasks?limit=0', 'limit'],
      ['/api/tasks?limit=501', 'limit'],
      ['/api/tasks?limit=abc', 'limit'],
      ['/api/tasks?limit=2.5', 'limit'],
      ['/api/tasks?offset=-1', 'offset'],
      ['/api/tasks?sort=asc', 'sort'],
      ['/api/tasks/count/all?status=done', 'status'],
      ['/api/tasks/count/all?task_type=sms', 'task_type'],
    ])('answers 400 to %s naming %s', async (path, field) => {
      const response = await system.get<ErrorBody>(path);
      expect(response.status).toBe(400);
      expect(response.body.errors?.map((error) => error.field)).toContain(field);
    });
  });

  describe('cancel', () => {
    it('cancels a pending task (200) and then answers 409 with its status; 404 when unknown', async () => {
      const task = await system.enqueue({ task_name: 'email.send', params: email });
      const cancelled = await system.post<TaskResource>(`/api/tasks/${task.task_id}/cancel`);
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({
        task_id: task.task_id,
        status: 'cancelled',
        completed_at: expect.any(String),
      });
      const again = await system.post<ErrorBody & { status: string }>(`/api/tasks/${task.task_id}/cancel`);
      expect(again.status).toBe(409);
      expect(again.body.status).toBe('cancelled');
      const unknown = await system.post('/api/tasks/01890a5d-ac96-774b-bcce-b302099a8057/cancel');
      expect(unknown.status).toBe(404);
    });
  });

  it('answers 404 with a JSON body to unknown routes', async () => {
    const response = await system.get<ErrorBody>('/api/nothing-here');
    expect(response.status).toBe(404);
    expect(response.body.statusCode).toBe(404);
  });

  describe('when a dependency is down', () => {
    it('answers 503 while RabbitMQ is unreachable, leaves no row behind, and recovers', async () => {
      const rowsBefore = await rowCount();
      await system.cutBroker();
      try {
        const started = Date.now();
        const response = await system.post<ErrorBody>('/api/tasks/enqueue', { task_name: 'email.send', params: email });
        expect(response.status).toBe(503);
        expect(response.body.message).toMatch(/RabbitMQ/);
        expect(Date.now() - started).toBeLessThan(10_000);
        expect(await rowCount()).toBe(rowsBefore);
        // Reads do not need the broker.
        expect((await system.get('/api/tasks/count/all')).status).toBe(200);
      } finally {
        await system.restoreBroker();
      }
      await waitFor(
        'enqueue to work again',
        async () =>
          (await system.post('/api/tasks/enqueue', { task_name: 'email.send', params: email })).status === 201,
        { timeoutMs: 20_000, intervalMs: 250 },
      );
    });

    it('answers 503 while the database is unreachable, publishes nothing, and recovers', async () => {
      const queuedBefore = await queuedMessages();
      await system.cutDatabase();
      try {
        for (const [method, path, body] of [
          ['POST', '/api/tasks/enqueue', { task_name: 'email.send', params: email }],
          ['GET', '/api/tasks', undefined],
          ['GET', '/api/tasks/count/all', undefined],
        ] as const) {
          const started = Date.now();
          const response = await system.request<ErrorBody>(method, path, body);
          expect(response.status).toBe(503);
          expect(response.body.message).toMatch(/database/);
          expect(Date.now() - started).toBeLessThan(10_000);
        }
        expect(await queuedMessages()).toBe(queuedBefore);
      } finally {
        await system.restoreDatabase();
      }
      await waitFor('the API to answer again', async () => (await system.get('/api/tasks/count/all')).status === 200, {
        timeoutMs: 20_000,
        intervalMs: 250,
      });
    });
  });
});
