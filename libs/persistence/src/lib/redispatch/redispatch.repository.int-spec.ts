import { DataSource } from 'typeorm';
import { TaskCommand, TaskEventType, TaskName, TaskStatus, TaskType, newTaskId } from '@tasklane/contracts';
import { TestDatabase, createTestDatabase } from '@tasklane/testing';
import { NewTask } from '../background-task/task-outbox.repository';
import { TaskRepositories, createTaskRepositories } from '../background-task/task-repositories';
import { dataSourceOptions } from '../database/data-source.options';
import { migrateUp } from '../database/migrator';
import { RedispatchRepository, RedispatchWindow } from './redispatch.repository';

jest.setTimeout(30_000);

const LEASE_MS = 600_000;
const MINUTE = 60_000;

function newTask(overrides: Partial<NewTask> = {}): NewTask {
  return {
    taskId: newTaskId(),
    taskName: TaskName.DiagnosticSleep,
    taskType: TaskType.Report,
    priority: 4,
    params: { ms: 10 },
    maxRetries: 3,
    timeoutMs: 30_000,
    createdAt: new Date(),
    ...overrides,
  };
}

describe('RedispatchRepository (MariaDB)', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let tasks: TaskRepositories;
  let redispatch: RedispatchRepository;

  beforeAll(async () => {
    db = await createTestDatabase('redispatch');
    await migrateUp(db.url);
    dataSource = new DataSource(dataSourceOptions({ url: db.url, poolSize: 4 }));
    await dataSource.initialize();
    tasks = createTaskRepositories(dataSource);
    redispatch = new RedispatchRepository(dataSource);
  });

  afterAll(async () => {
    if (dataSource?.isInitialized) {
      await dataSource.destroy();
    }
    await db?.drop();
  });

  beforeEach(async () => {
    await dataSource.query('DELETE FROM background_tasks');
  });

  /** Inserts a pending task whose command the broker confirmed `agoMs` ago. */
  async function dispatched(agoMs: number, overrides: Partial<NewTask> = {}): Promise<NewTask> {
    const task = newTask(overrides);
    await tasks.outbox.insertPending(task);
    await dataSource.query(
      'UPDATE background_tasks SET dispatched_at = DATE_SUB(UTC_TIMESTAMP(3), INTERVAL ? MICROSECOND) WHERE task_id = ?',
      [agoMs * 1000, task.taskId],
    );
    return task;
  }

  async function pass(
    window: Partial<RedispatchWindow> = {},
  ): Promise<{ published: TaskCommand[]; redispatched: number; scanned: number; last: string | null }> {
    const published: TaskCommand[] = [];
    const result = await redispatch.redispatchIdle(
      { taskType: TaskType.Report, idleForMs: MINUTE, scan: 100, ...window },
      async (commands) => {
        published.push(...commands);
      },
    );
    return { published, ...result };
  }

  async function dispatchedAgoMs(taskId: string): Promise<number> {
    const [row] = (await dataSource.query(
      `SELECT TIMESTAMPDIFF(MICROSECOND, dispatched_at, UTC_TIMESTAMP(3)) DIV 1000 AS ago FROM background_tasks
        WHERE task_id = ?`,
      [taskId],
    )) as Array<{ ago: string | number }>;
    return Number(row.ago);
  }

  it('publishes the command of a task out and pending for longer than the bound again, once per bound', async () => {
    const task = await dispatched(2 * MINUTE, { priority: 9, params: { ms: 25 } });
    const first = await pass();
    expect(first.redispatched).toBe(1);
    expect(first.published).toEqual([
      {
        task_id: task.taskId,
        task_name: TaskName.DiagnosticSleep,
        task_type: TaskType.Report,
        params: { ms: 25 },
        priority: 9,
        max_retries: 3,
        retry_count: 0,
        timeout_ms: 30_000,
      },
    ]);
    // Out again just now: not published again before another bound has passed.
    expect(await dispatchedAgoMs(task.taskId)).toBeLessThan(5_000);
    expect((await pass()).redispatched).toBe(0);
    expect((await tasks.queries.findByTaskId(task.taskId))?.status).toBe(TaskStatus.Pending);
  });

  it('leaves alone the outbox, young dispatches, other task types and tasks no longer pending', async () => {
    const outbox = newTask();
    await tasks.outbox.insertPending(outbox);
    await dispatched(1_000);
    await dispatched(2 * MINUTE, { taskType: TaskType.Email });
    const claimed = await dispatched(2 * MINUTE);
    expect(await tasks.claims.claim(claimed.taskId, 0, new Date(), LEASE_MS)).not.toBeNull();
    const cancelled = await dispatched(2 * MINUTE);
    expect(await tasks.control.cancel(cancelled.taskId, new Date())).not.toBeNull();
    const result = await pass();
    expect(result.published).toEqual([]);
    // It reads only the pending tasks dispatched long enough ago, off its index: none of these.
    expect(result.scanned).toBe(0);
  });

  it('publishes a retry only once its delay is over (due_at), at its next retry_count', async () => {
    const task = await dispatched(10 * MINUTE);
    const attempt = await tasks.claims.claim(task.taskId, 0, new Date(), LEASE_MS);
    const retrying = (delayMs: number, occurredAt: Date) =>
      tasks.events.applyEvents([
        {
          event: TaskEventType.Retrying,
          task_id: task.taskId,
          task_name: task.taskName,
          task_type: task.taskType,
          retry_count: 0,
          attempt: attempt ?? 0,
          occurred_at: occurredAt.toISOString(),
          error_message: 'boom',
          delay_ms: delayMs,
        },
      ]);
    // The retry's message waits in a delay queue for another 10 minutes.
    await retrying(20 * MINUTE, new Date(Date.now() - 10 * MINUTE));
    expect((await pass()).published).toEqual([]);
    await dataSource.query(
      'UPDATE background_tasks SET due_at = DATE_SUB(UTC_TIMESTAMP(3), INTERVAL 2 MINUTE) WHERE task_id = ?',
      [task.taskId],
    );
    const due = await pass();
    expect(due.published.map((command) => [command.task_id, command.retry_count])).toEqual([[task.taskId, 1]]);
  });

  it('skips a task locked by a claim in progress, and a pass of another tracker publishes each task once', async () => {
    const locked = await dispatched(2 * MINUTE);
    const free = await Promise.all([1, 2, 3].map(() => dispatched(2 * MINUTE)));
    const runner = dataSource.createQueryRunner();
    await runner.startTransaction();
    try {
      await runner.query('SELECT id FROM background_tasks WHERE task_id = ? FOR UPDATE', [locked.taskId]);
      // Two trackers at once, each publishing slowly: every free task goes out exactly once.
      const slowPass = () =>
        redispatch.redispatchIdle({ taskType: TaskType.Report, idleForMs: MINUTE, scan: 100 }, async (commands) => {
          published.push(...commands.map((command) => command.task_id));
          await new Promise((resolve) => setTimeout(resolve, 200));
        });
      const published: string[] = [];
      await Promise.all([slowPass(), slowPass()]);
      expect(published.sort()).toEqual(free.map((task) => task.taskId).sort());
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
    // Unlocked, the skipped task goes out at the next pass.
    expect((await pass()).published.map((command) => command.task_id)).toEqual([locked.taskId]);
  });

  it('pages through the pending tasks of a type oldest first, `scan` at a time', async () => {
    const all = [];
    for (let i = 0; i < 5; i += 1) {
      all.push(await dispatched(2 * MINUTE));
    }
    const first = await pass({ scan: 2 });
    expect(first.published.map((command) => command.task_id)).toEqual(all.slice(0, 2).map((task) => task.taskId));
    const second = await pass({ scan: 2, after: first.last ?? undefined });
    expect(second.published.map((command) => command.task_id)).toEqual(all.slice(2, 4).map((task) => task.taskId));
    const last = await pass({ scan: 2, after: second.last ?? undefined });
    expect([last.scanned, last.redispatched]).toEqual([1, 1]);
    expect(await pass({ scan: 2, after: last.last ?? undefined })).toMatchObject({ scanned: 0, last: null });
  });

  it('nothing is written when the publish fails: the tasks stay as they were for the next pass', async () => {
    const task = await dispatched(2 * MINUTE);
    await expect(
      redispatch.redispatchIdle({ taskType: TaskType.Report, idleForMs: MINUTE, scan: 10 }, async () => {
        throw new Error('broker went away');
      }),
    ).rejects.toThrow('broker went away');
    expect(await dispatchedAgoMs(task.taskId)).toBeGreaterThanOrEqual(2 * MINUTE);
    expect((await pass()).redispatched).toBe(1);
  });

  it('a task published again runs once: the first copy to arrive claims it, the other is dropped', async () => {
    const task = await dispatched(2 * MINUTE);
    const [again] = (await pass()).published;
    // Both the original (only delayed, not lost) and the copy reach workers.
    const claims = await Promise.all([
      tasks.claims.claim(task.taskId, 0, new Date(), LEASE_MS),
      tasks.claims.claim(again.task_id, again.retry_count, new Date(), LEASE_MS),
    ]);
    expect(claims.filter((claim) => claim !== null)).toHaveLength(1);
  });
});
