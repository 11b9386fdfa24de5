import { TaskCommand, TaskHistoryEvent, TaskStatus, TaskType } from '@tasklane/contracts';
import { LEASE_MS, newTask as fixtureTask, useTaskRepositories } from '../background-task/task-repositories.fixture';
import { NewTask } from '../background-task/task-outbox.repository';
import { AgingWindow, TaskAgingRepository } from './task-aging.repository';

jest.setTimeout(60_000);

const MINUTE = 60_000;

const newTask = (overrides: Partial<NewTask> = {}): NewTask =>
  fixtureTask({ taskType: TaskType.Report, priority: 1, createdAt: new Date(), ...overrides });

describe('TaskAgingRepository (MariaDB)', () => {
  const fixture = useTaskRepositories('aging');
  let aging: TaskAgingRepository;

  beforeAll(() => {
    aging = new TaskAgingRepository(fixture.dataSource);
  });

  beforeEach(async () => {
    await fixture.dataSource.query('DELETE FROM background_tasks');
    await fixture.dataSource.query('DELETE FROM background_task_events');
  });

  /** Inserts pending tasks whose commands the broker confirmed `agoMs` ago. */
  async function dispatched(agoMs: number, overrides: Partial<NewTask> = {}, count = 1): Promise<NewTask[]> {
    const inserted = Array.from({ length: count }, () => newTask(overrides));
    await fixture.tasks.outbox.insertPendingBatch(inserted);
    await fixture.dataSource.query(
      `UPDATE background_tasks SET dispatched_at = DATE_SUB(UTC_TIMESTAMP(3), INTERVAL ? MICROSECOND)
        WHERE task_id IN (${inserted.map(() => '?').join(', ')})`,
      [agoMs * 1000, ...inserted.map((task) => task.taskId)],
    );
    return inserted;
  }

  async function pass(window: Partial<AgingWindow> = {}): Promise<string[]> {
    const published: TaskCommand[] = [];
    const aged = await aging.ageStarved(
      { taskType: TaskType.Report, waitedMs: MINUTE, limit: 100, ...window },
      async (commands) => {
        published.push(...commands);
      },
    );
    expect(aged).toEqual(published);
    return published.map((command) => command.task_id);
  }

  it('ages a task below the top priority waiting longer than the bound, once per bound, with a history row', async () => {
    const [task] = await dispatched(2 * MINUTE, { priority: 3 });
    expect(await pass()).toEqual([task.taskId]);
    // Out again just now: not aged again before another bound.
    expect(await pass()).toEqual([]);
    expect((await fixture.tasks.queries.findByTaskId(task.taskId))?.status).toBe(TaskStatus.Pending);
    const history = await fixture.tasks.history.page(task.taskId, 10);
    expect(history.events.map((row) => [row.event, row.message])).toEqual([
      [TaskHistoryEvent.Enqueued, null],
      [TaskHistoryEvent.Aged, 'waited more than 60000 ms at priority 3: published again above every priority'],
    ]);
  });

  it('leaves alone priority 10, young dispatches, the outbox, other types, retries not due and tasks not pending', async () => {
    await dispatched(10 * MINUTE, { priority: 10 });
    await dispatched(1_000);
    await fixture.tasks.outbox.insertPending(newTask());
    await dispatched(10 * MINUTE, { taskType: TaskType.Email });
    const [claimed] = await dispatched(10 * MINUTE);
    expect(await fixture.tasks.claims.claim(claimed.taskId, 0, new Date(), LEASE_MS)).not.toBeNull();
    const [cancelled] = await dispatched(10 * MINUTE);
    expect(await fixture.tasks.control.cancel(cancelled.taskId, new Date())).not.toBeNull();
    const [retry] = await dispatched(10 * MINUTE);
    await fixture.dataSource.query(
      'UPDATE background_tasks SET due_at = DATE_SUB(UTC_TIMESTAMP(3), INTERVAL 1 SECOND) WHERE task_id = ?',
      [retry.taskId],
    );
    expect(await pass()).toEqual([]);
    // Once the retry has been due for the bound, it ages too.
    await fixture.dataSource.query(
      'UPDATE background_tasks SET due_at = DATE_SUB(UTC_TIMESTAMP(3), INTERVAL 2 MINUTE) WHERE task_id = ?',
      [retry.taskId],
    );
    expect(await pass()).toEqual([retry.taskId]);
  });

  it('finds the starved tasks behind a deep priority-10 backlog, oldest first, `limit` at a time', async () => {
    await dispatched(10 * MINUTE, { priority: 10 }, 3_000);
    const oldest = await dispatched(9 * MINUTE, { priority: 1 });
    const older = await dispatched(8 * MINUTE, { priority: 9 });
    const old = await dispatched(7 * MINUTE, { priority: 5 });
    expect(await pass({ limit: 2 })).toEqual([oldest[0].taskId, older[0].taskId]);
    expect(await pass({ limit: 2 })).toEqual([old[0].taskId]);
    expect(await pass({ limit: 2 })).toEqual([]);
  });

  it('two trackers at once age each task once; a task locked by a claim in progress waits for the next pass', async () => {
    const [locked] = await dispatched(2 * MINUTE);
    const free = await dispatched(2 * MINUTE, {}, 5);
    const runner = fixture.dataSource.createQueryRunner();
    await runner.startTransaction();
    try {
      await runner.query('SELECT id FROM background_tasks WHERE task_id = ? FOR UPDATE', [locked.taskId]);
      const published: string[] = [];
      const slowPass = () =>
        aging.ageStarved({ taskType: TaskType.Report, waitedMs: MINUTE, limit: 100 }, async (commands) => {
          published.push(...commands.map((command) => command.task_id));
          await new Promise((resolve) => setTimeout(resolve, 200));
        });
      await Promise.all([slowPass(), slowPass()]);
      expect(published.sort()).toEqual(free.map((task) => task.taskId).sort());
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
    expect(await pass()).toEqual([locked.taskId]);
  });

  it('writes nothing when the publish fails: the task ages at the next pass', async () => {
    const [task] = await dispatched(2 * MINUTE);
    await expect(
      aging.ageStarved({ taskType: TaskType.Report, waitedMs: MINUTE, limit: 10 }, async () => {
        throw new Error('broker went away');
      }),
    ).rejects.toThrow('broker went away');
    expect((await fixture.tasks.history.page(task.taskId, 10)).events.map((row) => row.event)).toEqual([
      TaskHistoryEvent.Enqueued,
    ]);
    expect(await pass()).toEqual([task.taskId]);
  });
});
