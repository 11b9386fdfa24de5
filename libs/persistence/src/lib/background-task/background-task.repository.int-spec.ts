import { DataSource } from 'typeorm';
import {
  TASK_STATUSES,
  TASK_TYPES,
  TaskCommand,
  TaskEvent,
  TaskEventType,
  TaskFailedEvent,
  TaskSucceededEvent,
  TaskName,
  TaskPage,
  TaskResource,
  TaskStatus,
  TaskType,
  encodeTaskCursor,
  newTaskId,
} from '@tasklane/contracts';
import { TestDatabase, createTestDatabase } from '@tasklane/testing';
import { dataSourceOptions } from '../database/data-source.options';
import { migrateUp, recountTaskCounts } from '../database/migrator';
import { BackgroundTaskRepository, Claim, NewTask, TaskFilter } from './background-task.repository';

// Real services (rabbitmqctl, vhost and database set-up) need more than Jest's default 5 s.
jest.setTimeout(30_000);

const T0 = Date.parse('2025-03-04T05:06:07.089Z');
/** A lease that never expires while this file runs. */
const LEASE_MS = 600_000;
/** The generation of a task's first claim (a new row holds 0). */
const FIRST_CLAIM = 1;
/** The `attempt` of a row nobody has claimed yet: events of that generation exercise the forward guard alone. */
const UNCLAIMED = 0;

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
    timeoutMs: 30_000,
    createdAt: at(0),
    ...overrides,
  };
}

/** `attempt` defaults to the first claim's generation: events come from a worker that claimed the task. */
type EventFields = { retry_count?: number; occurred_at?: Date; attempt?: number };

function base(task: NewTask, fields: EventFields) {
  return {
    task_id: task.taskId,
    task_name: task.taskName,
    task_type: task.taskType,
    retry_count: fields.retry_count ?? 0,
    attempt: fields.attempt ?? FIRST_CLAIM,
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

/** The delivery columns of a row (migration 003), which the API resource does not expose. */
interface Delivery {
  attempt: number;
  lease_expires_at: Date | null;
  dispatched_at: Date | null;
  /** lease_expires_at − now on the database clock, in ms (negative once expired); null without a lease. */
  lease_left_ms: number | null;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

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

  async function delivery(taskId: string): Promise<Delivery> {
    const [found] = (await dataSource.query(
      `SELECT attempt, lease_expires_at, dispatched_at,
              CAST(TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(3), lease_expires_at) DIV 1000 AS SIGNED) AS lease_left_ms
         FROM background_tasks WHERE task_id = ?`,
      [taskId],
    )) as Delivery[];
    if (found === undefined) {
      throw new Error(`task ${taskId} not found`);
    }
    return { ...found, lease_left_ms: found.lease_left_ms === null ? null : Number(found.lease_left_ms) };
  }

  async function inserted(overrides: Partial<NewTask> = {}): Promise<NewTask> {
    const task = newTask(overrides);
    await tasks.insertPending(task);
    return task;
  }

  /** Claims retry `retryCount` of a task with a long lease; fails the test if it is not claimable. */
  async function claimed(task: NewTask, retryCount = 0, startedAt = at(100)): Promise<number> {
    const attempt = await tasks.claim(task.taskId, retryCount, startedAt, LEASE_MS);
    if (attempt === null) {
      throw new Error(`task ${task.taskId} could not be claimed`);
    }
    return attempt;
  }

  /** Moves a running task's lease to `secondsAgo` seconds in the past, as if its worker had died then. */
  async function expireLease(taskId: string, secondsAgo: number): Promise<void> {
    await dataSource.query(
      'UPDATE background_tasks SET lease_expires_at = DATE_SUB(UTC_TIMESTAMP(3), INTERVAL ? SECOND) WHERE task_id = ?',
      [secondsAgo, taskId],
    );
  }

  function commandOf(task: NewTask, retryCount = 0): TaskCommand {
    return {
      task_id: task.taskId,
      task_name: task.taskName,
      task_type: task.taskType,
      params: task.params as never,
      priority: task.priority,
      max_retries: task.maxRetries,
      retry_count: retryCount,
      timeout_ms: task.timeoutMs,
    };
  }

  describe('insertPending / findByTaskId / markDispatched', () => {
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
        timeout_ms: 30_000,
        run: 1,
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

    it('inserts a task into the outbox: never claimed, no lease, not dispatched', async () => {
      const task = await inserted();
      expect(await delivery(task.taskId)).toEqual({
        attempt: UNCLAIMED,
        lease_expires_at: null,
        dispatched_at: null,
        lease_left_ms: null,
      });
    });

    it('markDispatched sets dispatched_at only where it is still NULL', async () => {
      const [a, b, c] = [await inserted(), await inserted(), await inserted()];

      await tasks.markDispatched([a.taskId, b.taskId, newTaskId()], at(500));
      expect((await delivery(a.taskId)).dispatched_at).toEqual(at(500));
      expect((await delivery(b.taskId)).dispatched_at).toEqual(at(500));
      expect((await delivery(c.taskId)).dispatched_at).toBeNull();

      // A later record (a relay and the gateway both confirmed) keeps the first time.
      await tasks.markDispatched([a.taskId, c.taskId], at(900));
      expect((await delivery(a.taskId)).dispatched_at).toEqual(at(500));
      expect((await delivery(c.taskId)).dispatched_at).toEqual(at(900));

      await expect(tasks.markDispatched([], at(999))).resolves.toBeUndefined();
      expect(await row(a.taskId)).toMatchObject({ status: TaskStatus.Pending, started_at: null });
    });
  });

  describe('insertPendingBatch', () => {
    async function countOf(taskIds: string[]): Promise<number> {
      const [found] = (await dataSource.query(
        `SELECT COUNT(*) AS n FROM background_tasks WHERE task_id IN (${taskIds.map(() => '?').join(', ')})`,
        taskIds,
      )) as Array<{ n: string | number }>;
      return Number(found.n);
    }

    it('inserts every task in the order given, each pending and in the outbox, and returns them in order', async () => {
      const batch = [1, 10, 5].map((priority, index) => newTask({ priority, createdAt: at(index) }));
      const returned = await tasks.insertPendingBatch(batch);

      expect(returned.map((task) => [task.task_id, task.priority, task.status])).toEqual(
        batch.map((task) => [task.taskId, task.priority, TaskStatus.Pending]),
      );
      for (const [index, task] of batch.entries()) {
        expect(await row(task.taskId)).toEqual(returned[index]);
        expect(await delivery(task.taskId)).toMatchObject({ attempt: UNCLAIMED, dispatched_at: null });
      }
      const ids = (await dataSource.query(
        `SELECT task_id FROM background_tasks WHERE task_id IN (?, ?, ?) ORDER BY id`,
        batch.map((task) => task.taskId),
      )) as Array<{ task_id: string }>;
      expect(ids.map((found) => found.task_id)).toEqual(batch.map((task) => task.taskId));
    });

    it('inserts nothing when one row is refused (all or nothing)', async () => {
      const existing = await inserted();
      const batch = [newTask(), newTask(), { ...newTask(), taskId: existing.taskId }];
      await expect(tasks.insertPendingBatch(batch)).rejects.toThrow(/Duplicate entry/);
      expect(await countOf(batch.slice(0, 2).map((task) => task.taskId))).toBe(0);
    });

    it('splits a batch of huge params into several statements, still in one transaction', async () => {
      // 80 × ~60 KB of params is over MAX_INSERT_STATEMENT_BYTES: at least two INSERTs.
      const params = { ms: 1, padding: 'x'.repeat(60_000) };
      const batch = Array.from({ length: 80 }, () => newTask({ params }));
      const existing = await inserted();
      const refused = [...batch.slice(0, 79), { ...batch[79], taskId: existing.taskId }];
      await expect(tasks.insertPendingBatch(refused)).rejects.toThrow(/Duplicate entry/);
      expect(await countOf(batch.map((task) => task.taskId))).toBe(0);

      await tasks.insertPendingBatch(batch);
      expect(await countOf(batch.map((task) => task.taskId))).toBe(80);
      expect((await row(batch[79].taskId)).params).toEqual(params);
    });

    it('does nothing for no tasks', async () => {
      await expect(tasks.insertPendingBatch([])).resolves.toEqual([]);
    });
  });

  describe('recordOutcome / recordOutcomes (a worker finishing its own claims)', () => {
    async function claimed(overrides: Partial<NewTask> = {}): Promise<NewTask> {
      const task = await inserted(overrides);
      expect(await tasks.claim(task.taskId, 0, at(500), LEASE_MS)).toBe(FIRST_CLAIM);
      return task;
    }

    it('records many outcomes in one statement, each under its claim, and says which were recorded', async () => {
      const [a, b, c, d] = [await claimed(), await claimed(), await claimed(), await claimed()];
      await tasks.applyEvents([succeeded(c, { early: true })]); // c: already completed by an earlier write
      expect((await tasks.cancel(d.taskId, at(1_500)))?.from).toBe(TaskStatus.Running); // d: cancelled meanwhile

      const recorded = await tasks.recordOutcomes([
        succeeded(a, { n: 1 }, { occurred_at: at(2_000) }) as TaskSucceededEvent,
        failed(b, 'boom', { occurred_at: at(2_001) }) as TaskFailedEvent,
        succeeded(c, { late: true }) as TaskSucceededEvent,
        succeeded(d, { n: 4 }) as TaskSucceededEvent,
      ]);

      expect(recorded).toEqual([true, true, true, false]);
      expect(await row(a.taskId)).toMatchObject({
        status: TaskStatus.Completed,
        result: { n: 1 },
        error_message: null,
        completed_at: at(2_000).toISOString(),
      });
      expect(await row(b.taskId)).toMatchObject({
        status: TaskStatus.Failed,
        result: null,
        error_message: 'boom',
        completed_at: at(2_001).toISOString(),
      });
      // c was final already: nothing overwritten (it counts as recorded: the claim's own outcome is there).
      expect(await row(c.taskId)).toMatchObject({ status: TaskStatus.Completed, result: { early: true } });
      expect(await row(d.taskId)).toMatchObject({ status: TaskStatus.Cancelled, result: null });
      for (const task of [a, b]) {
        expect((await delivery(task.taskId)).lease_expires_at).toBeNull();
      }
    });

    it('records nothing for a claim of an older generation or another retry', async () => {
      const task = await claimed();
      const recorded = await tasks.recordOutcomes([
        succeeded(task, 1, { attempt: FIRST_CLAIM - 1 }) as TaskSucceededEvent,
        succeeded(task, 2, { retry_count: 1 }) as TaskSucceededEvent,
      ]);
      expect(recorded).toEqual([false, false]);
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Running, result: null });
    });
  });

  describe('claim / releaseClaim / cancel / failUnprocessable', () => {
    it('claims a retry once, returning its generation; a second claim of the same retry fails', async () => {
      const task = await inserted();

      expect(await tasks.claim(task.taskId, 0, at(1_234), LEASE_MS)).toBe(FIRST_CLAIM);
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Running,
        retry_count: 0,
        started_at: at(1_234).toISOString(),
        completed_at: null,
      });

      expect(await tasks.claim(task.taskId, 0, at(5_000), LEASE_MS)).toBeNull();
      expect((await row(task.taskId)).started_at).toBe(at(1_234).toISOString());
      expect((await delivery(task.taskId)).attempt).toBe(FIRST_CLAIM);
    });

    it('sets the lease on the database clock and dispatched_at when the command was never recorded', async () => {
      const task = await inserted();
      // started_at is the worker's clock (here long ago); the lease only follows the database's.
      expect(await tasks.claim(task.taskId, 0, at(1), 20_000)).toBe(FIRST_CLAIM);

      const [now] = (await dataSource.query('SELECT UTC_TIMESTAMP(3) AS now')) as Array<{ now: Date }>;
      const claimedRow = await delivery(task.taskId);
      expect(claimedRow.lease_left_ms).toBeGreaterThan(15_000);
      expect(claimedRow.lease_left_ms).toBeLessThanOrEqual(20_000);
      expect(claimedRow.dispatched_at).not.toBeNull();
      expect(Math.abs((claimedRow.dispatched_at as Date).getTime() - now.now.getTime())).toBeLessThan(5_000);

      // Already recorded as dispatched: the claim keeps that time.
      const recorded = await inserted();
      await tasks.markDispatched([recorded.taskId], at(42));
      await claimed(recorded);
      expect((await delivery(recorded.taskId)).dispatched_at).toEqual(at(42));
    });

    it('does not claim an unknown task, a retry beyond max_retries, or an older retry', async () => {
      expect(await tasks.claim(newTaskId(), 0, at(1), LEASE_MS)).toBeNull();

      const task = await inserted({ maxRetries: 1 });
      expect(await tasks.claim(task.taskId, 2, at(1), LEASE_MS)).toBeNull();
      expect((await row(task.taskId)).status).toBe(TaskStatus.Pending);
      expect(await delivery(task.taskId)).toMatchObject({ attempt: UNCLAIMED, lease_expires_at: null });

      expect(await tasks.claim(task.taskId, 1, at(2), LEASE_MS)).toBe(FIRST_CLAIM);
      expect(await tasks.claim(task.taskId, 0, at(3), LEASE_MS)).toBeNull();
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Running, retry_count: 1 });
    });

    it('does not claim a cancelled task', async () => {
      const task = await inserted();
      expect((await tasks.cancel(task.taskId, at(10)))?.from).toBe(TaskStatus.Pending);

      expect(await tasks.claim(task.taskId, 0, at(20), LEASE_MS)).toBeNull();
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Cancelled,
        started_at: null,
        completed_at: at(10).toISOString(),
      });
      // The cancel is a new generation of its own (ADR 0006); the task was never claimed.
      expect(await delivery(task.taskId)).toMatchObject({ attempt: UNCLAIMED + 1, lease_expires_at: null });
    });

    it('cancels a pending or a running task, once, and never a finished one', async () => {
      const pending = await inserted();
      expect((await tasks.cancel(pending.taskId, at(10)))?.from).toBe(TaskStatus.Pending);
      expect(await tasks.cancel(pending.taskId, at(20))).toBeNull();
      expect((await row(pending.taskId)).completed_at).toBe(at(10).toISOString());

      const running = await inserted();
      await claimed(running, 0, at(5));
      expect((await tasks.cancel(running.taskId, at(10)))?.from).toBe(TaskStatus.Running);
      expect(await tasks.cancel(running.taskId, at(20))).toBeNull();
      expect(await row(running.taskId)).toMatchObject({
        status: TaskStatus.Cancelled,
        completed_at: at(10).toISOString(),
      });

      const completed = await inserted();
      const attempt = await claimed(completed);
      await tasks.applyEvents([succeeded(completed, { ok: true }, { attempt })]);
      expect(await tasks.cancel(completed.taskId, at(10))).toBeNull();
      expect((await row(completed.taskId)).status).toBe(TaskStatus.Completed);

      expect(await tasks.cancel(newTaskId(), at(10))).toBeNull();
    });

    it('releaseClaim hands a running claim back: pending, a new generation, back in the outbox', async () => {
      const task = await inserted();
      const attempt = await claimed(task, 0, at(100));
      expect((await delivery(task.taskId)).dispatched_at).not.toBeNull();

      // Only the generation that holds the claim can release it.
      expect(await tasks.releaseClaim(task.taskId, attempt + 1)).toBe(false);
      expect(await tasks.releaseClaim(task.taskId, attempt - 1)).toBe(false);
      expect((await row(task.taskId)).status).toBe(TaskStatus.Running);

      expect(await tasks.releaseClaim(task.taskId, attempt)).toBe(true);
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Pending, retry_count: 0, started_at: null });
      expect(await delivery(task.taskId)).toEqual({
        attempt: attempt + 1,
        lease_expires_at: null,
        dispatched_at: null,
        lease_left_ms: null,
      });
      expect(await tasks.releaseClaim(task.taskId, attempt)).toBe(false);
      expect(await tasks.releaseClaim(task.taskId, attempt + 1)).toBe(false); // pending: nothing to release

      // Claimable again, as the next generation.
      expect(await tasks.claim(task.taskId, 0, at(200), LEASE_MS)).toBe(attempt + 2);
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Running, started_at: at(200).toISOString() });
    });

    it('releaseClaim does not touch a finished task', async () => {
      const task = await inserted();
      const attempt = await claimed(task);
      await tasks.applyEvents([succeeded(task, 1, { occurred_at: at(200), attempt })]);
      expect(await tasks.releaseClaim(task.taskId, attempt)).toBe(false);
      expect((await row(task.taskId)).status).toBe(TaskStatus.Completed);
      expect((await delivery(task.taskId)).attempt).toBe(attempt);
    });

    it('failUnprocessable ends a pending task only, never a running claim', async () => {
      const task = await inserted();
      expect(await tasks.failUnprocessable(task.taskId, 'poison', at(50))).toBe(true);
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Failed,
        error_message: 'poison',
        completed_at: at(50).toISOString(),
      });
      expect(await tasks.failUnprocessable(task.taskId, 'again', at(60))).toBe(false);
      expect((await row(task.taskId)).error_message).toBe('poison');

      // A malformed copy of a task a worker is running must not fail the good attempt.
      const running = await inserted();
      const attempt = await claimed(running);
      expect(await tasks.failUnprocessable(running.taskId, 'poison copy', at(70))).toBe(false);
      expect(await row(running.taskId)).toMatchObject({ status: TaskStatus.Running, error_message: null });
      expect(await delivery(running.taskId)).toMatchObject({ attempt, lease_expires_at: expect.any(Date) });

      expect(await tasks.failUnprocessable(newTaskId(), 'unknown', at(80))).toBe(false);
    });
  });

  describe('claimMany (deliveries claimed together)', () => {
    it('claims every claimable task of a group in one transaction, each at its retry, with one start time', async () => {
      const first = await inserted();
      const second = await inserted({ maxRetries: 3 });
      const before = Date.now();

      const won = await tasks.claimMany(
        [
          { taskId: first.taskId, retryCount: 0 },
          { taskId: second.taskId, retryCount: 2 },
        ],
        20_000,
      );

      expect(won).toEqual([
        { attempt: FIRST_CLAIM, startedAt: expect.any(Date) },
        { attempt: FIRST_CLAIM, startedAt: expect.any(Date) },
      ]);
      const startedAt = won[0]?.startedAt as Date;
      expect(won[1]?.startedAt).toEqual(startedAt);
      expect(startedAt.getTime()).toBeGreaterThanOrEqual(before - 1);
      expect(await row(first.taskId)).toMatchObject({
        status: TaskStatus.Running,
        retry_count: 0,
        started_at: startedAt.toISOString(),
      });
      expect(await row(second.taskId)).toMatchObject({ status: TaskStatus.Running, retry_count: 2 });
      for (const task of [first, second]) {
        const claimedRow = await delivery(task.taskId);
        expect(claimedRow.attempt).toBe(FIRST_CLAIM);
        expect(claimedRow.lease_left_ms).toBeGreaterThan(15_000);
        expect(claimedRow.lease_left_ms).toBeLessThanOrEqual(20_000);
        expect(claimedRow.dispatched_at).not.toBeNull();
      }
      // Claimed already: a second group gets nothing and changes nothing.
      expect(
        await tasks.claimMany(
          [
            { taskId: first.taskId, retryCount: 0 },
            { taskId: second.taskId, retryCount: 2 },
          ],
          LEASE_MS,
        ),
      ).toEqual([null, null]);
      expect((await delivery(first.taskId)).attempt).toBe(FIRST_CLAIM);
    });

    it('answers null, in place and changing nothing, for what is not claimable, and claims the rest', async () => {
      const cancelled = await inserted();
      await tasks.cancel(cancelled.taskId, at(10));
      const running = await inserted();
      const runningAttempt = await claimed(running);
      const limited = await inserted({ maxRetries: 1 });
      const retried = await inserted({ maxRetries: 2 });
      await claimed(retried, 1);
      const fine = await inserted();
      const twice = await inserted();

      const won = await tasks.claimMany(
        [
          { taskId: newTaskId(), retryCount: 0 }, // unknown
          { taskId: cancelled.taskId, retryCount: 0 },
          { taskId: running.taskId, retryCount: 0 }, // already claimed (a duplicate delivery)
          { taskId: limited.taskId, retryCount: 2 }, // beyond max_retries
          { taskId: retried.taskId, retryCount: 0 }, // an older retry
          { taskId: fine.taskId, retryCount: 0 },
          { taskId: twice.taskId, retryCount: 0 },
          { taskId: twice.taskId, retryCount: 0 }, // a second copy in the same group
        ],
        LEASE_MS,
      );

      expect(won.map((claim) => claim?.attempt ?? null)).toEqual([
        null,
        null,
        null,
        null,
        null,
        FIRST_CLAIM,
        FIRST_CLAIM,
        null,
      ]);
      expect((await row(cancelled.taskId)).status).toBe(TaskStatus.Cancelled);
      expect((await delivery(running.taskId)).attempt).toBe(runningAttempt);
      expect(await row(limited.taskId)).toMatchObject({ status: TaskStatus.Pending, retry_count: 0 });
      expect(await row(retried.taskId)).toMatchObject({ status: TaskStatus.Running, retry_count: 1 });
      expect(await row(fine.taskId)).toMatchObject({ status: TaskStatus.Running, retry_count: 0 });
      expect((await delivery(twice.taskId)).attempt).toBe(FIRST_CLAIM);
    });

    it('claims each task exactly once when two workers claim the same tasks concurrently, in any order', async () => {
      const other = new DataSource(dataSourceOptions({ url: db.url, poolSize: 2 }));
      await other.initialize();
      try {
        const otherTasks = new BackgroundTaskRepository(other);
        const group = await Promise.all(Array.from({ length: 60 }, () => inserted()));
        const requests = group.map((task) => ({ taskId: task.taskId, retryCount: 0 }));
        // Overlapping groups of different sizes and orders, as two workers given duplicates would.
        const calls = [
          requests.slice(0, 40),
          [...requests].reverse(),
          requests.slice(20),
          requests.filter((_, index) => index % 2 === 0),
        ];
        const results = await Promise.all(
          calls.map((call, index) => (index % 2 === 0 ? tasks : otherTasks).claimMany(call, LEASE_MS)),
        );

        const wins = new Map<string, number>();
        results.forEach((answers, call) =>
          answers.forEach((answer, index) => {
            if (answer !== null) {
              const taskId = calls[call][index].taskId;
              wins.set(taskId, (wins.get(taskId) ?? 0) + 1);
            }
          }),
        );
        expect(wins.size).toBe(group.length);
        expect([...wins.values()].every((count) => count === 1)).toBe(true);
        for (const task of group) {
          expect((await delivery(task.taskId)).attempt).toBe(FIRST_CLAIM);
        }
      } finally {
        await other.destroy();
      }
    });
  });

  describe('applyEvents', () => {
    it('completes a claimed task on succeeded; its started, already recorded by the claim, is stale', async () => {
      const task = await inserted();
      const attempt = await claimed(task, 0, at(1_001));
      const result = await tasks.applyEvents([
        started(task, { occurred_at: at(1_001), attempt }),
        succeeded(task, { sent: 3, ids: ['a', 'b'] }, { occurred_at: at(2_002), attempt }),
      ]);

      expect(result).toEqual({ applied: 1, stale: 1 });
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
        timeout_ms: 30_000,
        run: 1,
        created_at: at(0).toISOString(),
        started_at: at(1_001).toISOString(),
        completed_at: at(2_002).toISOString(),
      });
      expect(await delivery(task.taskId)).toMatchObject({ attempt, lease_expires_at: null });
    });

    it('applies events of the row’s generation given in separate calls', async () => {
      const task = await inserted();
      expect(await tasks.applyEvents([started(task, { occurred_at: at(1), attempt: UNCLAIMED })])).toEqual({
        applied: 1,
        stale: 0,
      });
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Running, started_at: at(1).toISOString() });
      expect(await tasks.applyEvents([succeeded(task, 'done', { occurred_at: at(2), attempt: UNCLAIMED })])).toEqual({
        applied: 1,
        stale: 0,
      });
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Completed, result: 'done' });
    });

    it('stores a null result as null', async () => {
      const task = await inserted();
      const attempt = await claimed(task);
      await tasks.applyEvents([succeeded(task, null, { attempt })]);
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Completed, result: null });
    });

    it('counts a duplicate event as stale and changes nothing', async () => {
      const task = await inserted();
      const attempt = await claimed(task);
      await tasks.applyEvents([succeeded(task, { n: 1 }, { occurred_at: at(2), attempt })]);
      const before = await row(task.taskId);

      expect(await tasks.applyEvents([succeeded(task, { n: 2 }, { occurred_at: at(3), attempt })])).toEqual({
        applied: 0,
        stale: 1,
      });
      expect(await tasks.applyEvents([started(task, { occurred_at: at(4), attempt })])).toEqual({
        applied: 0,
        stale: 1,
      });
      expect(await row(task.taskId)).toEqual(before);

      const running = await inserted();
      expect(
        await tasks.applyEvents([
          started(running, { occurred_at: at(1), attempt: UNCLAIMED }),
          started(running, { occurred_at: at(9), attempt: UNCLAIMED }),
        ]),
      ).toEqual({ applied: 1, stale: 1 });
      expect((await row(running.taskId)).started_at).toBe(at(1).toISOString());
    });

    it('does not move a task back on a late started after succeeded', async () => {
      const task = await inserted();
      const attempt = await claimed(task, 0, at(1));
      expect(await tasks.applyEvents([succeeded(task, 42, { occurred_at: at(2), attempt })])).toEqual({
        applied: 1,
        stale: 0,
      });

      expect(await tasks.applyEvents([started(task, { occurred_at: at(3), attempt })])).toEqual({
        applied: 0,
        stale: 1,
      });
      // A finished task stays finished even for events of a later retry.
      expect(
        await tasks.applyEvents([
          retrying(task, 'late', { retry_count: 0, attempt }),
          started(task, { retry_count: 1, occurred_at: at(4), attempt }),
          started(task, { retry_count: 1, occurred_at: at(4), attempt: attempt + 1 }),
        ]),
      ).toEqual({ applied: 0, stale: 3 });
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
      // As in production: the worker claims the retry (running, started_at) before publishing events.
      const inOrder = await inserted();
      const reversed = await inserted();
      const attempts = [await claimed(inOrder, 0, at(500)), await claimed(reversed, 0, at(500))];
      expect(attempts).toEqual([FIRST_CLAIM, FIRST_CLAIM]);
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
        started(task, { occurred_at: at(500), attempt: UNCLAIMED }),
        succeeded(task, { rows: 12 }, { occurred_at: at(900), attempt: UNCLAIMED }),
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

    it('retrying moves the task to pending as the next retry, with the error, and clears the lease', async () => {
      const task = await inserted({ maxRetries: 3 });
      const attempt = await claimed(task, 0, at(10));

      expect(
        await tasks.applyEvents([retrying(task, 'SMTP timeout', { retry_count: 0, occurred_at: at(20), attempt })]),
      ).toEqual({ applied: 1, stale: 0 });
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Pending,
        retry_count: 1,
        error_message: 'SMTP timeout',
        completed_at: null,
      });
      // The retry's message waits in a delay queue: the task is not back in the outbox.
      expect(await delivery(task.taskId)).toMatchObject({
        attempt,
        lease_expires_at: null,
        dispatched_at: expect.any(Date),
      });

      // The next retry can be claimed, as a new generation, and then succeed (clearing the error).
      const next = await claimed(task, 1, at(30));
      expect(next).toBe(attempt + 1);
      expect(
        await tasks.applyEvents([
          started(task, { retry_count: 1, occurred_at: at(30), attempt: next }),
          succeeded(task, 'ok', { retry_count: 1, occurred_at: at(40), attempt: next }),
        ]),
      ).toEqual({ applied: 1, stale: 1 });
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Completed,
        retry_count: 1,
        result: 'ok',
        error_message: null,
        started_at: at(30).toISOString(),
        completed_at: at(40).toISOString(),
      });
    });

    it('ignores a stale retrying of an older retry, and older-retry events in general', async () => {
      const task = await inserted({ maxRetries: 5 });
      const first = await claimed(task, 0);
      await tasks.applyEvents([retrying(task, 'first', { retry_count: 0, attempt: first })]);
      const second = await claimed(task, 1);
      await tasks.applyEvents([retrying(task, 'second', { retry_count: 1, attempt: second })]);
      const before = await row(task.taskId);
      expect(before).toMatchObject({ status: TaskStatus.Pending, retry_count: 2, error_message: 'second' });

      expect(
        await tasks.applyEvents([
          retrying(task, 'first again', { retry_count: 0, attempt: first }),
          started(task, { retry_count: 1, attempt: second }),
          succeeded(task, 'late', { retry_count: 0, attempt: first }),
          failed(task, 'late', { retry_count: 1, attempt: second }),
        ]),
      ).toEqual({ applied: 0, stale: 4 });
      expect(await row(task.taskId)).toEqual(before);
    });

    it('ignores (without error) a retrying beyond max_retries', async () => {
      const task = await inserted({ maxRetries: 1 });
      const first = await claimed(task, 0);
      await tasks.applyEvents([retrying(task, 'first', { retry_count: 0, attempt: first })]);
      const second = await claimed(task, 1);
      const before = await row(task.taskId);
      expect(before).toMatchObject({ status: TaskStatus.Running, retry_count: 1 });

      expect(await tasks.applyEvents([retrying(task, 'too many', { retry_count: 1, attempt: second })])).toEqual({
        applied: 0,
        stale: 1,
      });
      expect(await row(task.taskId)).toEqual(before);

      const none = await inserted({ maxRetries: 0 });
      const only = await claimed(none, 0);
      expect(await tasks.applyEvents([retrying(none, 'never', { retry_count: 0, attempt: only })])).toEqual({
        applied: 0,
        stale: 1,
      });
      expect(await row(none.taskId)).toMatchObject({ status: TaskStatus.Running, retry_count: 0, error_message: null });
    });

    it('ends a task as failed with the error and completed_at, and clears the lease', async () => {
      const task = await inserted();
      const attempt = await claimed(task, 0, at(100));
      expect(await tasks.applyEvents([failed(task, 'handler threw: boom', { occurred_at: at(250), attempt })])).toEqual(
        { applied: 1, stale: 0 },
      );
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Failed,
        error_message: 'handler threw: boom',
        result: null,
        started_at: at(100).toISOString(),
        completed_at: at(250).toISOString(),
      });
      expect((await delivery(task.taskId)).lease_expires_at).toBeNull();
      // Terminal: a later success of the same retry is stale.
      expect(await tasks.applyEvents([succeeded(task, 'nope', { occurred_at: at(300), attempt })])).toEqual({
        applied: 0,
        stale: 1,
      });
      expect((await row(task.taskId)).status).toBe(TaskStatus.Failed);
    });

    it('ignores events for a cancelled task, of any generation', async () => {
      const task = await inserted();
      await tasks.cancel(task.taskId, at(10));
      const before = await row(task.taskId);

      const events = (attempt: number) => [
        started(task, { attempt }),
        succeeded(task, 'x', { attempt }),
        failed(task, 'x', { attempt }),
        retrying(task, 'x', { attempt }),
        cancelled(task, { attempt }),
        started(task, { retry_count: 1, attempt }),
      ];
      expect(await tasks.applyEvents([...events(UNCLAIMED), ...events(FIRST_CLAIM)])).toEqual({
        applied: 0,
        stale: 12,
      });
      expect(await row(task.taskId)).toEqual(before);
    });

    it('applies a cancelled event to an active task, clearing the lease', async () => {
      const task = await inserted();
      const attempt = await claimed(task);
      expect(await tasks.applyEvents([cancelled(task, { occurred_at: at(77), attempt })])).toEqual({
        applied: 1,
        stale: 0,
      });
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Cancelled,
        completed_at: at(77).toISOString(),
      });
      expect((await delivery(task.taskId)).lease_expires_at).toBeNull();
    });

    it('counts events of unknown tasks as stale', async () => {
      expect(await tasks.applyEvents([started(newTask()), started(newTask(), { attempt: UNCLAIMED })])).toEqual({
        applied: 0,
        stale: 2,
      });
    });

    it('applies a batch in one transaction: a refused event rolls the whole batch back', async () => {
      const task = await inserted();
      const other = await inserted();
      const attempts = [await claimed(task), await claimed(other)];
      // error_message is TEXT (64 KiB): a longer one is refused in strict mode.
      const huge = 'x'.repeat(70_000);
      await expect(
        tasks.applyEvents([
          succeeded(task, 1, { attempt: attempts[0] }),
          failed(other, huge, { attempt: attempts[1] }),
        ]),
      ).rejects.toThrow(/Data too long/);
      expect((await row(task.taskId)).status).toBe(TaskStatus.Running);
      expect((await row(other.taskId)).status).toBe(TaskStatus.Running);
    });
  });

  describe('fencing (attempt)', () => {
    it('ignores an event of an older generation even if it would move the task forward', async () => {
      const task = await inserted();
      const lost = await claimed(task);
      expect(await tasks.releaseClaim(task.taskId, lost)).toBe(true);
      const current = await claimed(task, 0, at(300));
      expect(current).toBe(lost + 2);

      // Each of these would move a running retry 0 forward: only the generation decides.
      expect(
        await tasks.applyEvents([
          succeeded(task, 'from the lost claim', { attempt: lost }),
          failed(task, 'from the lost claim', { attempt: lost }),
          retrying(task, 'from the lost claim', { attempt: lost }),
          cancelled(task, { attempt: lost }),
          succeeded(task, 'from the released generation', { attempt: lost + 1 }),
          succeeded(task, 'from a generation that never was', { attempt: current + 1 }),
        ]),
      ).toEqual({ applied: 0, stale: 6 });
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Running,
        result: null,
        error_message: null,
        started_at: at(300).toISOString(),
      });

      expect(await tasks.applyEvents([succeeded(task, 'current', { occurred_at: at(400), attempt: current })])).toEqual(
        { applied: 1, stale: 0 },
      );
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Completed, result: 'current' });
    });

    it('ignores the events of a reclaimed claim, and of a claim from before a newer one', async () => {
      const task = await inserted();
      const dead = await claimed(task);
      await expireLease(task.taskId, 60);
      expect(await tasks.reclaimExpired(30_000, 100)).toContain(task.taskId);

      // The dead worker's outcome arrives late: the task is pending again, not failed.
      expect(await tasks.applyEvents([failed(task, 'late', { attempt: dead })])).toEqual({ applied: 0, stale: 1 });
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Pending, error_message: null });

      const successor = await claimed(task);
      expect(
        await tasks.applyEvents([started(task, { attempt: dead }), failed(task, 'late', { attempt: dead })]),
      ).toEqual({ applied: 0, stale: 2 });
      expect(await tasks.applyEvents([succeeded(task, 'successor', { attempt: successor })])).toEqual({
        applied: 1,
        stale: 0,
      });
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Completed, result: 'successor' });
    });
  });

  describe('heartbeat', () => {
    it('extends the leases of claims still held, on the database clock, and reports none lost', async () => {
      const a = await inserted();
      const b = await inserted();
      const claims: Claim[] = [];
      for (const task of [a, b]) {
        claims.push({ taskId: task.taskId, attempt: (await tasks.claim(task.taskId, 0, at(1), 1_000)) as number });
      }
      const before = await delivery(a.taskId);
      expect(before.lease_left_ms).toBeLessThanOrEqual(1_000);

      expect(await tasks.heartbeat(claims, 60_000)).toEqual([]);
      for (const task of [a, b]) {
        const after = await delivery(task.taskId);
        expect(after.lease_left_ms).toBeGreaterThan(55_000);
        expect(after.lease_left_ms).toBeLessThanOrEqual(60_000);
        expect((after.lease_expires_at as Date).getTime()).toBeGreaterThan((before.lease_expires_at as Date).getTime());
      }

      // Every renewal pushes the lease further.
      const first = (await delivery(a.taskId)).lease_expires_at as Date;
      await waitMs(20);
      expect(await tasks.heartbeat([claims[0]], 60_000)).toEqual([]);
      expect(((await delivery(a.taskId)).lease_expires_at as Date).getTime()).toBeGreaterThan(first.getTime());
      expect((await row(a.taskId)).status).toBe(TaskStatus.Running);
    });

    it('reports the claims no longer held (released, reclaimed, finished, another generation) and renews only the rest', async () => {
      const held = await inserted();
      const released = await inserted();
      const reclaimed = await inserted();
      const finished = await inserted();
      const claims: Claim[] = [];
      for (const task of [held, released, reclaimed, finished]) {
        claims.push({ taskId: task.taskId, attempt: await claimed(task) });
      }
      expect(await tasks.releaseClaim(released.taskId, claims[1].attempt)).toBe(true);
      await expireLease(reclaimed.taskId, 60);
      expect(await tasks.reclaimExpired(30_000, 100)).toContain(reclaimed.taskId);
      await tasks.applyEvents([succeeded(finished, 'done', { attempt: claims[3].attempt })]);
      // A claim whose generation the row no longer holds (released then claimed again by another worker).
      const stolen = await inserted();
      const oldGeneration = await claimed(stolen);
      await tasks.releaseClaim(stolen.taskId, oldGeneration);
      const newGeneration = await claimed(stolen);
      await expireLease(stolen.taskId, -5); // the new owner's lease: 5 s from now

      const lost = await tasks.heartbeat(
        [...claims, { taskId: stolen.taskId, attempt: oldGeneration }, { taskId: newTaskId(), attempt: 1 }],
        LEASE_MS,
      );
      expect(lost).toEqual([
        claims[1],
        claims[2],
        claims[3],
        { taskId: stolen.taskId, attempt: oldGeneration },
        { taskId: expect.any(String), attempt: 1 },
      ]);

      expect((await delivery(held.taskId)).lease_left_ms).toBeGreaterThan(LEASE_MS - 10_000);
      // A lost claim's heartbeat changes nothing.
      for (const task of [released, reclaimed, finished]) {
        expect((await delivery(task.taskId)).lease_expires_at).toBeNull();
      }
      expect(await row(released.taskId)).toMatchObject({ status: TaskStatus.Pending });
      expect(await row(reclaimed.taskId)).toMatchObject({ status: TaskStatus.Pending });
      expect(await delivery(stolen.taskId)).toMatchObject({
        attempt: newGeneration,
        lease_left_ms: expect.any(Number),
      });
      expect((await delivery(stolen.taskId)).lease_left_ms).toBeLessThanOrEqual(5_000);
    });

    it('does nothing for no claims', async () => {
      await expect(tasks.heartbeat([], LEASE_MS)).resolves.toEqual([]);
    });
  });

  describe('reclaimExpired', () => {
    beforeEach(async () => {
      await dataSource.query('DELETE FROM background_tasks');
    });

    it('hands back only running tasks whose lease expired more than the grace ago, keeping their retry', async () => {
      const longExpired = await inserted();
      const longExpiredRetry = await inserted({ maxRetries: 3 });
      const withinGrace = await inserted();
      const live = await inserted();
      const pending = await inserted();
      const finished = await inserted();

      const attempts = new Map<string, number>();
      attempts.set(longExpired.taskId, await claimed(longExpired, 0, at(10)));
      attempts.set(longExpiredRetry.taskId, await claimed(longExpiredRetry, 2, at(20)));
      await claimed(withinGrace);
      await claimed(live);
      const finishedAttempt = await claimed(finished);
      // Retry 2 after an earlier failure: the error of retry 1 stays until the task finishes.
      await dataSource.query("UPDATE background_tasks SET error_message = 'earlier error' WHERE task_id = ?", [
        longExpiredRetry.taskId,
      ]);
      await tasks.applyEvents([succeeded(finished, 'done', { attempt: finishedAttempt })]);

      await expireLease(longExpired.taskId, 60);
      await expireLease(longExpiredRetry.taskId, 11);
      await expireLease(withinGrace.taskId, 2); // expired, but less than the grace ago
      await expireLease(finished.taskId, 60); // a finished task is never reclaimed, whatever its lease says

      expect(await tasks.reclaimExpired(10_000, 100)).toEqual([longExpired.taskId, longExpiredRetry.taskId]);

      for (const task of [longExpired, longExpiredRetry]) {
        expect(await delivery(task.taskId)).toEqual({
          attempt: (attempts.get(task.taskId) as number) + 1,
          lease_expires_at: null,
          dispatched_at: null,
          lease_left_ms: null,
        });
      }
      // A crash does not use up a retry: the same retry runs again.
      expect(await row(longExpired.taskId)).toMatchObject({
        status: TaskStatus.Pending,
        retry_count: 0,
        started_at: null,
        completed_at: null,
      });
      expect(await row(longExpiredRetry.taskId)).toMatchObject({
        status: TaskStatus.Pending,
        retry_count: 2,
        error_message: 'earlier error',
        started_at: null,
        completed_at: null,
      });

      expect(await row(withinGrace.taskId)).toMatchObject({ status: TaskStatus.Running });
      expect((await delivery(withinGrace.taskId)).lease_left_ms).toBeLessThan(0);
      expect(await row(live.taskId)).toMatchObject({ status: TaskStatus.Running });
      expect(await row(pending.taskId)).toMatchObject({ status: TaskStatus.Pending });
      expect(await row(finished.taskId)).toMatchObject({ status: TaskStatus.Completed });

      // Nothing more to reclaim; with no grace, the one within the grace is taken too.
      expect(await tasks.reclaimExpired(10_000, 100)).toEqual([]);
      expect(await tasks.reclaimExpired(0, 100)).toEqual([withinGrace.taskId]);

      // The reclaimed retry can be claimed again, as a new generation, and the relay publishes it.
      expect(await tasks.claim(longExpiredRetry.taskId, 2, at(30), LEASE_MS)).toBe(
        (attempts.get(longExpiredRetry.taskId) as number) + 2,
      );
    });

    it('reclaims at most `limit` tasks per call, oldest first', async () => {
      const expired = [await inserted(), await inserted(), await inserted()];
      for (const task of expired) {
        await claimed(task);
        await expireLease(task.taskId, 60);
      }

      expect(await tasks.reclaimExpired(0, 2)).toEqual([expired[0].taskId, expired[1].taskId]);
      expect(await tasks.reclaimExpired(0, 2)).toEqual([expired[2].taskId]);
      expect(await tasks.reclaimExpired(0, 2)).toEqual([]);
    });
  });

  describe('relayOutbox', () => {
    const MIN_AGE_MS = 60_000;
    const old = () => new Date(Date.now() - 10 * 60_000);

    beforeEach(async () => {
      await dataSource.query('DELETE FROM background_tasks');
    });

    it('publishes only undispatched pending tasks older than minAge, then marks them dispatched', async () => {
      const first = await inserted({ createdAt: old(), priority: 3, params: { ms: 1 } });
      const second = await inserted({ createdAt: old(), taskType: TaskType.Report, maxRetries: 5 });
      const young = await inserted({ createdAt: new Date() });
      const dispatched = await inserted({ createdAt: old() });
      await tasks.markDispatched([dispatched.taskId], at(1));
      const cancelledTask = await inserted({ createdAt: old() });
      await tasks.cancel(cancelledTask.taskId, at(2));
      const running = await inserted({ createdAt: old() });
      await claimed(running);
      // Released by a worker that shut down: back in the outbox, same retry.
      const released = await inserted({ createdAt: old(), maxRetries: 3 });
      await tasks.releaseClaim(released.taskId, await claimed(released, 2));

      const published: TaskCommand[][] = [];
      const relayed = await tasks.relayOutbox(MIN_AGE_MS, 100, async (commands) => {
        published.push(commands);
      });

      expect(relayed).toBe(3);
      expect(published).toEqual([[commandOf(first), commandOf(second), commandOf(released, 2)]]);
      const [now] = (await dataSource.query('SELECT UTC_TIMESTAMP(3) AS now')) as Array<{ now: Date }>;
      for (const task of [first, second, released]) {
        const dispatchedAt = (await delivery(task.taskId)).dispatched_at;
        expect(dispatchedAt).not.toBeNull();
        expect(Math.abs((dispatchedAt as Date).getTime() - now.now.getTime())).toBeLessThan(5_000);
        expect((await row(task.taskId)).status).toBe(TaskStatus.Pending);
      }
      expect((await delivery(young.taskId)).dispatched_at).toBeNull();
      expect((await delivery(dispatched.taskId)).dispatched_at).toEqual(at(1));
      expect((await delivery(cancelledTask.taskId)).dispatched_at).toBeNull();

      // Nothing left: publish is not even called.
      const publish = jest.fn(async () => undefined);
      expect(await tasks.relayOutbox(MIN_AGE_MS, 100, publish)).toBe(0);
      expect(publish).not.toHaveBeenCalled();

      // Once old enough, the young one goes too.
      expect(await tasks.relayOutbox(0, 100, publish)).toBe(1);
      expect(publish).toHaveBeenCalledWith([commandOf(young)]);
    });

    it('relays at most `limit` tasks per call, oldest first', async () => {
      const tasksInOrder = [
        await inserted({ createdAt: old() }),
        await inserted({ createdAt: old() }),
        await inserted({ createdAt: old() }),
      ];
      const batches: string[][] = [];
      const publish = async (commands: TaskCommand[]) => {
        batches.push(commands.map((command) => command.task_id));
      };

      expect(await tasks.relayOutbox(0, 2, publish)).toBe(2);
      expect(await tasks.relayOutbox(0, 2, publish)).toBe(1);
      expect(await tasks.relayOutbox(0, 2, publish)).toBe(0);
      expect(batches).toEqual([[tasksInOrder[0].taskId, tasksInOrder[1].taskId], [tasksInOrder[2].taskId]]);
    });

    it('leaves the tasks undispatched when publish throws (the transaction rolls back)', async () => {
      const a = await inserted({ createdAt: old() });
      const b = await inserted({ createdAt: old() });

      await expect(
        tasks.relayOutbox(0, 100, async () => {
          throw new Error('broker went away');
        }),
      ).rejects.toThrow('broker went away');
      for (const task of [a, b]) {
        expect((await delivery(task.taskId)).dispatched_at).toBeNull();
      }

      // The next run publishes them.
      const publish = jest.fn(async () => undefined);
      expect(await tasks.relayOutbox(0, 100, publish)).toBe(2);
      expect(publish).toHaveBeenCalledWith([commandOf(a), commandOf(b)]);
    });

    describe('with two relays (two connection pools)', () => {
      let otherDataSource: DataSource;
      let otherTasks: BackgroundTaskRepository;

      beforeAll(async () => {
        otherDataSource = new DataSource(dataSourceOptions({ url: db.url, poolSize: 2 }));
        await otherDataSource.initialize();
        otherTasks = new BackgroundTaskRepository(otherDataSource);
      });

      afterAll(async () => {
        if (otherDataSource?.isInitialized) {
          await otherDataSource.destroy();
        }
      });

      it('skips the rows another relay has locked instead of waiting for them or publishing them again', async () => {
        const all: NewTask[] = [];
        for (let i = 0; i < 6; i += 1) {
          all.push(await inserted({ createdAt: old() }));
        }
        const locked = deferred();
        const release = deferred();
        let firstBatch: string[] = [];
        const first = tasks.relayOutbox(0, 4, async (commands) => {
          firstBatch = commands.map((command) => command.task_id);
          locked.resolve();
          await release.promise; // hold the transaction (and the row locks) open
        });
        let secondBatch: string[] = [];
        let secondRelayed: number[] = [];
        try {
          await locked.promise;
          secondRelayed = [
            await otherTasks.relayOutbox(0, 100, async (commands) => {
              secondBatch = commands.map((command) => command.task_id);
            }),
            // While the first relay still holds its rows, the second finds nothing more.
            await otherTasks.relayOutbox(0, 100, async () => undefined),
          ];
          // Rows the first relay only passed over are not locked: a fresh enqueue is not held up.
          await inserted({ createdAt: new Date() });
        } finally {
          release.resolve();
        }
        expect(secondRelayed).toEqual([2, 0]);
        expect(await first).toBe(4);

        expect(firstBatch).toEqual(all.slice(0, 4).map((task) => task.taskId));
        expect(secondBatch).toEqual(all.slice(4).map((task) => task.taskId));
        for (const task of all) {
          expect((await delivery(task.taskId)).dispatched_at).not.toBeNull();
        }
      });

      it('never publishes the same task twice when both relay concurrently', async () => {
        const all: string[] = [];
        for (let i = 0; i < 40; i += 1) {
          all.push((await inserted({ createdAt: old() })).taskId);
        }
        const published: string[] = [];
        const undispatched = async () => {
          const [{ n }] = (await dataSource.query(
            'SELECT COUNT(*) AS n FROM background_tasks WHERE dispatched_at IS NULL',
          )) as Array<{ n: number }>;
          return Number(n);
        };
        /** Relays in small batches until the outbox is empty (a batch may find every row locked by the other). */
        const relayUntilEmpty = async (repository: BackgroundTaskRepository) => {
          let total = 0;
          while ((await undispatched()) > 0) {
            total += await repository.relayOutbox(0, 3, async (commands) => {
              published.push(...commands.map((command) => command.task_id));
              await waitMs(5); // keep the locks a moment, so the relays overlap
            });
          }
          return total;
        };

        const [byFirst, bySecond] = await Promise.all([relayUntilEmpty(tasks), relayUntilEmpty(otherTasks)]);

        expect(byFirst + bySecond).toBe(all.length);
        expect(published).toHaveLength(all.length);
        expect([...published].sort()).toEqual([...all].sort());
        expect(await undispatched()).toBe(0);
      });
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
      const attempts = [await claimed(created[0]), await claimed(created[1]), await claimed(created[2])];
      await tasks.applyEvents([
        succeeded(created[0], null, { attempt: attempts[0] }),
        failed(created[2], 'e', { attempt: attempts[2] }),
      ]);
      await tasks.cancel(created[5].taskId, at(99));
    });

    const ids = (items: TaskResource[]) => items.map((item) => item.task_id);
    const newestFirst = (...indexes: number[]) => indexes.map((index) => created[index].taskId);

    it('lists newest first with the total', async () => {
      const page = await tasks.list({}, { limit: 50, offset: 0 });
      expect(page.total).toBe(6);
      expect(page.limit).toBe(50);
      expect(page.offset).toBe(0);
      expect(page.next_cursor).toBeNull();
      expect(ids(page.items)).toEqual(newestFirst(5, 4, 3, 2, 1, 0));
      expect(page.items[5]).toMatchObject({ status: TaskStatus.Completed, task_name: TaskName.EmailSend });
    });

    it('honours limit and offset, with the total of all matches', async () => {
      const first = await tasks.list({}, { limit: 2, offset: 0 });
      const second = await tasks.list({}, { limit: 2, offset: 2 });
      const last = await tasks.list({}, { limit: 2, offset: 4 });
      const beyond = await tasks.list({}, { limit: 2, offset: 10 });
      expect(ids(first.items)).toEqual(newestFirst(5, 4));
      expect(ids(second.items)).toEqual(newestFirst(3, 2));
      expect(ids(last.items)).toEqual(newestFirst(1, 0));
      expect(beyond.items).toEqual([]);
      for (const page of [first, second, last, beyond]) {
        expect(page.total).toBe(6);
      }
      expect(second).toMatchObject({ limit: 2, offset: 2 });
      // An offset page also tells where the next page starts; the last one says there is none.
      expect(ids((await tasks.list({}, { limit: 2, offset: 0, cursor: second.next_cursor ?? '' })).items)).toEqual(
        newestFirst(1, 0),
      );
      expect(last.next_cursor).toBeNull();
      expect(beyond.next_cursor).toBeNull();
    });

    it('filters by status, by task type, and by both', async () => {
      const pending = await tasks.list({ status: TaskStatus.Pending }, { limit: 50, offset: 0 });
      expect(ids(pending.items)).toEqual(newestFirst(4, 3));
      expect(pending.total).toBe(2);

      const email = await tasks.list({ taskType: TaskType.Email }, { limit: 50, offset: 0 });
      expect(ids(email.items)).toEqual(newestFirst(4, 2, 0));
      expect(email.total).toBe(3);

      const emailPending = await tasks.list(
        { status: TaskStatus.Pending, taskType: TaskType.Email },
        { limit: 1, offset: 0 },
      );
      expect(ids(emailPending.items)).toEqual(newestFirst(4));
      expect(emailPending.total).toBe(1);
      expect(emailPending.next_cursor).toBeNull();

      const none = await tasks.list(
        { status: TaskStatus.Running, taskType: TaskType.Analytics },
        { limit: 50, offset: 0 },
      );
      expect(none).toEqual({ items: [], total: 0, limit: 50, offset: 0, next_cursor: null });
    });

    it('refuses a malformed cursor and a cursor with a non-zero offset', async () => {
      await expect(tasks.list({}, { limit: 2, offset: 0, cursor: 'not a cursor' })).rejects.toThrow(/cursor/);
      await expect(
        tasks.list({}, { limit: 2, offset: 1, cursor: encodeTaskCursor({ createdAtMs: T0, id: '5' }) }),
      ).rejects.toThrow(/offset/);
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

  describe('list with a cursor (keyset pagination) and the total of offset pages', () => {
    const TYPES = [TaskType.Email, TaskType.Report, TaskType.Cleanup, TaskType.Email, TaskType.Report];
    const STATUSES = [TaskStatus.Completed, TaskStatus.Pending, TaskStatus.Completed, TaskStatus.Failed];
    const ids = (items: TaskResource[]) => items.map((item) => item.task_id);
    /** Tasks of the fixture, oldest first, with the type and status each was given. */
    let fixture: Array<{ taskId: string; taskType: TaskType; status: TaskStatus }>;

    beforeAll(async () => {
      await dataSource.query('DELETE FROM background_tasks');
      fixture = [];
      for (let i = 0; i < 41; i += 1) {
        const task = await inserted({ taskType: TYPES[i % TYPES.length], createdAt: at(i) });
        fixture.push({ taskId: task.taskId, taskType: task.taskType, status: STATUSES[i % STATUSES.length] });
      }
      for (const status of new Set(STATUSES)) {
        const taskIds = fixture.filter((task) => task.status === status).map((task) => task.taskId);
        await dataSource.query(`UPDATE background_tasks SET status = ? WHERE task_id IN (?)`, [status, taskIds]);
      }
    });

    afterAll(async () => {
      await dataSource.query('DELETE FROM background_tasks');
    });

    /** The fixture's tasks matching `filter`, newest first. */
    const expected = (filter: TaskFilter): string[] =>
      fixture
        .filter(
          (task) =>
            (filter.status === undefined || task.status === filter.status) &&
            (filter.taskType === undefined || task.taskType === filter.taskType),
        )
        .map((task) => task.taskId)
        .reverse();

    /** Follows next_cursor from the first page to the last; returns the task ids seen and the pages. */
    async function walk(filter: TaskFilter, limit: number): Promise<{ seen: string[]; pages: TaskPage[] }> {
      const pages = [await tasks.list(filter, { limit, offset: 0 })];
      while (pages[pages.length - 1].next_cursor !== null && pages.length <= 100) {
        pages.push(await tasks.list(filter, { limit, offset: 0, cursor: pages[pages.length - 1].next_cursor ?? '' }));
      }
      return { seen: pages.flatMap((page) => page.items.map((item) => item.task_id)), pages };
    }

    const filters: TaskFilter[] = [
      {},
      { status: TaskStatus.Completed },
      { status: TaskStatus.Failed },
      { taskType: TaskType.Email },
      { taskType: TaskType.Report, status: TaskStatus.Completed },
      { taskType: TaskType.Analytics },
    ];

    it.each(filters.flatMap((filter) => [1, 3, 5, 50].map((limit) => ({ filter, limit }))))(
      'chains the pages of $filter by $limit, every matching task exactly once, newest first',
      async ({ filter, limit }) => {
        const want = expected(filter);
        const { seen, pages } = await walk(filter, limit);
        expect(seen).toEqual(want);
        // Full pages but the last, and no empty page after a full last one (n a multiple of limit).
        expect(pages).toHaveLength(Math.max(1, Math.ceil(want.length / limit)));
        for (const [index, page] of pages.entries()) {
          // The first page (no cursor) counts exactly; cursor pages do not count.
          expect(page).toMatchObject({ total: index === 0 ? want.length : null, limit, offset: 0 });
          expect(page.items.every((item) => filter.status === undefined || item.status === filter.status)).toBe(true);
        }
        expect(pages[pages.length - 1].next_cursor).toBeNull();
      },
    );

    it('starts a page right after its cursor even when tasks were added or its last task deleted meanwhile', async () => {
      const filter = { taskType: TaskType.Email };
      const want = expected(filter);
      const first = await tasks.list(filter, { limit: 4, offset: 0 });
      expect(ids(first.items)).toEqual(want.slice(0, 4));

      // Two newer matching tasks arrive, and the task the cursor points at is purged.
      const newer = [
        await inserted({ taskType: TaskType.Email, createdAt: at(1_000) }),
        await inserted({ taskType: TaskType.Email, createdAt: at(1_001) }),
      ];
      await dataSource.query('DELETE FROM background_tasks WHERE task_id = ?', [want[3]]);

      const second = await tasks.list(filter, { limit: 4, offset: 0, cursor: first.next_cursor ?? '' });
      expect(ids(second.items)).toEqual(want.slice(4, 8));
      // The same page by offset shifts by the two arrivals less the purged task
      const byOffset = await tasks.list(filter, { limit: 4, offset: 4 });
      // (it repeats the task before the purged one, which the first page showed already).
      expect(ids(byOffset.items)).toEqual([want[2], ...want.slice(4, 7)]);
      expect(second.total).toBeNull();

      await dataSource.query('DELETE FROM background_tasks WHERE task_id IN (?)', [newer.map((task) => task.taskId)]);
      fixture = fixture.filter((task) => task.taskId !== want[3]);
    });

    it('reads each page off the index of its filter in (created_at, id) order (no filesort) and counts off the task counts', async () => {
      const statements: Array<{ sql: string; parameters: unknown[] }> = [];
      const logged = new DataSource({
        ...dataSourceOptions({ url: db.url, poolSize: 2 }),
        logging: ['query'],
        logger: {
          logQuery: (sql, parameters) => statements.push({ sql, parameters: (parameters ?? []) as unknown[] }),
          logQueryError: () => undefined,
          logQuerySlow: () => undefined,
          logSchemaBuild: () => undefined,
          logMigration: () => undefined,
          log: () => undefined,
        },
      });
      await logged.initialize();
      try {
        const repository = new BackgroundTaskRepository(logged);
        const [tenth] = (await dataSource.query(
          'SELECT id, created_at AS createdAt FROM background_tasks ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET 10',
        )) as [{ id: string; createdAt: Date }];
        const middle = encodeTaskCursor({ createdAtMs: tenth.createdAt.getTime(), id: String(tenth.id) });
        const cases: Array<[TaskFilter, string]> = [
          [{}, 'idx_background_tasks_created_at'],
          [{ status: TaskStatus.Completed }, 'idx_background_tasks_status_created_at'],
          [{ taskType: TaskType.Email }, 'idx_background_tasks_task_type_created_at'],
          [
            { taskType: TaskType.Email, status: TaskStatus.Completed },
            'idx_background_tasks_task_type_status_created_at',
          ],
        ];
        type Plan = Array<{
          select_type: string;
          table: string | null;
          type: string;
          key: string | null;
          Extra: string | null;
        }>;
        const explain = async (pick: (sql: string) => boolean): Promise<Plan> => {
          const statement = statements.find(({ sql }) => pick(sql));
          expect(statement).toBeDefined();
          return (await dataSource.query(`EXPLAIN ${statement?.sql ?? ''}`, statement?.parameters)) as Plan;
        };
        for (const [filter, index] of cases) {
          for (const page of [
            { limit: 5, offset: 0 },
            { limit: 5, offset: 3 },
            { limit: 5, offset: 0, cursor: middle },
          ]) {
            statements.length = 0;
            await repository.list(filter, page);
            const scan = (await explain((sql) => sql.includes('FORCE INDEX'))).find(
              (step) => step.select_type === 'DERIVED',
            );
            const where = { filter, page };
            expect({ where, key: scan?.key, type: scan?.type, extra: scan?.Extra }).toEqual({
              where,
              key: index,
              // On a table this small the optimizer picks `ref` or `range` on the forced index by
              // sampled statistics, run to run (at 200,000 rows a cursor page is a `range` reading
              // `limit` entries: checked by hand with Handler_read_prev; the bench times it at 1M).
              type: expect.stringMatching(/^(ref|index|range)$/),
              extra: expect.stringMatching(/Using index/),
            });
            expect(scan?.Extra).not.toMatch(/filesort/);
            const counting = ({ sql }: { sql: string }) => sql.includes('background_task_counts');
            if (page.cursor === undefined) {
              // The offset page's exact total: read off the counts and their journal, never a
              // scan of background_tasks.
              // (A lookup of the counts by their primary key is read while planning: no step.)
              const counted = await explain((sql) => counting({ sql }));
              const tables = counted.map((step) => step.table);
              expect(tables).toContain('background_task_count_changes');
              expect(tables).not.toContain('background_tasks');
            } else {
              // A cursor page never counts.
              expect(statements.some(counting)).toBe(false);
            }
          }
        }
      } finally {
        await logged.destroy();
      }
    });

    it('answers an empty last page for a cursor past the oldest task', async () => {
      const page = await tasks.list(
        {},
        { limit: 10, offset: 0, cursor: encodeTaskCursor({ createdAtMs: 0, id: '1' }) },
      );
      expect(page).toEqual({ items: [], total: null, limit: 10, offset: 0, next_cursor: null });
    });

    it('gives the exact total on offset pages (with a deep offset too) and none on cursor pages', async () => {
      const digits =
        'SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 ' +
        'UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9';
      await dataSource.query(
        `INSERT INTO background_tasks (task_id, task_name, task_type, priority, status, params, retry_count, max_retries, created_at)
         SELECT UUID(), ?, ?, 5, ?, '{}', 0, 3, UTC_TIMESTAMP(3)
           FROM (${digits}) a, (${digits}) b, (${digits}) c, (${digits}) d LIMIT 2500`,
        [TaskName.AnalyticsTaskStats, TaskType.Analytics, TaskStatus.Completed],
      );
      const analytics = { taskType: TaskType.Analytics };
      const matching = await tasks.count(analytics);
      expect(matching).toBe(2_500 + expected(analytics).length);
      const first = await tasks.list(analytics, { limit: 5, offset: 0 });
      expect(first.total).toBe(matching);
      const deep = await tasks.list(analytics, { limit: 5, offset: 2_000 });
      expect(deep.total).toBe(matching);
      expect(deep.items).toHaveLength(5);
      expect(deep.next_cursor).not.toBeNull();
      expect((await tasks.list({}, { limit: 5, offset: 0 })).total).toBe(await tasks.count({}));
      // The deep offset page and the cursor walk agree; cursor pages carry no total.
      const tail = await tasks.list(analytics, { limit: 1_000, offset: 0, cursor: deep.next_cursor ?? '' });
      expect(tail.total).toBeNull();
      expect(tail.items).toHaveLength(matching - 2_005);
      expect(tail.next_cursor).toBeNull();
    });
  });

  describe('list order: created_at, the field clients see, not the row id', () => {
    // Inserted in this order (ids grow), created at these offsets from T0: concurrent enqueues
    // commit out of their created_at order, and several share a millisecond.
    const OFFSETS = [5, 1, 9, 1, 7, 3, 9, 0, 2, 1];
    let rows: Array<{ taskId: string; createdAtMs: number; insertedAt: number; taskType: TaskType }>;

    beforeAll(async () => {
      await dataSource.query('DELETE FROM background_tasks');
      rows = [];
      for (const [insertedAt, offset] of OFFSETS.entries()) {
        const taskType = insertedAt % 2 === 0 ? TaskType.Email : TaskType.Report;
        const task = await inserted({ createdAt: at(offset), taskType });
        rows.push({ taskId: task.taskId, createdAtMs: T0 + offset, insertedAt, taskType });
      }
      // Half of them completed, so the status indexes are walked too.
      const completed = rows.filter((row) => row.insertedAt % 3 === 0).map((row) => row.taskId);
      await dataSource.query(`UPDATE background_tasks SET status = ? WHERE task_id IN (?)`, [
        TaskStatus.Completed,
        completed,
      ]);
    });

    afterAll(async () => {
      await dataSource.query('DELETE FROM background_tasks');
    });

    /** Newest created first; among equal created_at, the later insert first. */
    const want = (keep: (row: (typeof rows)[number]) => boolean) =>
      rows
        .filter(keep)
        .sort((a, b) => b.createdAtMs - a.createdAtMs || b.insertedAt - a.insertedAt)
        .map((row) => row.taskId);

    const filters: Array<[TaskFilter, (row: (typeof rows)[number]) => boolean]> = [
      [{}, () => true],
      [{ taskType: TaskType.Email }, (row) => row.taskType === TaskType.Email],
      [{ status: TaskStatus.Pending }, (row) => row.insertedAt % 3 !== 0],
      [
        { status: TaskStatus.Pending, taskType: TaskType.Report },
        (row) => row.insertedAt % 3 !== 0 && row.taskType === TaskType.Report,
      ],
    ];

    it.each(filters)(
      'lists %j newest created first, by offset pages and by cursor pages alike',
      async (filter, keep) => {
        const expected = want(keep);
        const all = await tasks.list(filter, { limit: 50, offset: 0 });
        expect(all.items.map((item) => item.task_id)).toEqual(expected);
        const createdAt = all.items.map((item) => Date.parse(item.created_at));
        expect(createdAt).toEqual([...createdAt].sort((a, b) => b - a));
        for (const limit of [1, 2, 3]) {
          const seen: string[] = [];
          let cursor: string | null = null;
          let offset = 0;
          const byOffset: string[] = [];
          do {
            const page: TaskPage = await tasks.list(filter, {
              limit,
              offset: 0,
              ...(cursor === null ? {} : { cursor }),
            });
            seen.push(...page.items.map((item) => item.task_id));
            cursor = page.next_cursor;
          } while (cursor !== null && seen.length <= rows.length);
          for (; offset < expected.length; offset += limit) {
            byOffset.push(...(await tasks.list(filter, { limit, offset })).items.map((item) => item.task_id));
          }
          // Every task once, in order, however the pages fall across tasks created in the same millisecond.
          expect({ limit, seen }).toEqual({ limit, seen: expected });
          expect({ limit, byOffset }).toEqual({ limit, byOffset: expected });
        }
      },
    );
  });

  describe('exact counts off the task counts (ADR 0009)', () => {
    const FILTERS: TaskFilter[] = [undefined, ...TASK_TYPES].flatMap((taskType) =>
      [undefined, ...TASK_STATUSES].map((status) => ({ taskType, status })),
    );

    /** What a scan of background_tasks says, for every filter. */
    async function scanned(): Promise<number[]> {
      return Promise.all(
        FILTERS.map(async ({ taskType, status }) => {
          const [row] = (await dataSource.query(
            `SELECT COUNT(*) AS n FROM background_tasks
              WHERE (? IS NULL OR task_type = ?) AND (? IS NULL OR status = ?)`,
            [taskType ?? null, taskType ?? null, status ?? null, status ?? null],
          )) as Array<{ n: string }>;
          return Number(row.n);
        }),
      );
    }

    async function counted(repository = tasks): Promise<number[]> {
      return Promise.all(FILTERS.map((filter) => repository.count(filter)));
    }

    async function foldAll(repository = tasks): Promise<void> {
      while ((await repository.foldCountChanges(1_000)) === 1_000) {
        // until the journal is empty
      }
    }

    it('counts every filter exactly through every kind of write, before, during and after folding', async () => {
      await foldAll();
      expect(await tasks.pendingCountChanges()).toBe(0);
      expect(await counted()).toEqual(await scanned());

      const batch = TASK_TYPES.flatMap((taskType) => [newTask({ taskType }), newTask({ taskType })]);
      await tasks.insertPendingBatch(batch);
      const [a, b, c, d, e, f, g] = batch;
      const claims = await tasks.claimMany(
        [a, b, c, d, e].map((task) => ({ taskId: task.taskId, retryCount: 0 })),
        LEASE_MS,
      );
      const attempt = (index: number) => claims[index]?.attempt ?? -1;
      await tasks.applyEvents([
        succeeded(a, { ok: true }, { attempt: attempt(0) }),
        failed(b, 'boom', { attempt: attempt(1) }),
        retrying(c, 'again', { attempt: attempt(2), retry_count: 0 }),
      ]);
      await tasks.cancel(d.taskId, at(10));
      await tasks.cancel(f.taskId, at(10));
      await tasks.requeueFinished(b.taskId, at(20));
      await tasks.releaseClaim(e.taskId, attempt(4));
      await dataSource.query('DELETE FROM background_tasks WHERE task_id = ?', [g.taskId]);
      await dataSource.query('UPDATE background_tasks SET task_type = ? WHERE task_id = ?', [
        TaskType.Analytics,
        a.taskId,
      ]);

      expect(await tasks.pendingCountChanges()).toBeGreaterThan(batch.length);
      const truth = await scanned();
      expect(await counted()).toEqual(truth);
      // Folded a few changes at a time: exact after every fold.
      while ((await tasks.foldCountChanges(3)) > 0) {
        expect(await counted()).toEqual(truth);
      }
      expect(await tasks.pendingCountChanges()).toBe(0);
      expect(await counted()).toEqual(truth);
    });

    it('waits for a writer’s uncommitted change, then folds it with the rest, once', async () => {
      await foldAll();
      // The writer on a pool of its own: this file's pool (2) serves the fold and the counts.
      const writerPool = new DataSource(dataSourceOptions({ url: db.url, poolSize: 1 }));
      await writerPool.initialize();
      const writer = writerPool.createQueryRunner();
      await writer.startTransaction();
      try {
        await inserted({ taskType: TaskType.Cleanup });
        const held = newTask({ taskType: TaskType.Cleanup });
        await writer.query(
          `INSERT INTO background_tasks (task_id, task_name, task_type, status, created_at)
           VALUES (?, ?, ?, ?, UTC_TIMESTAMP(3))`,
          [held.taskId, held.taskName, held.taskType, TaskStatus.Pending],
        );
        await inserted({ taskType: TaskType.Cleanup });
        const before = await tasks.count({ taskType: TaskType.Cleanup, status: TaskStatus.Pending });

        let folded: number | null = null;
        const folding = tasks.foldCountChanges(1_000).then((n) => (folded = n));
        await new Promise((done) => setTimeout(done, 300));
        // Blocked behind the uncommitted row; counts meanwhile stay exact and never wait.
        expect(folded).toBeNull();
        expect(await tasks.count({ taskType: TaskType.Cleanup, status: TaskStatus.Pending })).toBe(before);

        await writer.commitTransaction();
        await folding;
        expect(folded).toBe(3);
        expect(await tasks.count({ taskType: TaskType.Cleanup, status: TaskStatus.Pending })).toBe(before + 1);
        expect(await tasks.pendingCountChanges()).toBe(0);
        expect(await counted()).toEqual(await scanned());
      } finally {
        if (writer.isTransactionActive) {
          await writer.rollbackTransaction();
        }
        await writer.release();
        await writerPool.destroy();
      }
    });

    it('stays exact while two trackers fold, a recount runs and tasks are written, all at once', async () => {
      const other = new DataSource(dataSourceOptions({ url: db.url, poolSize: 3 }));
      await other.initialize();
      try {
        const otherTasks = new BackgroundTaskRepository(other);
        let writing = true;
        const folder = async (repository: BackgroundTaskRepository): Promise<number> => {
          let folded = 0;
          while (writing) {
            folded += await repository.foldCountChanges(7);
          }
          return folded;
        };
        const writer = async (repository: BackgroundTaskRepository, rounds: number): Promise<void> => {
          for (let round = 0; round < rounds; round += 1) {
            const group = TASK_TYPES.map((taskType) => newTask({ taskType }));
            await repository.insertPendingBatch(group);
            const won = await repository.claimMany(
              group.slice(0, 3).map((task) => ({ taskId: task.taskId, retryCount: 0 })),
              LEASE_MS,
            );
            await repository.applyEvents([
              succeeded(group[0], null, { attempt: won[0]?.attempt ?? -1 }),
              failed(group[1], 'x', { attempt: won[1]?.attempt ?? -1 }),
            ]);
            await repository.cancel(group[3].taskId, at(5));
          }
        };
        const folding = [folder(tasks), folder(otherTasks)];
        const writing1 = writer(tasks, 15);
        const writing2 = writer(otherTasks, 15);
        // A recount in the middle of it all: its snapshot must neither lose a change folded after
        // it nor count one twice.
        await new Promise((done) => setTimeout(done, 100));
        await recountTaskCounts(db.url);
        await Promise.all([writing1, writing2]);
        writing = false;
        const folded = await Promise.all(folding);
        // Folds ran while the writes went on (the test would prove nothing otherwise).
        expect(folded[0] + folded[1]).toBeGreaterThan(0);
        await foldAll(otherTasks);
        expect(await counted(otherTasks)).toEqual(await scanned());
      } finally {
        await other.destroy();
      }
    });
  });

  describe('task control (ADR 0006): cancel, requeueFinished, listRuns, timeout_ms', () => {
    /** The archived rows of a task, straight from background_task_runs. */
    async function archived(taskId: string): Promise<Array<Record<string, unknown>>> {
      return (await dataSource.query(
        `SELECT task_id, run, status, retry_count, result, error_message, started_at, completed_at, archived_at
           FROM background_task_runs WHERE task_id = ? ORDER BY id`,
        [taskId],
      )) as Array<Record<string, unknown>>;
    }

    async function runOf(taskId: string): Promise<number> {
      const [found] = (await dataSource.query('SELECT run FROM background_tasks WHERE task_id = ?', [
        taskId,
      ])) as Array<{
        run: number;
      }>;
      return Number(found.run);
    }

    /** A task that ran retry 0 and then retry 1 (max_retries 1), which failed with `error`. */
    async function failedTask(error: string, overrides: Partial<NewTask> = {}): Promise<NewTask> {
      const task = await inserted({ maxRetries: 1, ...overrides });
      const first = await claimed(task, 0, at(100));
      await tasks.applyEvents([retrying(task, 'first try', { retry_count: 0, occurred_at: at(150), attempt: first })]);
      const second = await claimed(task, 1, at(200));
      await tasks.applyEvents([failed(task, error, { retry_count: 1, occurred_at: at(300), attempt: second })]);
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Failed, retry_count: 1, error_message: error });
      return task;
    }

    it('stores timeout_ms with the task; a row from before timeouts (NULL) reads as the catalogue default', async () => {
      const task = await inserted({ timeoutMs: 500 });
      expect((await row(task.taskId)).timeout_ms).toBe(500);
      const [stored] = (await dataSource.query('SELECT timeout_ms, run FROM background_tasks WHERE task_id = ?', [
        task.taskId,
      ])) as Array<{ timeout_ms: number; run: number }>;
      expect(stored).toEqual({ timeout_ms: 500, run: 1 });

      const older = await inserted({ taskName: TaskName.EmailSend, params: {} });
      await dataSource.query('UPDATE background_tasks SET timeout_ms = NULL WHERE task_id = ?', [older.taskId]);
      expect((await row(older.taskId)).timeout_ms).toBe(60_000);
    });

    describe('cancel', () => {
      it('cancels a pending task: cancelled at once, a new generation, no lease', async () => {
        const task = await inserted();
        await tasks.markDispatched([task.taskId], at(5));

        expect((await tasks.cancel(task.taskId, at(10)))?.from).toBe(TaskStatus.Pending);
        expect(await row(task.taskId)).toMatchObject({
          status: TaskStatus.Cancelled,
          retry_count: 0,
          started_at: null,
          completed_at: at(10).toISOString(),
          result: null,
          error_message: null,
          run: 1,
        });
        expect(await delivery(task.taskId)).toEqual({
          attempt: UNCLAIMED + 1,
          lease_expires_at: null,
          dispatched_at: at(5),
          lease_left_ms: null,
        });
        // Its queued message is dropped at the claim.
        expect(await tasks.claim(task.taskId, 0, at(20), LEASE_MS)).toBeNull();
      });

      it('cancels a running task: a new generation, the lease cleared, the worker’s claim and events are stale', async () => {
        const task = await inserted();
        const attempt = await claimed(task, 0, at(100));
        expect((await delivery(task.taskId)).lease_expires_at).not.toBeNull();

        expect((await tasks.cancel(task.taskId, at(400)))?.from).toBe(TaskStatus.Running);
        const cancelledRow = await row(task.taskId);
        expect(cancelledRow).toMatchObject({
          status: TaskStatus.Cancelled,
          retry_count: 0,
          started_at: at(100).toISOString(),
          completed_at: at(400).toISOString(),
          result: null,
        });
        expect(await delivery(task.taskId)).toMatchObject({ attempt: attempt + 1, lease_expires_at: null });

        // The worker that runs it: its heartbeat finds the claim gone, it can no longer release it...
        expect(await tasks.heartbeat([{ taskId: task.taskId, attempt }], LEASE_MS)).toEqual([
          { taskId: task.taskId, attempt },
        ]);
        expect(await tasks.releaseClaim(task.taskId, attempt)).toBe(false);
        // ...and a late `succeeded` (or any outcome) of its attempt changes nothing.
        expect(
          await tasks.applyEvents([
            succeeded(task, 'too late', { occurred_at: at(500), attempt }),
            failed(task, 'too late', { occurred_at: at(500), attempt }),
            retrying(task, 'too late', { occurred_at: at(500), attempt }),
          ]),
        ).toEqual({ applied: 0, stale: 3 });
        // Nor does one carrying the cancel's own generation: the task is terminal.
        expect(await tasks.applyEvents([succeeded(task, 'x', { attempt: attempt + 1 })])).toEqual({
          applied: 0,
          stale: 1,
        });
        expect(await row(task.taskId)).toEqual(cancelledRow);
        // The reconciler leaves it alone (no lease to expire).
        expect(await tasks.reclaimExpired(0, 1_000)).not.toContain(task.taskId);
        expect((await row(task.taskId)).status).toBe(TaskStatus.Cancelled);
      });

      it('cancels a running retry, keeping its retry_count and its last error', async () => {
        const task = await inserted({ maxRetries: 2 });
        const first = await claimed(task, 0);
        await tasks.applyEvents([retrying(task, 'flaky', { retry_count: 0, attempt: first })]);
        const second = await claimed(task, 1, at(200));

        expect((await tasks.cancel(task.taskId, at(250)))?.from).toBe(TaskStatus.Running);
        expect(await row(task.taskId)).toMatchObject({
          status: TaskStatus.Cancelled,
          retry_count: 1,
          error_message: 'flaky',
          completed_at: at(250).toISOString(),
        });
        expect((await delivery(task.taskId)).attempt).toBe(second + 1);
      });

      it('answers null for a completed, failed, cancelled or unknown task, and changes nothing', async () => {
        const completed = await inserted();
        const attempt = await claimed(completed);
        await tasks.applyEvents([succeeded(completed, { ok: 1 }, { occurred_at: at(300), attempt })]);
        const failedOne = await failedTask('gave up');
        const cancelledOne = await inserted();
        expect((await tasks.cancel(cancelledOne.taskId, at(50)))?.from).toBe(TaskStatus.Pending);

        for (const task of [completed, failedOne, cancelledOne]) {
          const before = await row(task.taskId);
          const generation = (await delivery(task.taskId)).attempt;
          expect(await tasks.cancel(task.taskId, at(9_000))).toBeNull();
          expect(await row(task.taskId)).toEqual(before);
          expect((await delivery(task.taskId)).attempt).toBe(generation);
        }
        expect(await tasks.cancel(newTaskId(), at(9_000))).toBeNull();
      });
    });

    describe('requeueFinished', () => {
      it('archives a failed run exactly as it ended and resets the task for a new run', async () => {
        const task = await failedTask('boom', { priority: 9, timeoutMs: 1_234 });
        // A result is copied as it is, whatever it holds (a failed run normally has none).
        await dataSource.query('UPDATE background_tasks SET result = ? WHERE task_id = ?', [
          JSON.stringify({ partial: [1, 'two'], unicode: 'héllo ✓' }),
          task.taskId,
        ]);
        await tasks.markDispatched([task.taskId], at(50));
        const ended = await row(task.taskId);
        const generation = (await delivery(task.taskId)).attempt;

        const command = await tasks.requeueFinished(task.taskId, at(1_000));

        expect(command).toEqual({
          task_id: task.taskId,
          task_name: task.taskName,
          task_type: task.taskType,
          params: task.params,
          priority: 9,
          max_retries: 1,
          retry_count: 1,
          timeout_ms: 1_234,
        });
        expect(ended).toMatchObject({
          result: { partial: [1, 'two'], unicode: 'héllo ✓' },
          error_message: 'boom',
          started_at: at(200).toISOString(),
          completed_at: at(300).toISOString(),
        });
        expect(await tasks.listRuns(task.taskId)).toEqual([
          {
            run: 1,
            status: TaskStatus.Failed,
            retry_count: 1,
            result: { partial: [1, 'two'], unicode: 'héllo ✓' },
            error_message: 'boom',
            started_at: at(200).toISOString(),
            completed_at: at(300).toISOString(),
            archived_at: at(1_000).toISOString(),
          },
        ]);
        expect(await archived(task.taskId)).toHaveLength(1);

        // The task itself: pending again, the next run, the same retry_count, nothing of the old run left.
        expect(await row(task.taskId)).toEqual({
          ...ended,
          status: TaskStatus.Pending,
          run: 2,
          retry_count: 1,
          result: null,
          error_message: null,
          started_at: null,
          completed_at: null,
        });
        // A new generation, back in the outbox.
        expect(await delivery(task.taskId)).toEqual({
          attempt: generation + 1,
          lease_expires_at: null,
          dispatched_at: null,
          lease_left_ms: null,
        });
      });

      it('makes the new run claimable at its retry_count, and the old run’s events stale', async () => {
        const task = await failedTask('boom');
        const old = (await delivery(task.taskId)).attempt;
        await tasks.requeueFinished(task.taskId, at(1_000));

        // A late event of the failed run changes nothing in the new one.
        expect(await tasks.applyEvents([failed(task, 'late', { retry_count: 1, attempt: old })])).toEqual({
          applied: 0,
          stale: 1,
        });
        expect((await row(task.taskId)).status).toBe(TaskStatus.Pending);

        const attempt = await claimed(task, 1, at(2_000));
        expect(attempt).toBe(old + 2);
        expect(
          await tasks.applyEvents([succeeded(task, 'second run', { retry_count: 1, occurred_at: at(2_500), attempt })]),
        ).toEqual({ applied: 1, stale: 0 });
        expect(await row(task.taskId)).toMatchObject({
          status: TaskStatus.Completed,
          run: 2,
          result: 'second run',
          started_at: at(2_000).toISOString(),
          completed_at: at(2_500).toISOString(),
        });
        // The first run is still there, as it ended.
        expect(await tasks.listRuns(task.taskId)).toEqual([
          expect.objectContaining({ run: 1, status: TaskStatus.Failed, error_message: 'boom' }),
        ]);
      });

      it('re-queues a task cancelled while running, archiving the cancelled run', async () => {
        const task = await inserted();
        await claimed(task, 0, at(100));
        await tasks.cancel(task.taskId, at(150));

        expect(await tasks.requeueFinished(task.taskId, at(200))).toEqual(commandOf(task, 0));
        expect(await tasks.listRuns(task.taskId)).toEqual([
          {
            run: 1,
            status: TaskStatus.Cancelled,
            retry_count: 0,
            result: null,
            error_message: null,
            started_at: at(100).toISOString(),
            completed_at: at(150).toISOString(),
            archived_at: at(200).toISOString(),
          },
        ]);
        expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Pending, run: 2, started_at: null });
      });

      it('answers null for a pending, running, completed or unknown task, and archives nothing', async () => {
        const pending = await inserted();
        const running = await inserted();
        await claimed(running);
        const completed = await inserted();
        await tasks.applyEvents([succeeded(completed, 'done', { attempt: await claimed(completed) })]);

        for (const task of [pending, running, completed]) {
          const before = await row(task.taskId);
          const deliveryBefore = await delivery(task.taskId);
          expect(await tasks.requeueFinished(task.taskId, at(1_000))).toBeNull();
          expect(await row(task.taskId)).toEqual(before);
          expect((await delivery(task.taskId)).attempt).toBe(deliveryBefore.attempt);
          expect(await archived(task.taskId)).toEqual([]);
        }
        expect(await tasks.requeueFinished(newTaskId(), at(1_000))).toBeNull();
      });

      it('re-queued twice, archives runs 1 and 2 in order', async () => {
        const task = await failedTask('first run failed');
        expect(await tasks.requeueFinished(task.taskId, at(1_000))).not.toBeNull();
        // Once pending, a second retry has nothing to do.
        expect(await tasks.requeueFinished(task.taskId, at(1_001))).toBeNull();

        const attempt = await claimed(task, 1, at(2_000));
        await tasks.applyEvents([
          failed(task, 'second run failed', { retry_count: 1, occurred_at: at(2_100), attempt }),
        ]);
        expect(await tasks.requeueFinished(task.taskId, at(3_000))).toEqual(commandOf(task, 1));

        expect(await tasks.listRuns(task.taskId)).toEqual([
          {
            run: 1,
            status: TaskStatus.Failed,
            retry_count: 1,
            result: null,
            error_message: 'first run failed',
            started_at: at(200).toISOString(),
            completed_at: at(300).toISOString(),
            archived_at: at(1_000).toISOString(),
          },
          {
            run: 2,
            status: TaskStatus.Failed,
            retry_count: 1,
            result: null,
            error_message: 'second run failed',
            started_at: at(2_000).toISOString(),
            completed_at: at(2_100).toISOString(),
            archived_at: at(3_000).toISOString(),
          },
        ]);
        expect((await archived(task.taskId)).map((archivedRun) => archivedRun['run'])).toEqual([1, 2]);
        expect(await runOf(task.taskId)).toBe(3);
        expect((await row(task.taskId)).run).toBe(3);
      });

      it('puts the re-queued task back in the outbox: the relay publishes its command', async () => {
        const task = await failedTask('boom', { createdAt: new Date(Date.now() - 10 * 60_000) });
        await tasks.requeueFinished(task.taskId, at(1_000));

        const published: TaskCommand[] = [];
        await tasks.relayOutbox(0, 1_000, async (commands) => {
          published.push(...commands);
        });
        expect(published.filter((command) => command.task_id === task.taskId)).toEqual([commandOf(task, 1)]);
        expect((await delivery(task.taskId)).dispatched_at).not.toBeNull();
      });

      it("gives a task stored without timeout_ms the catalogue's default in its command", async () => {
        const task = await failedTask('boom', { taskName: TaskName.EmailSend, params: {} });
        await dataSource.query('UPDATE background_tasks SET timeout_ms = NULL WHERE task_id = ?', [task.taskId]);
        expect(await tasks.requeueFinished(task.taskId, at(1_000))).toMatchObject({ timeout_ms: 60_000 });
      });
    });

    describe('listRuns', () => {
      it('is empty for a task never re-queued and for an unknown task', async () => {
        const task = await failedTask('boom');
        expect(await tasks.listRuns(task.taskId)).toEqual([]);
        expect(await tasks.listRuns(newTaskId())).toEqual([]);
      });

      it('lists only the runs of the task asked for', async () => {
        const a = await failedTask('a');
        const b = await failedTask('b');
        await tasks.requeueFinished(a.taskId, at(1_000));
        await tasks.requeueFinished(b.taskId, at(1_000));
        expect((await tasks.listRuns(a.taskId)).map((run) => run.error_message)).toEqual(['a']);
        expect((await tasks.listRuns(b.taskId)).map((run) => run.error_message)).toEqual(['b']);
      });
    });
  });
});

function waitMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
