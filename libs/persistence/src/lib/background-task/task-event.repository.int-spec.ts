import {
  TaskFailedEvent,
  TaskHistoryEvent,
  TaskRetryingEvent,
  TaskSucceededEvent,
  TaskStatus,
} from '@tasklane/contracts';
import { NewTask } from './task-outbox.repository';
import { TaskRepositories } from './task-repositories';
import {
  LEASE_MS,
  FIRST_CLAIM,
  UNCLAIMED,
  at,
  newTask,
  started,
  succeeded,
  failed,
  retrying,
  cancelled,
  useTaskRepositories,
} from './task-repositories.fixture';

// Real services (database set-up, migrations) need more than Jest's default 5 s.
jest.setTimeout(30_000);

describe('TaskEventRepository (MariaDB)', () => {
  const fixture = useTaskRepositories('repository_events');
  const { row, delivery, inserted, claimed, expireLease } = fixture;
  let tasks: TaskRepositories;

  beforeAll(() => {
    ({ tasks } = fixture);
  });

  describe('recordOutcome / recordOutcomes (a worker finishing its own claims)', () => {
    async function claimed(overrides: Partial<NewTask> = {}): Promise<NewTask> {
      const task = await inserted(overrides);
      expect(await tasks.claims.claim(task.taskId, 0, at(500), LEASE_MS)).toBe(FIRST_CLAIM);
      return task;
    }

    it('records many outcomes in one statement, each under its claim, and says which were recorded', async () => {
      const [a, b, c, d] = [await claimed(), await claimed(), await claimed(), await claimed()];
      await tasks.events.applyEvents([succeeded(c, { early: true })]); // c: already completed by an earlier write
      expect((await tasks.control.cancel(d.taskId, at(1_500)))?.from).toBe(TaskStatus.Running); // d: cancelled meanwhile

      const recorded = await tasks.events.recordOutcomes([
        succeeded(a, { n: 1 }, { occurred_at: at(2_000) }) as TaskSucceededEvent,
        failed(b, 'boom', { occurred_at: at(2_001) }) as TaskFailedEvent,
        succeeded(c, { late: true }) as TaskSucceededEvent,
        succeeded(d, { n: 4 }) as TaskSucceededEvent,
      ]);

      expect(recorded).toEqual([true, true, true, false]);
      expect(await row(a.taskId)).toMatchObject({
        status: TaskStatus.Completed,
        result: { n: 1 },
        errorMessage: null,
        completedAt: at(2_000),
      });
      expect(await row(b.taskId)).toMatchObject({
        status: TaskStatus.Failed,
        result: null,
        errorMessage: 'boom',
        completedAt: at(2_001),
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
      const recorded = await tasks.events.recordOutcomes([
        succeeded(task, 1, { attempt: FIRST_CLAIM - 1 }) as TaskSucceededEvent,
        succeeded(task, 2, { retry_count: 1 }) as TaskSucceededEvent,
      ]);
      expect(recorded).toEqual([false, false]);
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Running, result: null });
    });
  });

  describe('recordRetrying (a worker recording its own failed attempt that will be retried)', () => {
    it('makes the task pending as the next retry, due after the delay, with its retrying row, once', async () => {
      const task = await inserted({ maxRetries: 2 });
      const attempt = await claimed(task);
      const event = { ...retrying(task, 'smtp 451', { attempt, occurred_at: at(2_000) }) } as TaskRetryingEvent;

      expect(await tasks.events.recordRetrying(event, { workerId: 'worker-1' })).toBe(true);
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Pending,
        retryCount: 1,
        errorMessage: 'smtp 451',
        leaseExpiresAt: null,
        dueAt: at(3_000),
        attempt,
      });
      const history = async () => (await tasks.history.page(task.taskId, 100)).events;
      expect(
        (await history()).map(({ event, attempt: a, retryCount, workerId, message }) => ({
          event,
          a,
          retryCount,
          workerId,
          message,
        })),
      ).toEqual([
        { event: TaskHistoryEvent.Enqueued, a: 0, retryCount: 0, workerId: null, message: null },
        { event: TaskHistoryEvent.Started, a: attempt, retryCount: 0, workerId: null, message: null },
        { event: TaskHistoryEvent.Retrying, a: attempt, retryCount: 0, workerId: 'worker-1', message: 'smtp 451' },
      ]);

      // Again (a publish retried), or the tracker applying the event later: nothing more.
      expect(await tasks.events.recordRetrying(event)).toBe(false);
      expect(await tasks.events.applyEvents([event])).toEqual({ applied: 0, stale: 1 });
      expect(await history()).toHaveLength(3);
      // The retry's claim takes it from there.
      expect(await tasks.claims.claim(task.taskId, 1, at(3_100), LEASE_MS)).toBe(attempt + 1);
    });

    it('records nothing once the claim is gone: cancelled, or the retry already claimed', async () => {
      const task = await inserted({ maxRetries: 2 });
      const attempt = await claimed(task);
      expect(await tasks.claims.claim(task.taskId, 1, at(2_500), LEASE_MS)).toBe(attempt + 1);
      const late = { ...retrying(task, 'late', { attempt }) } as TaskRetryingEvent;
      expect(await tasks.events.recordRetrying(late)).toBe(false);
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Running, retryCount: 1, attempt: attempt + 1 });

      const other = await inserted();
      const otherAttempt = await claimed(other);
      await tasks.control.cancel(other.taskId, at(2_000));
      expect(
        await tasks.events.recordRetrying({ ...retrying(other, 'x', { attempt: otherAttempt }) } as TaskRetryingEvent),
      ).toBe(false);
      expect((await row(other.taskId)).status).toBe(TaskStatus.Cancelled);
    });
  });

  describe('applyEvents', () => {
    it('completes a claimed task on succeeded; its started, already recorded by the claim, is stale', async () => {
      const task = await inserted();
      const attempt = await claimed(task, 0, at(1_001));
      const result = await tasks.events.applyEvents([
        started(task, { occurred_at: at(1_001), attempt }),
        succeeded(task, { sent: 3, ids: ['a', 'b'] }, { occurred_at: at(2_002), attempt }),
      ]);

      expect(result).toEqual({ applied: 1, stale: 1 });
      expect(await row(task.taskId)).toEqual({
        id: expect.any(String),
        taskId: task.taskId,
        taskName: task.taskName,
        taskType: task.taskType,
        priority: 7,
        status: TaskStatus.Completed,
        params: task.params,
        result: { sent: 3, ids: ['a', 'b'] },
        errorMessage: null,
        retryCount: 0,
        maxRetries: 3,
        timeoutMs: 30_000,
        run: 1,
        attempt,
        createdAt: at(0),
        startedAt: at(1_001),
        completedAt: at(2_002),
        leaseExpiresAt: null,
        // Recorded by the claim: the command was never confirmed.
        dispatchedAt: expect.any(Date),
        dueAt: null,
        runAt: null,
        progress: null,
        progressMessage: null,
      });
      expect(await delivery(task.taskId)).toMatchObject({ attempt, lease_expires_at: null });
    });

    it('applies events of the row’s generation given in separate calls', async () => {
      const task = await inserted();
      expect(await tasks.events.applyEvents([started(task, { occurred_at: at(1), attempt: UNCLAIMED })])).toEqual({
        applied: 1,
        stale: 0,
      });
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Running, startedAt: at(1) });
      expect(
        await tasks.events.applyEvents([succeeded(task, 'done', { occurred_at: at(2), attempt: UNCLAIMED })]),
      ).toEqual({
        applied: 1,
        stale: 0,
      });
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Completed, result: 'done' });
    });

    it('stores a null result as null', async () => {
      const task = await inserted();
      const attempt = await claimed(task);
      await tasks.events.applyEvents([succeeded(task, null, { attempt })]);
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Completed, result: null });
    });

    it('counts a duplicate event as stale and changes nothing', async () => {
      const task = await inserted();
      const attempt = await claimed(task);
      await tasks.events.applyEvents([succeeded(task, { n: 1 }, { occurred_at: at(2), attempt })]);
      const before = await row(task.taskId);

      expect(await tasks.events.applyEvents([succeeded(task, { n: 2 }, { occurred_at: at(3), attempt })])).toEqual({
        applied: 0,
        stale: 1,
      });
      expect(await tasks.events.applyEvents([started(task, { occurred_at: at(4), attempt })])).toEqual({
        applied: 0,
        stale: 1,
      });
      expect(await row(task.taskId)).toEqual(before);

      const running = await inserted();
      expect(
        await tasks.events.applyEvents([
          started(running, { occurred_at: at(1), attempt: UNCLAIMED }),
          started(running, { occurred_at: at(9), attempt: UNCLAIMED }),
        ]),
      ).toEqual({ applied: 1, stale: 1 });
      expect((await row(running.taskId)).startedAt).toEqual(at(1));
    });

    it('does not move a task back on a late started after succeeded', async () => {
      const task = await inserted();
      const attempt = await claimed(task, 0, at(1));
      expect(await tasks.events.applyEvents([succeeded(task, 42, { occurred_at: at(2), attempt })])).toEqual({
        applied: 1,
        stale: 0,
      });

      expect(await tasks.events.applyEvents([started(task, { occurred_at: at(3), attempt })])).toEqual({
        applied: 0,
        stale: 1,
      });
      // A finished task stays finished even for events of a later retry.
      expect(
        await tasks.events.applyEvents([
          retrying(task, 'late', { retry_count: 0, attempt }),
          started(task, { retry_count: 1, occurred_at: at(4), attempt }),
          started(task, { retry_count: 1, occurred_at: at(4), attempt: attempt + 1 }),
        ]),
      ).toEqual({ applied: 0, stale: 3 });
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Completed,
        retryCount: 0,
        errorMessage: null,
        result: 42,
        startedAt: at(1),
        completedAt: at(2),
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

      await tasks.events.applyEvents(events(inOrder));
      await tasks.events.applyEvents(events(reversed).reverse());

      const a = await row(inOrder.taskId);
      const b = await row(reversed.taskId);
      // The same but for the ids and when each claim recorded the dispatch (the database's clock).
      expect(b).toEqual({ ...a, id: b.id, taskId: reversed.taskId, dispatchedAt: b.dispatchedAt });
      expect(a).toMatchObject({
        status: TaskStatus.Completed,
        result: { rows: 12 },
        completedAt: at(900),
      });
    });

    it('yields the same status, result and timestamps of completion for unclaimed events in either order', async () => {
      const inOrder = await inserted();
      const reversed = await inserted();
      const events = (task: NewTask) => [
        started(task, { occurred_at: at(500), attempt: UNCLAIMED }),
        succeeded(task, { rows: 12 }, { occurred_at: at(900), attempt: UNCLAIMED }),
      ];

      expect(await tasks.events.applyEvents(events(inOrder))).toEqual({ applied: 2, stale: 0 });
      // Reversed, one event per call, as separate deliveries would be.
      const [first, second] = events(reversed).reverse();
      expect(await tasks.events.applyEvents([first])).toEqual({ applied: 1, stale: 0 });
      expect(await tasks.events.applyEvents([second])).toEqual({ applied: 0, stale: 1 });

      const a = await row(inOrder.taskId);
      const b = await row(reversed.taskId);
      // Note: a `started` arriving after `succeeded` is stale, so started_at is only known from the
      // worker's claim; without one it stays null. Everything else matches.
      const { startedAt: startedA, ...restA } = a;
      const { startedAt: startedB, ...restB } = b;
      expect(restB).toEqual({ ...restA, id: b.id, taskId: reversed.taskId });
      expect(startedA).toEqual(at(500));
      expect([null, at(500)]).toContainEqual(startedB);
    });

    it('retrying moves the task to pending as the next retry, with the error, and clears the lease', async () => {
      const task = await inserted({ maxRetries: 3 });
      const attempt = await claimed(task, 0, at(10));

      expect(
        await tasks.events.applyEvents([
          retrying(task, 'SMTP timeout', { retry_count: 0, occurred_at: at(20), attempt }),
        ]),
      ).toEqual({ applied: 1, stale: 0 });
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Pending,
        retryCount: 1,
        errorMessage: 'SMTP timeout',
        completedAt: null,
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
        await tasks.events.applyEvents([
          started(task, { retry_count: 1, occurred_at: at(30), attempt: next }),
          succeeded(task, 'ok', { retry_count: 1, occurred_at: at(40), attempt: next }),
        ]),
      ).toEqual({ applied: 1, stale: 1 });
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Completed,
        retryCount: 1,
        result: 'ok',
        errorMessage: null,
        startedAt: at(30),
        completedAt: at(40),
      });
    });

    it('ignores a stale retrying of an older retry, and older-retry events in general', async () => {
      const task = await inserted({ maxRetries: 5 });
      const first = await claimed(task, 0);
      await tasks.events.applyEvents([retrying(task, 'first', { retry_count: 0, attempt: first })]);
      const second = await claimed(task, 1);
      await tasks.events.applyEvents([retrying(task, 'second', { retry_count: 1, attempt: second })]);
      const before = await row(task.taskId);
      expect(before).toMatchObject({ status: TaskStatus.Pending, retryCount: 2, errorMessage: 'second' });

      expect(
        await tasks.events.applyEvents([
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
      await tasks.events.applyEvents([retrying(task, 'first', { retry_count: 0, attempt: first })]);
      const second = await claimed(task, 1);
      const before = await row(task.taskId);
      expect(before).toMatchObject({ status: TaskStatus.Running, retryCount: 1 });

      expect(await tasks.events.applyEvents([retrying(task, 'too many', { retry_count: 1, attempt: second })])).toEqual(
        {
          applied: 0,
          stale: 1,
        },
      );
      expect(await row(task.taskId)).toEqual(before);

      const none = await inserted({ maxRetries: 0 });
      const only = await claimed(none, 0);
      expect(await tasks.events.applyEvents([retrying(none, 'never', { retry_count: 0, attempt: only })])).toEqual({
        applied: 0,
        stale: 1,
      });
      expect(await row(none.taskId)).toMatchObject({ status: TaskStatus.Running, retryCount: 0, errorMessage: null });
    });

    it('ends a task as failed with the error and completed_at, and clears the lease', async () => {
      const task = await inserted();
      const attempt = await claimed(task, 0, at(100));
      expect(
        await tasks.events.applyEvents([failed(task, 'handler threw: boom', { occurred_at: at(250), attempt })]),
      ).toEqual({ applied: 1, stale: 0 });
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Failed,
        errorMessage: 'handler threw: boom',
        result: null,
        startedAt: at(100),
        completedAt: at(250),
      });
      expect((await delivery(task.taskId)).lease_expires_at).toBeNull();
      // Terminal: a later success of the same retry is stale.
      expect(await tasks.events.applyEvents([succeeded(task, 'nope', { occurred_at: at(300), attempt })])).toEqual({
        applied: 0,
        stale: 1,
      });
      expect((await row(task.taskId)).status).toBe(TaskStatus.Failed);
    });

    it('ignores events for a cancelled task, of any generation', async () => {
      const task = await inserted();
      await tasks.control.cancel(task.taskId, at(10));
      const before = await row(task.taskId);

      const events = (attempt: number) => [
        started(task, { attempt }),
        succeeded(task, 'x', { attempt }),
        failed(task, 'x', { attempt }),
        retrying(task, 'x', { attempt }),
        cancelled(task, { attempt }),
        started(task, { retry_count: 1, attempt }),
      ];
      expect(await tasks.events.applyEvents([...events(UNCLAIMED), ...events(FIRST_CLAIM)])).toEqual({
        applied: 0,
        stale: 12,
      });
      expect(await row(task.taskId)).toEqual(before);
    });

    it('applies a cancelled event to an active task, clearing the lease', async () => {
      const task = await inserted();
      const attempt = await claimed(task);
      expect(await tasks.events.applyEvents([cancelled(task, { occurred_at: at(77), attempt })])).toEqual({
        applied: 1,
        stale: 0,
      });
      expect(await row(task.taskId)).toMatchObject({
        status: TaskStatus.Cancelled,
        completedAt: at(77),
      });
      expect((await delivery(task.taskId)).lease_expires_at).toBeNull();
    });

    it('counts events of unknown tasks as stale', async () => {
      expect(await tasks.events.applyEvents([started(newTask()), started(newTask(), { attempt: UNCLAIMED })])).toEqual({
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
        tasks.events.applyEvents([
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
      expect(await tasks.claims.releaseClaim(task.taskId, lost)).toBe(true);
      const current = await claimed(task, 0, at(300));
      expect(current).toBe(lost + 2);

      // Each of these would move a running retry 0 forward: only the generation decides.
      expect(
        await tasks.events.applyEvents([
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
        errorMessage: null,
        startedAt: at(300),
      });

      expect(
        await tasks.events.applyEvents([succeeded(task, 'current', { occurred_at: at(400), attempt: current })]),
      ).toEqual({ applied: 1, stale: 0 });
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Completed, result: 'current' });
    });

    it('ignores the events of a reclaimed claim, and of a claim from before a newer one', async () => {
      const task = await inserted();
      const dead = await claimed(task);
      await expireLease(task.taskId, 60);
      expect(await tasks.claims.reclaimExpired(30_000, 100)).toContain(task.taskId);

      // The dead worker's outcome arrives late: the task is pending again, not failed.
      expect(await tasks.events.applyEvents([failed(task, 'late', { attempt: dead })])).toEqual({
        applied: 0,
        stale: 1,
      });
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Pending, errorMessage: null });

      const successor = await claimed(task);
      expect(
        await tasks.events.applyEvents([started(task, { attempt: dead }), failed(task, 'late', { attempt: dead })]),
      ).toEqual({ applied: 0, stale: 2 });
      expect(await tasks.events.applyEvents([succeeded(task, 'successor', { attempt: successor })])).toEqual({
        applied: 1,
        stale: 0,
      });
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Completed, result: 'successor' });
    });
  });
});
