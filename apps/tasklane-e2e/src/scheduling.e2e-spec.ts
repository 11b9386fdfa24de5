import { EnqueueBatchResult, TaskEventPage, TaskResource, TaskStatus, isTerminalStatus } from '@tasklane/contracts';
import { TasklaneSystem } from './support/tasklane-system';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ms = (iso: string | null) => (iso === null ? Number.NaN : new Date(iso).getTime());
const finished = (task: TaskResource) => isTerminalStatus(task.status);
const quick = { task_name: 'diagnostic.sleep', task_type: 'cleanup', params: { ms: 5 } };

/**
 * Delayed tasks and idempotent enqueue (issue #13), with the gateway, the tracker (its due relay)
 * and a worker each a process of their own, against the real RabbitMQ and MariaDB.
 */
describe('delayed tasks and idempotent enqueue, end to end', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('scheduling', {
      apps: ['api-gateway', 'status-tracker', 'worker-cleanup'],
    });
  });

  afterAll(async () => {
    await system?.stop();
  });

  const taskRows = async () =>
    Number((await system.query<{ n: number }>('SELECT COUNT(*) AS n FROM background_tasks'))[0].n);
  const startedEvents = async (taskId: string) => {
    const page = await system.get<TaskEventPage>(`/api/tasks/${taskId}/events`);
    return page.body.items.filter((event) => event.event === 'started').length;
  };

  describe('run_at / delay_ms', () => {
    it('keeps a task pending with its run_at until then, and starts it within a second after', async () => {
      const task = await system.enqueue({ ...quick, delay_ms: 2_500 });
      expect(task.status).toBe(TaskStatus.Pending);
      expect(ms(task.run_at) - ms(task.created_at)).toBe(2_500);

      await sleep(1_500);
      const waiting = await system.get<TaskResource>(`/api/tasks/${task.task_id}`);
      expect(waiting.body).toMatchObject({ status: TaskStatus.Pending, started_at: null, run_at: task.run_at });

      const done = await system.waitForTask(task.task_id, finished, 15_000);
      expect(done.status).toBe(TaskStatus.Completed);
      const lag = ms(done.started_at) - ms(task.run_at);
      expect(lag).toBeGreaterThanOrEqual(0);
      expect(lag).toBeLessThan(1_000);
    });

    it('reads run_at in any zone and shows it in UTC', async () => {
      const due = new Date(Date.now() + 2_000);
      const local = new Date(due.getTime() + 3_600_000).toISOString().replace('Z', '+01:00');
      const task = await system.enqueue({ ...quick, run_at: local });
      expect(task.run_at).toBe(due.toISOString());
      const done = await system.waitForTask(task.task_id, finished, 15_000);
      expect(ms(done.started_at)).toBeGreaterThanOrEqual(due.getTime());
    });

    it('a task cancelled before its time never starts', async () => {
      const task = await system.enqueue({ ...quick, delay_ms: 1_500 });
      const cancel = await system.post<TaskResource>(`/api/tasks/${task.task_id}/cancel`);
      expect(cancel.status).toBe(200);
      expect(cancel.body.status).toBe(TaskStatus.Cancelled);
      await sleep(3_000);
      const after = await system.get<TaskResource>(`/api/tasks/${task.task_id}`);
      expect(after.body).toMatchObject({ status: TaskStatus.Cancelled, started_at: null });
      expect(await startedEvents(task.task_id)).toBe(0);
    });

    it('a batch mixes tasks due now and later: each starts at its own time', async () => {
      const response = await system.post<EnqueueBatchResult>('/api/tasks/enqueue/batch', {
        tasks: [
          { ...quick, delay_ms: 2_000 },
          { ...quick, priority: 2 },
        ],
      });
      expect(response.status).toBe(201);
      const [later, now] = response.body.tasks;
      expect(now.run_at).toBeNull();
      const nowDone = await system.waitForTask(now.task_id, finished, 15_000);
      expect(ms(nowDone.started_at)).toBeLessThan(ms(later.run_at));
      const laterDone = await system.waitForTask(later.task_id, finished, 15_000);
      expect(ms(laterDone.started_at)).toBeGreaterThanOrEqual(ms(later.run_at));
    });

    it('refuses a bad schedule with a 400 naming the field, and writes nothing', async () => {
      const before = await taskRows();
      for (const [body, field] of [
        [{ ...quick, run_at: '2026-12-24T18:00:00' }, 'run_at'],
        [{ ...quick, run_at: '2026-12-24T18:00:00Z', delay_ms: 10 }, 'run_at'],
        [{ ...quick, delay_ms: -5 }, 'delay_ms'],
        [{ ...quick, run_at: '2999-01-01T00:00:00Z' }, 'run_at'],
      ] as const) {
        const response = await system.post<{ errors: Array<{ field: string }> }>('/api/tasks/enqueue', body);
        expect(response.status).toBe(400);
        expect([...new Set(response.body.errors.map((error) => error.field))]).toEqual([field]);
      }
      const batch = await system.post<{ errors: Array<{ field: string }> }>('/api/tasks/enqueue/batch', {
        tasks: [quick, { ...quick, delay_ms: 'soon' }],
      });
      expect(batch.status).toBe(400);
      expect([...new Set(batch.body.errors.map((error) => error.field))]).toEqual(['tasks[1].delay_ms']);
      expect(await taskRows()).toBe(before);
    });
  });

  describe('Idempotency-Key / idempotency_key', () => {
    const enqueueWithKey = (key: string, body: Record<string, unknown> = quick) =>
      system.request<TaskResource>('POST', '/api/tasks/enqueue', body, { 'idempotency-key': key });

    it('the same key again returns the same task with 200 and writes nothing; another request under it is a 409', async () => {
      const first = await enqueueWithKey('order-1001');
      expect(first.status).toBe(201);
      expect(first.headers?.get('idempotent-replayed')).toBeNull();
      await system.waitForTask(first.body.task_id, finished);
      const rows = await taskRows();

      const again = await enqueueWithKey('order-1001');
      expect(again.status).toBe(200);
      expect(again.headers?.get('idempotent-replayed')).toBe('true');
      expect(again.body).toMatchObject({ task_id: first.body.task_id, status: TaskStatus.Completed });
      // The body field is the same key (the caller is the same: anonymous here).
      const viaField = await system.post<TaskResource>('/api/tasks/enqueue', {
        ...quick,
        idempotency_key: 'order-1001',
      });
      expect([viaField.status, viaField.body.task_id]).toEqual([200, first.body.task_id]);

      const conflict = await enqueueWithKey('order-1001', { ...quick, priority: 9 });
      expect(conflict.status).toBe(409);
      expect(conflict.body).toMatchObject({ statusCode: 409, field: 'Idempotency-Key' });
      expect(JSON.stringify(conflict.body)).toContain('order-1001');
      expect(await taskRows()).toBe(rows);
      expect(await startedEvents(first.body.task_id)).toBe(1);
    });

    it('refuses a malformed key, or a header and a body field that disagree, with a 400 naming it', async () => {
      const before = await taskRows();
      const spaced = await enqueueWithKey('has space');
      expect(spaced.status).toBe(400);
      expect(JSON.stringify(spaced.body)).toContain('Idempotency-Key');
      const disagree = await system.request(
        'POST',
        '/api/tasks/enqueue',
        { ...quick, idempotency_key: 'a' },
        {
          'idempotency-key': 'b',
        },
      );
      expect(disagree.status).toBe(400);
      expect(JSON.stringify(disagree.body)).toContain('idempotency_key');
      const onBatch = await system.request(
        'POST',
        '/api/tasks/enqueue/batch',
        { tasks: [quick] },
        {
          'idempotency-key': 'c',
        },
      );
      expect(onBatch.status).toBe(400);
      expect(await taskRows()).toBe(before);
    });

    it('16 clients sending the same key at once create exactly one task, which runs once', async () => {
      const before = await taskRows();
      const answers = await Promise.all(Array.from({ length: 16 }, () => enqueueWithKey('race-16', quick)));
      expect(answers.map((answer) => answer.status).sort()).toEqual([...Array(15).fill(200), 201]);
      const ids = new Set(answers.map((answer) => answer.body.task_id));
      expect(ids.size).toBe(1);
      expect(await taskRows()).toBe(before + 1);
      const [taskId] = [...ids];
      await system.waitForTask(taskId, finished);
      expect(await startedEvents(taskId)).toBe(1);
    });

    it('a batch honours a key per item: known items come back, repeated items are one task, a conflict writes nothing', async () => {
      const body = {
        tasks: [
          { ...quick, idempotency_key: 'batch-a' },
          { ...quick, idempotency_key: 'batch-b', delay_ms: 60_000 },
          { ...quick, idempotency_key: 'batch-a' },
          quick,
        ],
      };
      const first = await system.post<EnqueueBatchResult>('/api/tasks/enqueue/batch', body);
      expect(first.status).toBe(201);
      const ids = first.body.tasks.map((task) => task.task_id);
      expect(ids[2]).toBe(ids[0]);
      expect(new Set(ids).size).toBe(3);
      const rows = await taskRows();

      // Again, without the unkeyed item: everything is found, 200.
      const again = await system.post<EnqueueBatchResult>('/api/tasks/enqueue/batch', {
        tasks: body.tasks.slice(0, 3),
      });
      expect(again.status).toBe(200);
      expect(again.body.tasks.map((task) => task.task_id)).toEqual(ids.slice(0, 3));
      expect(await taskRows()).toBe(rows);

      // A new item beside an item whose key stood for another request: 409 naming it, nothing written.
      const conflict = await system.post<{ field: string }>('/api/tasks/enqueue/batch', {
        tasks: [
          { ...quick, idempotency_key: 'batch-new' },
          { ...quick, idempotency_key: 'batch-b', delay_ms: 1 },
        ],
      });
      expect(conflict.status).toBe(409);
      expect(conflict.body.field).toBe('tasks[1].idempotency_key');
      // Two items under one key asking for different things: 409 too.
      const inner = await system.post<{ field: string }>('/api/tasks/enqueue/batch', {
        tasks: [
          { ...quick, idempotency_key: 'batch-inner' },
          { ...quick, idempotency_key: 'batch-inner', priority: 1 },
        ],
      });
      expect(inner.status).toBe(409);
      expect(inner.body.field).toBe('tasks[1].idempotency_key');
      expect(await taskRows()).toBe(rows);
    });
  });
});
