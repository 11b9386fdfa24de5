import { DataSource } from 'typeorm';
import { TaskCommand, TaskName, TaskStatus, newTaskId } from '@tasklane/contracts';
import { NewTask } from './task-outbox.repository';
import { TaskRepositories } from './task-repositories';
import { LEASE_MS, UNCLAIMED, at, succeeded, failed, retrying, useTaskRepositories } from './task-repositories.fixture';

// Real services (database set-up, migrations) need more than Jest's default 5 s.
jest.setTimeout(30_000);

describe('TaskControlRepository (MariaDB)', () => {
  const fixture = useTaskRepositories('repository_control');
  const { row, delivery, inserted, claimed, commandOf } = fixture;
  let dataSource: DataSource;
  let tasks: TaskRepositories;

  beforeAll(() => {
    ({ dataSource, tasks } = fixture);
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
      await tasks.events.applyEvents([
        retrying(task, 'first try', { retry_count: 0, occurred_at: at(150), attempt: first }),
      ]);
      const second = await claimed(task, 1, at(200));
      await tasks.events.applyEvents([failed(task, error, { retry_count: 1, occurred_at: at(300), attempt: second })]);
      expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Failed, retryCount: 1, errorMessage: error });
      return task;
    }

    it('stores timeout_ms with the task; a row from before timeouts reads NULL (the API shows the catalogue default)', async () => {
      const task = await inserted({ timeoutMs: 500 });
      expect((await row(task.taskId)).timeoutMs).toBe(500);
      const [stored] = (await dataSource.query('SELECT timeout_ms, run FROM background_tasks WHERE task_id = ?', [
        task.taskId,
      ])) as Array<{ timeout_ms: number; run: number }>;
      expect(stored).toEqual({ timeout_ms: 500, run: 1 });

      const older = await inserted({ taskName: TaskName.EmailSend, params: {} });
      await dataSource.query('UPDATE background_tasks SET timeout_ms = NULL WHERE task_id = ?', [older.taskId]);
      expect((await row(older.taskId)).timeoutMs).toBeNull();
    });

    describe('cancel', () => {
      it('cancels a pending task: cancelled at once, a new generation, no lease', async () => {
        const task = await inserted();
        await tasks.outbox.markDispatched([task.taskId], at(5));

        expect((await tasks.control.cancel(task.taskId, at(10)))?.from).toBe(TaskStatus.Pending);
        expect(await row(task.taskId)).toMatchObject({
          status: TaskStatus.Cancelled,
          retryCount: 0,
          startedAt: null,
          completedAt: at(10),
          result: null,
          errorMessage: null,
          run: 1,
        });
        expect(await delivery(task.taskId)).toEqual({
          attempt: UNCLAIMED + 1,
          lease_expires_at: null,
          dispatched_at: at(5),
          lease_left_ms: null,
        });
        // Its queued message is dropped at the claim.
        expect(await tasks.claims.claim(task.taskId, 0, at(20), LEASE_MS)).toBeNull();
      });

      it('cancels a running task: a new generation, the lease cleared, the worker’s claim and events are stale', async () => {
        const task = await inserted();
        const attempt = await claimed(task, 0, at(100));
        expect((await delivery(task.taskId)).lease_expires_at).not.toBeNull();

        expect((await tasks.control.cancel(task.taskId, at(400)))?.from).toBe(TaskStatus.Running);
        const cancelledRow = await row(task.taskId);
        expect(cancelledRow).toMatchObject({
          status: TaskStatus.Cancelled,
          retryCount: 0,
          startedAt: at(100),
          completedAt: at(400),
          result: null,
        });
        expect(await delivery(task.taskId)).toMatchObject({ attempt: attempt + 1, lease_expires_at: null });

        // The worker that runs it: its heartbeat finds the claim gone, it can no longer release it...
        expect(await tasks.claims.heartbeat([{ taskId: task.taskId, attempt }], LEASE_MS)).toEqual([
          { taskId: task.taskId, attempt },
        ]);
        expect(await tasks.claims.releaseClaim(task.taskId, attempt)).toBe(false);
        // ...and a late `succeeded` (or any outcome) of its attempt changes nothing.
        expect(
          await tasks.events.applyEvents([
            succeeded(task, 'too late', { occurred_at: at(500), attempt }),
            failed(task, 'too late', { occurred_at: at(500), attempt }),
            retrying(task, 'too late', { occurred_at: at(500), attempt }),
          ]),
        ).toEqual({ applied: 0, stale: 3 });
        // Nor does one carrying the cancel's own generation: the task is terminal.
        expect(await tasks.events.applyEvents([succeeded(task, 'x', { attempt: attempt + 1 })])).toEqual({
          applied: 0,
          stale: 1,
        });
        expect(await row(task.taskId)).toEqual(cancelledRow);
        // The reconciler leaves it alone (no lease to expire).
        expect(await tasks.claims.reclaimExpired(0, 1_000)).not.toContain(task.taskId);
        expect((await row(task.taskId)).status).toBe(TaskStatus.Cancelled);
      });

      it('cancels a running retry, keeping its retry_count and its last error', async () => {
        const task = await inserted({ maxRetries: 2 });
        const first = await claimed(task, 0);
        await tasks.events.applyEvents([retrying(task, 'flaky', { retry_count: 0, attempt: first })]);
        const second = await claimed(task, 1, at(200));

        expect((await tasks.control.cancel(task.taskId, at(250)))?.from).toBe(TaskStatus.Running);
        expect(await row(task.taskId)).toMatchObject({
          status: TaskStatus.Cancelled,
          retryCount: 1,
          errorMessage: 'flaky',
          completedAt: at(250),
        });
        expect((await delivery(task.taskId)).attempt).toBe(second + 1);
      });

      it('answers null for a completed, failed, cancelled or unknown task, and changes nothing', async () => {
        const completed = await inserted();
        const attempt = await claimed(completed);
        await tasks.events.applyEvents([succeeded(completed, { ok: 1 }, { occurred_at: at(300), attempt })]);
        const failedOne = await failedTask('gave up');
        const cancelledOne = await inserted();
        expect((await tasks.control.cancel(cancelledOne.taskId, at(50)))?.from).toBe(TaskStatus.Pending);

        for (const task of [completed, failedOne, cancelledOne]) {
          const before = await row(task.taskId);
          const generation = (await delivery(task.taskId)).attempt;
          expect(await tasks.control.cancel(task.taskId, at(9_000))).toBeNull();
          expect(await row(task.taskId)).toEqual(before);
          expect((await delivery(task.taskId)).attempt).toBe(generation);
        }
        expect(await tasks.control.cancel(newTaskId(), at(9_000))).toBeNull();
      });
    });

    describe('requeueFinished', () => {
      it('archives a failed run exactly as it ended and resets the task for a new run', async () => {
        const task = await failedTask('boom', { priority: 9, timeoutMs: 1_234 });
        // A result is copied as it is, whatever it holds (a failed run normally has none).
        await dataSource.query(
          "UPDATE background_tasks SET result = ?, progress = 70, progress_message = 'copying' WHERE task_id = ?",
          [JSON.stringify({ partial: [1, 'two'], unicode: 'héllo ✓' }), task.taskId],
        );
        await tasks.outbox.markDispatched([task.taskId], at(50));
        const ended = await row(task.taskId);
        const generation = (await delivery(task.taskId)).attempt;

        const command = await tasks.control.requeueFinished(task.taskId, at(1_000));

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
          progress: 70,
          result: { partial: [1, 'two'], unicode: 'héllo ✓' },
          errorMessage: 'boom',
          startedAt: at(200),
          completedAt: at(300),
        });
        expect(await tasks.queries.listRuns(task.taskId)).toEqual([
          {
            id: expect.any(String),
            taskId: task.taskId,
            run: 1,
            status: TaskStatus.Failed,
            retryCount: 1,
            result: { partial: [1, 'two'], unicode: 'héllo ✓' },
            errorMessage: 'boom',
            startedAt: at(200),
            completedAt: at(300),
            archivedAt: at(1_000),
          },
        ]);
        expect(await archived(task.taskId)).toHaveLength(1);

        // The task itself: pending again, the next run, the same retry_count, nothing of the old run left.
        expect(await row(task.taskId)).toEqual({
          ...ended,
          status: TaskStatus.Pending,
          run: 2,
          retryCount: 1,
          result: null,
          errorMessage: null,
          startedAt: null,
          completedAt: null,
          attempt: generation + 1,
          leaseExpiresAt: null,
          dispatchedAt: null,
          dueAt: null,
          progress: null,
          progressMessage: null,
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
        await tasks.control.requeueFinished(task.taskId, at(1_000));

        // A late event of the failed run changes nothing in the new one.
        expect(await tasks.events.applyEvents([failed(task, 'late', { retry_count: 1, attempt: old })])).toEqual({
          applied: 0,
          stale: 1,
        });
        expect((await row(task.taskId)).status).toBe(TaskStatus.Pending);

        const attempt = await claimed(task, 1, at(2_000));
        expect(attempt).toBe(old + 2);
        expect(
          await tasks.events.applyEvents([
            succeeded(task, 'second run', { retry_count: 1, occurred_at: at(2_500), attempt }),
          ]),
        ).toEqual({ applied: 1, stale: 0 });
        expect(await row(task.taskId)).toMatchObject({
          status: TaskStatus.Completed,
          run: 2,
          result: 'second run',
          startedAt: at(2_000),
          completedAt: at(2_500),
        });
        // The first run is still there, as it ended.
        expect(await tasks.queries.listRuns(task.taskId)).toEqual([
          expect.objectContaining({ run: 1, status: TaskStatus.Failed, errorMessage: 'boom' }),
        ]);
      });

      it('re-queues a task cancelled while running, archiving the cancelled run', async () => {
        const task = await inserted();
        await claimed(task, 0, at(100));
        await tasks.control.cancel(task.taskId, at(150));

        expect(await tasks.control.requeueFinished(task.taskId, at(200))).toEqual(commandOf(task, 0));
        expect(await tasks.queries.listRuns(task.taskId)).toEqual([
          {
            id: expect.any(String),
            taskId: task.taskId,
            run: 1,
            status: TaskStatus.Cancelled,
            retryCount: 0,
            result: null,
            errorMessage: null,
            startedAt: at(100),
            completedAt: at(150),
            archivedAt: at(200),
          },
        ]);
        expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Pending, run: 2, startedAt: null });
      });

      it('answers null for a pending, running, completed or unknown task, and archives nothing', async () => {
        const pending = await inserted();
        const running = await inserted();
        await claimed(running);
        const completed = await inserted();
        await tasks.events.applyEvents([succeeded(completed, 'done', { attempt: await claimed(completed) })]);

        for (const task of [pending, running, completed]) {
          const before = await row(task.taskId);
          const deliveryBefore = await delivery(task.taskId);
          expect(await tasks.control.requeueFinished(task.taskId, at(1_000))).toBeNull();
          expect(await row(task.taskId)).toEqual(before);
          expect((await delivery(task.taskId)).attempt).toBe(deliveryBefore.attempt);
          expect(await archived(task.taskId)).toEqual([]);
        }
        expect(await tasks.control.requeueFinished(newTaskId(), at(1_000))).toBeNull();
      });

      it('re-queued twice, archives runs 1 and 2 in order', async () => {
        const task = await failedTask('first run failed');
        expect(await tasks.control.requeueFinished(task.taskId, at(1_000))).not.toBeNull();
        // Once pending, a second retry has nothing to do.
        expect(await tasks.control.requeueFinished(task.taskId, at(1_001))).toBeNull();

        const attempt = await claimed(task, 1, at(2_000));
        await tasks.events.applyEvents([
          failed(task, 'second run failed', { retry_count: 1, occurred_at: at(2_100), attempt }),
        ]);
        expect(await tasks.control.requeueFinished(task.taskId, at(3_000))).toEqual(commandOf(task, 1));

        expect(await tasks.queries.listRuns(task.taskId)).toEqual([
          {
            id: expect.any(String),
            taskId: task.taskId,
            run: 1,
            status: TaskStatus.Failed,
            retryCount: 1,
            result: null,
            errorMessage: 'first run failed',
            startedAt: at(200),
            completedAt: at(300),
            archivedAt: at(1_000),
          },
          {
            id: expect.any(String),
            taskId: task.taskId,
            run: 2,
            status: TaskStatus.Failed,
            retryCount: 1,
            result: null,
            errorMessage: 'second run failed',
            startedAt: at(2_000),
            completedAt: at(2_100),
            archivedAt: at(3_000),
          },
        ]);
        expect((await archived(task.taskId)).map((archivedRun) => archivedRun['run'])).toEqual([1, 2]);
        expect(await runOf(task.taskId)).toBe(3);
        expect((await row(task.taskId)).run).toBe(3);
      });

      it('puts the re-queued task back in the outbox: the relay publishes its command', async () => {
        const task = await failedTask('boom', { createdAt: new Date(Date.now() - 10 * 60_000) });
        await tasks.control.requeueFinished(task.taskId, at(1_000));

        const published: TaskCommand[] = [];
        await tasks.outbox.relayOutbox(0, 1_000, async (commands) => {
          published.push(...commands);
        });
        expect(published.filter((command) => command.task_id === task.taskId)).toEqual([commandOf(task, 1)]);
        expect((await delivery(task.taskId)).dispatched_at).not.toBeNull();
      });

      it("gives a task stored without timeout_ms the catalogue's default in its command", async () => {
        const task = await failedTask('boom', { taskName: TaskName.EmailSend, params: {} });
        await dataSource.query('UPDATE background_tasks SET timeout_ms = NULL WHERE task_id = ?', [task.taskId]);
        expect(await tasks.control.requeueFinished(task.taskId, at(1_000))).toMatchObject({ timeout_ms: 60_000 });
      });
    });

    describe('listRuns', () => {
      it('is empty for a task never re-queued and for an unknown task', async () => {
        const task = await failedTask('boom');
        expect(await tasks.queries.listRuns(task.taskId)).toEqual([]);
        expect(await tasks.queries.listRuns(newTaskId())).toEqual([]);
      });

      it('lists only the runs of the task asked for', async () => {
        const a = await failedTask('a');
        const b = await failedTask('b');
        await tasks.control.requeueFinished(a.taskId, at(1_000));
        await tasks.control.requeueFinished(b.taskId, at(1_000));
        expect((await tasks.queries.listRuns(a.taskId)).map((run) => run.errorMessage)).toEqual(['a']);
        expect((await tasks.queries.listRuns(b.taskId)).map((run) => run.errorMessage)).toEqual(['b']);
      });
    });
  });
});
