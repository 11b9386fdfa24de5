import { TaskCommand, TaskHistoryEvent, TaskStatus } from '@tasklane/contracts';
import { RedispatchRepository } from '../redispatch/redispatch.repository';
import { TaskRetentionRepository } from '../retention/task-retention.repository';
import {
  LEASE_MS,
  at,
  cancelled,
  failed,
  newTask,
  retrying,
  started,
  succeeded,
  useTaskRepositories,
} from '../background-task/task-repositories.fixture';
import { BackgroundTaskEvent } from './background-task-event.entity';

jest.setTimeout(30_000);

const WORKER = { workerId: 'worker-a:101' };

describe("a task's history (background_task_events, MariaDB)", () => {
  const fixture = useTaskRepositories('task_history');

  /** The whole history of a task, oldest first, as the API pages it. */
  async function historyOf(taskId: string): Promise<BackgroundTaskEvent[]> {
    const events: BackgroundTaskEvent[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await fixture.tasks.history.page(taskId, 100, after);
      events.push(...page.events);
      if (page.next === null) {
        return events;
      }
      after = page.next;
    }
  }

  const summary = (events: BackgroundTaskEvent[]) =>
    events.map((event) => [event.event, event.run, event.attempt, event.retryCount]);

  it('records a life with a retry: enqueued by whom, started by which worker, the error, the outcome', async () => {
    const { tasks } = fixture;
    const task = newTask({ actor: 'key:abcdef012345', maxRetries: 2 });
    await tasks.outbox.insertPendingBatch([task]);
    const [first] = await tasks.claims.claimMany([{ taskId: task.taskId, retryCount: 0 }], LEASE_MS, WORKER);
    expect(first).not.toBeNull();
    // The tracker's copy of the claim's own `started` is stale: no second row.
    await tasks.events.applyEvents([started(task, { attempt: first?.attempt })]);
    await tasks.events.applyEvents([
      retrying(task, 'SMTP 451: try later', { attempt: first?.attempt, occurred_at: at(2_000) }),
    ]);
    const [second] = await tasks.claims.claimMany([{ taskId: task.taskId, retryCount: 1 }], LEASE_MS, {
      workerId: 'worker-b:202',
    });
    const outcome = succeeded(
      task,
      { sent: true },
      { retry_count: 1, attempt: second?.attempt, occurred_at: at(5_000) },
    );
    expect(await tasks.events.recordOutcomes([outcome as never], { workerId: 'worker-b:202' })).toEqual([true]);
    // The tracker's later copy of the outcome changes nothing, and writes no row.
    expect(await tasks.events.applyEvents([outcome])).toEqual({ applied: 0, stale: 1 });

    const events = await historyOf(task.taskId);
    expect(summary(events)).toEqual([
      [TaskHistoryEvent.Enqueued, 1, 0, 0],
      [TaskHistoryEvent.Started, 1, 1, 0],
      [TaskHistoryEvent.Retrying, 1, 1, 0],
      [TaskHistoryEvent.Started, 1, 2, 1],
      [TaskHistoryEvent.Succeeded, 1, 2, 1],
    ]);
    expect(events[0]).toMatchObject({ actor: 'key:abcdef012345', workerId: null, occurredAt: task.createdAt });
    expect(events[1]).toMatchObject({ workerId: 'worker-a:101', actor: null });
    expect(events[2]).toMatchObject({ message: 'SMTP 451: try later', occurredAt: at(2_000) });
    expect(events[3].workerId).toBe('worker-b:202');
    expect(events[4]).toMatchObject({ workerId: 'worker-b:202', message: null, occurredAt: at(5_000) });
    expect(events.map((event) => Number(event.id))).toEqual(
      [...events.map((event) => Number(event.id))].sort((a, b) => a - b),
    );
  });

  it('records a failure for good with its error, whoever writes it (worker or tracker)', async () => {
    const { tasks } = fixture;
    const byWorker = await fixture.inserted({ maxRetries: 0 });
    const byTracker = await fixture.inserted({ maxRetries: 0 });
    const a = await fixture.claimed(byWorker);
    const b = await fixture.claimed(byTracker);
    await tasks.events.recordOutcomes([failed(byWorker, 'boom', { attempt: a }) as never], WORKER);
    // The worker could not write (database away): the tracker applies the event later.
    await tasks.events.applyEvents([failed(byTracker, 'bang', { attempt: b })]);
    expect((await historyOf(byWorker.taskId)).at(-1)).toMatchObject({
      event: TaskHistoryEvent.Failed,
      message: 'boom',
      workerId: 'worker-a:101',
    });
    expect((await historyOf(byTracker.taskId)).at(-1)).toMatchObject({
      event: TaskHistoryEvent.Failed,
      message: 'bang',
    });
  });

  it('records a cancel and a retry through the API with who asked, and nothing for a refused one', async () => {
    const { tasks } = fixture;
    const task = await fixture.inserted();
    await fixture.claimed(task);
    expect(await tasks.control.cancel(task.taskId, at(3_000), { actor: 'key:000000000001' })).toMatchObject({
      from: TaskStatus.Running,
      attempt: 2,
    });
    // Refused (already cancelled): no row.
    expect(await tasks.control.cancel(task.taskId, at(3_100), { actor: 'key:000000000001' })).toBeNull();
    // The worker's late cancelled event is stale.
    await tasks.events.applyEvents([cancelled(task, { attempt: 1 })]);
    expect(await tasks.control.requeueFinished(task.taskId, at(4_000), { actor: 'anonymous' })).not.toBeNull();
    expect(await tasks.control.requeueFinished(task.taskId, at(4_100), { actor: 'anonymous' })).toBeNull();

    const events = await historyOf(task.taskId);
    expect(summary(events)).toEqual([
      [TaskHistoryEvent.Enqueued, 1, 0, 0],
      [TaskHistoryEvent.Started, 1, 1, 0],
      [TaskHistoryEvent.Cancelled, 1, 2, 0],
      [TaskHistoryEvent.Retried, 2, 3, 0],
    ]);
    expect(events[2]).toMatchObject({ actor: 'key:000000000001', occurredAt: at(3_000) });
    expect(events[3]).toMatchObject({ actor: 'anonymous', occurredAt: at(4_000) });
  });

  it('records a claim given back, a lease reclaimed, an unprocessable message and a re-dispatch', async () => {
    const { tasks, dataSource } = fixture;
    const released = await fixture.inserted();
    const attempt = await fixture.claimed(released);
    expect(await tasks.claims.releaseClaim(released.taskId, attempt, WORKER)).toBe(true);
    expect(await tasks.claims.releaseClaim(released.taskId, attempt, WORKER)).toBe(false);
    expect(summary(await historyOf(released.taskId)).map(([event]) => event)).toEqual([
      TaskHistoryEvent.Enqueued,
      TaskHistoryEvent.Started,
      TaskHistoryEvent.Released,
    ]);
    expect((await historyOf(released.taskId))[2]).toMatchObject({ workerId: 'worker-a:101', attempt: 2 });

    const orphan = await fixture.inserted();
    await fixture.claimed(orphan);
    await fixture.expireLease(orphan.taskId, 60);
    expect(await tasks.claims.reclaimExpired(1_000, 1_000)).toContain(orphan.taskId);
    const reclaimed = (await historyOf(orphan.taskId)).at(-1);
    expect(reclaimed).toMatchObject({ event: TaskHistoryEvent.LeaseReclaimed, attempt: 2 });
    expect(reclaimed?.message).toMatch(/lease expired/);

    const poison = await fixture.inserted();
    expect(
      await tasks.claims.failUnprocessable(poison.taskId, 'unprocessable message: bad params', at(9), WORKER),
    ).toBe(true);
    expect((await historyOf(poison.taskId)).at(-1)).toMatchObject({
      event: TaskHistoryEvent.Failed,
      message: 'unprocessable message: bad params',
    });

    const lost = await fixture.inserted();
    await tasks.outbox.markDispatched([lost.taskId], at(0));
    const published: TaskCommand[] = [];
    const redispatch = new RedispatchRepository(dataSource);
    const pass = await redispatch.redispatchIdle(
      { taskType: lost.taskType, idleForMs: 0, scan: 10_000 },
      async (commands) => {
        published.push(...commands);
      },
    );
    expect(pass.redispatched).toBeGreaterThanOrEqual(1);
    expect(published.map((command) => command.task_id)).toContain(lost.taskId);
    expect((await historyOf(lost.taskId)).at(-1)).toMatchObject({ event: TaskHistoryEvent.Redispatched });
  });

  it('pages oldest first by keyset; the last page has no next cursor', async () => {
    const { tasks } = fixture;
    const task = await fixture.inserted();
    const attempt = await fixture.claimed(task);
    await tasks.events.recordOutcomes([succeeded(task, 1, { attempt }) as never], WORKER);
    const first = await tasks.history.page(task.taskId, 2);
    expect(first.events.map((event) => event.event)).toEqual([TaskHistoryEvent.Enqueued, TaskHistoryEvent.Started]);
    expect(first.next).toBe(first.events[1].id);
    const second = await tasks.history.page(task.taskId, 2, first.next ?? undefined);
    expect(second.events.map((event) => event.event)).toEqual([TaskHistoryEvent.Succeeded]);
    expect(second.next).toBeNull();
    expect((await tasks.history.page(task.taskId, 2, second.events[0].id)).events).toEqual([]);
  });

  it('writes nothing when the transition is refused: a failed batch insert leaves neither task nor history', async () => {
    const { tasks } = fixture;
    const task = newTask();
    await expect(tasks.outbox.insertPendingBatch([task, { ...newTask(), taskId: task.taskId }])).rejects.toThrow();
    expect(await tasks.queries.findByTaskId(task.taskId)).toBeNull();
    expect(await tasks.history.countOf([task.taskId])).toBe(0);
  });

  it('is deleted with its task by retention, with the archived runs; kept for the tasks kept', async () => {
    const { tasks, dataSource } = fixture;
    const old = await fixture.inserted({ maxRetries: 0 });
    const oldAttempt = await fixture.claimed(old);
    await tasks.events.recordOutcomes([failed(old, 'x', { attempt: oldAttempt, occurred_at: at(1_000) }) as never]);
    await tasks.control.requeueFinished(old.taskId, at(1_500));
    const again = await fixture.claimed(old, 0, at(1_600));
    await tasks.events.recordOutcomes([failed(old, 'y', { attempt: again, occurred_at: at(2_000) }) as never]);
    const kept = await fixture.inserted();
    expect(await tasks.history.countOf([old.taskId])).toBe(6);
    const runsOf = async (taskId: string) =>
      Number(
        (
          (await dataSource.query('SELECT COUNT(*) AS n FROM background_task_runs WHERE task_id = ?', [
            taskId,
          ])) as Array<{
            n: string;
          }>
        )[0].n,
      );
    expect(await runsOf(old.taskId)).toBe(1);

    const retention = new TaskRetentionRepository(dataSource);
    let deleted = 0;
    for (
      let batch = await retention.purgeBatch(at(10_000), 2);
      batch.selected > 0;
      batch = await retention.purgeBatch(at(10_000), 2)
    ) {
      deleted += batch.deleted;
    }
    expect(deleted).toBeGreaterThanOrEqual(1);
    expect(await tasks.queries.findByTaskId(old.taskId)).toBeNull();
    expect(await tasks.history.countOf([old.taskId])).toBe(0);
    expect(await runsOf(old.taskId)).toBe(0);
    expect(await tasks.history.countOf([kept.taskId])).toBe(1);
  });
});
