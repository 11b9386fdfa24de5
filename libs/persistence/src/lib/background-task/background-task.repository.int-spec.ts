import { DataSource } from 'typeorm';
import { TaskEvent, TaskEventType, TaskName, TaskResource, TaskStatus, TaskType, newTaskId } from '@tasklane/contracts';
import { TestDatabase, createTestDatabase } from '@tasklane/testing';
import { dataSourceOptions } from '../database/data-source.options';
import { migrateUp } from '../database/migrator';
import { BackgroundTaskRepository, NewTask } from './background-task.repository';

// Real services (rabbitmqctl, vhost and database set-up) need more than Jest's default 5 s.
jest.setTimeout(30_000);

const T0 = Date.parse('2025-03-04T05:06:07.089Z');

/** A timestamp `ms` after T0 (sub-second, so millisecond precision is exercised). */
function at(ms: number): Date {
  return new Date(T0 + ms);
}

function newTask(overrides: Partial<NewTask> = {}): NewTask {
  return {
    taskId: newTaskId(),
    taskName: TaskName.DiagnosticSleep,
    taskType: TaskType.Email,
    priority: 7,
    params: { ms: 10, nested: { list: [1, 'two', null], flag: true }, unicode: 'héllo ✓' },
    maxRetries: 3,
    createdAt: at(0),
    ...overrides,
  };
}

type EventFields = { retry_count?: number; occurred_at?: Date };

function base(task: NewTask, fields: EventFields) {
  return {
    task_id: task.taskId,
    task_name: task.taskName,
    task_type: task.taskType,
    retry_count: fields.retry_count ?? 0,
    occurred_at: (fields.occurred_at ?? at(1_000)).toISOString(),
  };
}

const started = (task: NewTask, fields: EventFields = {}): TaskEvent => ({
  event: TaskEventType.Started,
  ...base(task, fields),
});
const succeeded = (task: NewTask, result: unknown, fields: EventFields = {}): TaskEvent => ({
  event: TaskEventType.Succeeded,
  ...base(task, fields),
  result,
});
const failed = (task: NewTask, errorMessage: string, fields: EventFields = {}): TaskEvent => ({
  event: TaskEventType.Failed,
  ...base(task, fields),
  error_message: errorMessage,
});
const retrying = (task: NewTask, errorMessage: string, fields: EventFields = {}): TaskEvent => ({
  event: TaskEventType.Retrying,
  ...base(task, fields),
  error_message: errorMessage,
  delay_ms: 1_000,
});
const cancelled = (task: NewTask, fields: EventFields = {}): TaskEvent => ({
  event: TaskEventType.Cancelled,
  ...base(task, fields),
});

describe('BackgroundTaskRepository (MariaDB)', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let tasks: BackgroundTaskRepository;

  beforeAll(async () => {
    db = await createTestDatabase('repository');
    await migrateUp(db.url);
    dataSource = new DataSource(dataSourceOptions({ url: db.url, poolSize: 2 }));
    await dataSource.initialize();
    tasks = new BackgroundTaskRepository(dataSource);
  });

  afterAll(async () => {
    if (dataSource?.isInitialized) {
      await dataSource.destroy();
    }
    await db?.drop();
  });

  async function row(taskId: string): Promise<TaskResource> {
    const found = await tasks.findByTaskId(taskId);
    if (found === null) {
      throw new Error(`task ${taskId} not found`);
    }
    return found;
  }

  async function inserted(overrides: Partial<NewTask> = {}): Promise<NewTask> {
    const task = newTask(overrides);
    await tasks.insertPending(task);
    return task;
  }

  describe('insertPending / findByTaskId', () => {
    it('round-trips every field', async () => {
      const task = newTask({ createdAt: new Date('2025-12-31T23:59:59.999Z') });
      const returned = await tasks.insertPending(task);

      const expected: TaskResource = {
        task_id: task.taskId,
        task_name: TaskName.DiagnosticSleep,
        task_type: TaskType.Email,
        priority: 7,
        status: TaskStatus.Pending,
        params: { ms: 10, nested: { list: [1, 'two', null], flag: true }, unicode: 'héllo ✓' },
        result: null,
        error_message: null,
        retry_count: 0,
        max_retries: 3,
        created_at: '2025-12-31T23:59:59.999Z',
        started_at: null,
        completed_at: null,
      };
      expect(returned).toEqual(expected);
      expect(await tasks.findByTaskId(task.taskId)).toEqual(expected);
    });

    it('stores timestamps as UTC wall-clock time with milliseconds', async () => {
      const task = await inserted({ createdAt: at(0) });
      const [stored] = (await dataSource.query(
        "SELECT DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s.%f') AS created FROM background_tasks WHERE task_id = ?",
        [task.taskId],
      )) as Array<{ created: string }>;
      expect(stored.created).toBe('2025-03-04 05:06:07.089000');
      expect((await row(task.taskId)).created_at).toBe('2025-03-04T05:06:07.089Z');
    });

    it('returns null for an unknown task', async () => {
      expect(await tasks.findByTaskId(newTaskId())).toBeNull();
    });

    it('refuses a second task with the same task_id', async () => {
      const task = await inserted();
      await expect(tasks.insertPending({ ...task, priority: 1 })).rejects.toThrow(/Duplicate entry/);
      expect((await row(task.taskId)).priority).toBe(7);
    });

    it('deleteUnstarted removes a pending first attempt only', async () => {
      const pending = await inserted();
      await tasks.deleteUnstarted(pending.taskId);
      expect(await tasks.findByTaskId(pending.taskId)).toBeNull();

      const running = await inserted();
      expect(await tasks.claim(running.taskId, 0, at(100))).toBe(true);
      await tasks.deleteUnstarted(running.taskId);
      expect((await row(running.taskId)).status).toBe(TaskStatus.Running);
    });
  });

  describe('claim / releaseClaim / cancelPending', () => {
    it('claims an attempt once; a second claim of the same attempt fails', async () => {
      const task = await inserted();

      expect(await tasks.claim(task.taskId, 0, at(1_234))).toBe(true);
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Running,
        retry_count: 0,
        started_at: at(1_234).toISOString(),
        completed_at: null,
      });

      expect(await tasks.claim(task.taskId, 0, at(5_000))).toBe(false);
      expect((await row(task.taskId)).started_at).toBe(at(1_234).toISOString());
    });

    it('does not claim an unknown task, an attempt beyond max_retries, or an older attempt', async () => {
      expect(await tasks.claim(newTaskId(), 0, at(1))).toBe(false);

      const task = await inserted({ maxRetries: 1 });
      expect(await tasks.claim(task.taskId, 2, at(1))).toBe(false);
      expect((await row(task.taskId)).status).toBe(TaskStatus.Pending);

      expect(await tasks.claim(task.taskId, 1, at(2))).toBe(true);
      expect(await tasks.claim(task.taskId, 0, at(3))).toBe(false);
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Running, retry_count: 1 });
    });

    it('does not claim a cancelled task', async () => {
      const task = await inserted();
      expect(await tasks.cancelPending(task.taskId, at(10))).toBe(true);

      expect(await tasks.claim(task.taskId, 0, at(20))).toBe(false);
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Cancelled,
        started_at: null,
        completed_at: at(10).toISOString(),
      });
    });

    it('cancels only a pending task', async () => {
      const pending = await inserted();
      expect(await tasks.cancelPending(pending.taskId, at(10))).toBe(true);
      expect(await tasks.cancelPending(pending.taskId, at(20))).toBe(false);
      expect((await row(pending.taskId)).completed_at).toBe(at(10).toISOString());

      const running = await inserted();
      await tasks.claim(running.taskId, 0, at(5));
      expect(await tasks.cancelPending(running.taskId, at(10))).toBe(false);
      expect((await row(running.taskId)).status).toBe(TaskStatus.Running);

      const completed = await inserted();
      await tasks.applyEvents([succeeded(completed, { ok: true })]);
      expect(await tasks.cancelPending(completed.taskId, at(10))).toBe(false);
      expect((await row(completed.taskId)).status).toBe(TaskStatus.Completed);

      expect(await tasks.cancelPending(newTaskId(), at(10))).toBe(false);
    });

    it('releaseClaim returns a running attempt to pending so that it can be claimed again', async () => {
      const task = await inserted();
      expect(await tasks.claim(task.taskId, 0, at(100))).toBe(true);

      expect(await tasks.releaseClaim(task.taskId, 1)).toBe(false);
      expect(await tasks.releaseClaim(task.taskId, 0)).toBe(true);
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Pending, retry_count: 0, started_at: null });
      expect(await tasks.releaseClaim(task.taskId, 0)).toBe(false);

      expect(await tasks.claim(task.taskId, 0, at(200))).toBe(true);
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Running, started_at: at(200).toISOString() });
    });

    it('releaseClaim does not touch a finished task', async () => {
      const task = await inserted();
      await tasks.claim(task.taskId, 0, at(100));
      await tasks.applyEvents([succeeded(task, 1, { occurred_at: at(200) })]);
      expect(await tasks.releaseClaim(task.taskId, 0)).toBe(false);
      expect((await row(task.taskId)).status).toBe(TaskStatus.Completed);
    });

    it('failUnprocessable ends an active task only', async () => {
      const task = await inserted();
      expect(await tasks.failUnprocessable(task.taskId, 'poison', at(50))).toBe(true);
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Failed,
        error_message: 'poison',
        completed_at: at(50).toISOString(),
      });
      expect(await tasks.failUnprocessable(task.taskId, 'again', at(60))).toBe(false);
      expect((await row(task.taskId)).error_message).toBe('poison');
    });
  });

  describe('applyEvents', () => {
    it('completes a task on started then succeeded', async () => {
      const task = await inserted();
      const result = await tasks.applyEvents([
        started(task, { occurred_at: at(1_001) }),
        succeeded(task, { sent: 3, ids: ['a', 'b'] }, { occurred_at: at(2_002) }),
      ]);

      expect(result).toEqual({ applied: 2, stale: 0 });
      expect(await row(task.taskId)).toEqual({
        task_id: task.taskId,
        task_name: task.taskName,
        task_type: task.taskType,
        priority: 7,
        status: TaskStatus.Completed,
        params: task.params,
        result: { sent: 3, ids: ['a', 'b'] },
        error_message: null,
        retry_count: 0,
        max_retries: 3,
        created_at: at(0).toISOString(),
        started_at: at(1_001).toISOString(),
        completed_at: at(2_002).toISOString(),
      });
    });

    it('applies events given in separate calls', async () => {
      const task = await inserted();
      expect(await tasks.applyEvents([started(task, { occurred_at: at(1) })])).toEqual({ applied: 1, stale: 0 });
      expect((await row(task.taskId)).status).toBe(TaskStatus.Running);
      expect(await tasks.applyEvents([succeeded(task, 'done', { occurred_at: at(2) })])).toEqual({
        applied: 1,
        stale: 0,
      });
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Completed, result: 'done' });
    });

    it('stores a null result as null', async () => {
      const task = await inserted();
      await tasks.applyEvents([succeeded(task, null)]);
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Completed, result: null });
    });

    it('counts a duplicate event as stale and changes nothing', async () => {
      const task = await inserted();
      await tasks.applyEvents([
        started(task, { occurred_at: at(1) }),
        succeeded(task, { n: 1 }, { occurred_at: at(2) }),
      ]);
      const before = await row(task.taskId);

      expect(await tasks.applyEvents([succeeded(task, { n: 2 }, { occurred_at: at(3) })])).toEqual({
        applied: 0,
        stale: 1,
      });
      expect(await tasks.applyEvents([started(task, { occurred_at: at(4) })])).toEqual({ applied: 0, stale: 1 });
      expect(await row(task.taskId)).toEqual(before);

      const running = await inserted();
      expect(
        await tasks.applyEvents([started(running, { occurred_at: at(1) }), started(running, { occurred_at: at(9) })]),
      ).toEqual({
        applied: 1,
        stale: 1,
      });
      expect((await row(running.taskId)).started_at).toBe(at(1).toISOString());
    });

    it('does not move a task back on a late started after succeeded', async () => {
      const task = await inserted();
      await tasks.claim(task.taskId, 0, at(1));
      expect(await tasks.applyEvents([succeeded(task, 42, { occurred_at: at(2) })])).toEqual({ applied: 1, stale: 0 });

      expect(await tasks.applyEvents([started(task, { occurred_at: at(3) })])).toEqual({ applied: 0, stale: 1 });
      // A finished task stays finished even for events of a later attempt.
      expect(
        await tasks.applyEvents([
          retrying(task, 'late', { retry_count: 0 }),
          started(task, { retry_count: 1, occurred_at: at(4) }),
        ]),
      ).toEqual({ applied: 0, stale: 2 });
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Completed,
        retry_count: 0,
        error_message: null,
        result: 42,
        started_at: at(1).toISOString(),
        completed_at: at(2).toISOString(),
      });
    });

    it('yields the same final row whether a claimed task\u2019s events arrive in order or reversed', async () => {
      // As in production: the worker claims the attempt (running, started_at) before publishing events.
      const inOrder = await inserted();
      const reversed = await inserted();
      for (const task of [inOrder, reversed]) {
        expect(await tasks.claim(task.taskId, 0, at(500))).toBe(true);
      }
      const events = (task: NewTask) => [
        started(task, { occurred_at: at(500) }),
        succeeded(task, { rows: 12 }, { occurred_at: at(900) }),
      ];

      await tasks.applyEvents(events(inOrder));
      await tasks.applyEvents(events(reversed).reverse());

      const a = await row(inOrder.taskId);
      const b = await row(reversed.taskId);
      expect(b).toEqual({ ...a, task_id: reversed.taskId });
      expect(a).toMatchObject({
        status: TaskStatus.Completed,
        result: { rows: 12 },
        completed_at: at(900).toISOString(),
      });
    });

    it('yields the same status, result and timestamps of completion for unclaimed events in either order', async () => {
      const inOrder = await inserted();
      const reversed = await inserted();
      const events = (task: NewTask) => [
        started(task, { occurred_at: at(500) }),
        succeeded(task, { rows: 12 }, { occurred_at: at(900) }),
      ];

      expect(await tasks.applyEvents(events(inOrder))).toEqual({ applied: 2, stale: 0 });
      // Reversed, one event per call, as separate deliveries would be.
      const [first, second] = events(reversed).reverse();
      expect(await tasks.applyEvents([first])).toEqual({ applied: 1, stale: 0 });
      expect(await tasks.applyEvents([second])).toEqual({ applied: 0, stale: 1 });

      const a = await row(inOrder.taskId);
      const b = await row(reversed.taskId);
      // Note: a `started` arriving after `succeeded` is stale, so started_at is only known from the
      // worker's claim; without one it stays null. Everything else matches.
      const { started_at: startedA, ...restA } = a;
      const { started_at: startedB, ...restB } = b;
      expect(restB).toEqual({ ...restA, task_id: reversed.taskId });
      expect(startedA).toBe(at(500).toISOString());
      expect([null, at(500).toISOString()]).toContain(startedB);
    });

    it('retrying moves the task to pending as the next attempt, with the error', async () => {
      const task = await inserted({ maxRetries: 3 });
      await tasks.claim(task.taskId, 0, at(10));

      expect(
        await tasks.applyEvents([retrying(task, 'SMTP timeout', { retry_count: 0, occurred_at: at(20) })]),
      ).toEqual({
        applied: 1,
        stale: 0,
      });
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Pending,
        retry_count: 1,
        error_message: 'SMTP timeout',
        completed_at: null,
      });

      // The next attempt can be claimed, and then succeed (clearing the error).
      expect(await tasks.claim(task.taskId, 1, at(30))).toBe(true);
      await tasks.applyEvents([
        started(task, { retry_count: 1, occurred_at: at(30) }),
        succeeded(task, 'ok', { retry_count: 1, occurred_at: at(40) }),
      ]);
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Completed,
        retry_count: 1,
        result: 'ok',
        error_message: null,
        started_at: at(30).toISOString(),
        completed_at: at(40).toISOString(),
      });
    });

    it('ignores a stale retrying of an older attempt, and older-attempt events in general', async () => {
      const task = await inserted({ maxRetries: 5 });
      await tasks.applyEvents([
        started(task, { retry_count: 0 }),
        retrying(task, 'first', { retry_count: 0 }),
        started(task, { retry_count: 1 }),
        retrying(task, 'second', { retry_count: 1 }),
      ]);
      const before = await row(task.taskId);
      expect(before).toMatchObject({ status: TaskStatus.Pending, retry_count: 2, error_message: 'second' });

      expect(
        await tasks.applyEvents([
          retrying(task, 'first again', { retry_count: 0 }),
          started(task, { retry_count: 1 }),
          succeeded(task, 'late', { retry_count: 0 }),
          failed(task, 'late', { retry_count: 1 }),
        ]),
      ).toEqual({ applied: 0, stale: 4 });
      expect(await row(task.taskId)).toEqual(before);
    });

    it('ignores (without error) a retrying beyond max_retries', async () => {
      const task = await inserted({ maxRetries: 1 });
      await tasks.applyEvents([
        started(task),
        retrying(task, 'first', { retry_count: 0 }),
        started(task, { retry_count: 1 }),
      ]);
      const before = await row(task.taskId);
      expect(before).toMatchObject({ status: TaskStatus.Running, retry_count: 1 });

      expect(await tasks.applyEvents([retrying(task, 'too many', { retry_count: 1 })])).toEqual({
        applied: 0,
        stale: 1,
      });
      expect(await row(task.taskId)).toEqual(before);

      const none = await inserted({ maxRetries: 0 });
      expect(await tasks.applyEvents([retrying(none, 'never', { retry_count: 0 })])).toEqual({ applied: 0, stale: 1 });
      expect(await row(none.taskId)).toMatchObject({ status: TaskStatus.Pending, retry_count: 0, error_message: null });
    });

    it('ends a task as failed with the error and completed_at', async () => {
      const task = await inserted();
      await tasks.claim(task.taskId, 0, at(100));
      expect(await tasks.applyEvents([failed(task, 'handler threw: boom', { occurred_at: at(250) })])).toEqual({
        applied: 1,
        stale: 0,
      });
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Failed,
        error_message: 'handler threw: boom',
        result: null,
        started_at: at(100).toISOString(),
        completed_at: at(250).toISOString(),
      });
      // Terminal: a later success of the same attempt is stale.
      expect(await tasks.applyEvents([succeeded(task, 'nope', { occurred_at: at(300) })])).toEqual({
        applied: 0,
        stale: 1,
      });
      expect((await row(task.taskId)).status).toBe(TaskStatus.Failed);
    });

    it('ignores events for a cancelled task', async () => {
      const task = await inserted();
      await tasks.cancelPending(task.taskId, at(10));
      const before = await row(task.taskId);

      expect(
        await tasks.applyEvents([
          started(task),
          succeeded(task, 'x'),
          failed(task, 'x'),
          retrying(task, 'x'),
          cancelled(task),
          started(task, { retry_count: 1 }),
        ]),
      ).toEqual({ applied: 0, stale: 6 });
      expect(await row(task.taskId)).toEqual(before);
    });

    it('applies a cancelled event to an active task', async () => {
      const task = await inserted();
      expect(await tasks.applyEvents([cancelled(task, { occurred_at: at(77) })])).toEqual({ applied: 1, stale: 0 });
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Cancelled,
        completed_at: at(77).toISOString(),
      });
    });

    it('counts events of unknown tasks as stale', async () => {
      expect(await tasks.applyEvents([started(newTask())])).toEqual({ applied: 0, stale: 1 });
    });

    it('applies a batch in one transaction: a refused event rolls the whole batch back', async () => {
      const task = await inserted();
      const other = await inserted();
      // error_message is TEXT (64 KiB): a longer one is refused in strict mode.
      const huge = 'x'.repeat(70_000);
      await expect(tasks.applyEvents([started(task), failed(other, huge)])).rejects.toThrow(/Data too long/);
      expect((await row(task.taskId)).status).toBe(TaskStatus.Pending);
      expect((await row(other.taskId)).status).toBe(TaskStatus.Pending);
    });
  });

  describe('list / count', () => {
    let created: NewTask[];

    beforeAll(async () => {
      await dataSource.query('DELETE FROM background_tasks');
      // Inserted oldest first; ids grow with insertion order.
      const specs: Array<Partial<NewTask>> = [
        { taskType: TaskType.Email, taskName: TaskName.EmailSend },
        { taskType: TaskType.Report, taskName: TaskName.ReportTasksSummary },
        { taskType: TaskType.Email, taskName: TaskName.EmailSend },
        { taskType: TaskType.Cleanup, taskName: TaskName.CleanupPurgeTasks },
        { taskType: TaskType.Email, taskName: TaskName.DiagnosticFail },
        { taskType: TaskType.Report, taskName: TaskName.DiagnosticSleep },
      ];
      created = [];
      for (const [index, spec] of specs.entries()) {
        created.push(await inserted({ ...spec, createdAt: at(index) }));
      }
      // Statuses: 0 completed, 1 running, 2 failed, 3 pending, 4 pending, 5 cancelled.
      await tasks.applyEvents([succeeded(created[0], null), started(created[1]), failed(created[2], 'e')]);
      await tasks.cancelPending(created[5].taskId, at(99));
    });

    const ids = (items: TaskResource[]) => items.map((item) => item.task_id);
    const newestFirst = (...indexes: number[]) => indexes.map((index) => created[index].taskId);

    it('lists newest first with the total', async () => {
      const page = await tasks.list({}, 50, 0);
      expect(page.total).toBe(6);
      expect(page.limit).toBe(50);
      expect(page.offset).toBe(0);
      expect(ids(page.items)).toEqual(newestFirst(5, 4, 3, 2, 1, 0));
      expect(page.items[5]).toMatchObject({ status: TaskStatus.Completed, task_name: TaskName.EmailSend });
    });

    it('honours limit and offset, with the total of all matches', async () => {
      const first = await tasks.list({}, 2, 0);
      const second = await tasks.list({}, 2, 2);
      const last = await tasks.list({}, 2, 4);
      const beyond = await tasks.list({}, 2, 10);
      expect(ids(first.items)).toEqual(newestFirst(5, 4));
      expect(ids(second.items)).toEqual(newestFirst(3, 2));
      expect(ids(last.items)).toEqual(newestFirst(1, 0));
      expect(beyond.items).toEqual([]);
      for (const page of [first, second, last, beyond]) {
        expect(page.total).toBe(6);
      }
      expect(second).toMatchObject({ limit: 2, offset: 2 });
    });

    it('filters by status, by task type, and by both', async () => {
      const pending = await tasks.list({ status: TaskStatus.Pending }, 50, 0);
      expect(ids(pending.items)).toEqual(newestFirst(4, 3));
      expect(pending.total).toBe(2);

      const email = await tasks.list({ taskType: TaskType.Email }, 50, 0);
      expect(ids(email.items)).toEqual(newestFirst(4, 2, 0));
      expect(email.total).toBe(3);

      const emailPending = await tasks.list({ status: TaskStatus.Pending, taskType: TaskType.Email }, 1, 0);
      expect(ids(emailPending.items)).toEqual(newestFirst(4));
      expect(emailPending.total).toBe(1);

      const none = await tasks.list({ status: TaskStatus.Running, taskType: TaskType.Analytics }, 50, 0);
      expect(none).toEqual({ items: [], total: 0, limit: 50, offset: 0 });
    });

    it('counts with and without filters', async () => {
      expect(await tasks.count({})).toBe(6);
      expect(await tasks.count({ status: TaskStatus.Pending })).toBe(2);
      expect(await tasks.count({ status: TaskStatus.Completed })).toBe(1);
      expect(await tasks.count({ taskType: TaskType.Report })).toBe(2);
      expect(await tasks.count({ taskType: TaskType.Report, status: TaskStatus.Cancelled })).toBe(1);
      expect(await tasks.count({ taskType: TaskType.Analytics })).toBe(0);
    });
  });
});
