import { DataSource } from 'typeorm';
import { TaskCommand, TaskName, TaskStatus, TaskType, newTaskId } from '@tasklane/contracts';
import { TestDatabase } from '@tasklane/testing';
import { dataSourceOptions } from '../database/data-source.options';
import { BackgroundTask } from './background-task.entity';
import { NewTask } from './task-outbox.repository';
import { TaskRepositories, createTaskRepositories } from './task-repositories';
import { UNCLAIMED, at, newTask, deferred, waitMs, useTaskRepositories } from './task-repositories.fixture';

// Real services (database set-up, migrations) need more than Jest's default 5 s.
jest.setTimeout(30_000);

describe('TaskOutboxRepository (MariaDB)', () => {
  const fixture = useTaskRepositories('repository_outbox');
  const { row, delivery, inserted, claimed, commandOf } = fixture;
  let db: TestDatabase;
  let dataSource: DataSource;
  let tasks: TaskRepositories;

  beforeAll(() => {
    ({ db, dataSource, tasks } = fixture);
  });

  describe('insertPending / findByTaskId / markDispatched', () => {
    it('round-trips every field', async () => {
      const task = newTask({ createdAt: new Date('2025-12-31T23:59:59.999Z') });
      const returned = await tasks.outbox.insertPending(task);
      expect(returned).toEqual(task);

      const found = await tasks.queries.findByTaskId(task.taskId);
      expect(found).toBeInstanceOf(BackgroundTask);
      expect(found).toEqual({
        id: expect.stringMatching(/^[1-9][0-9]*$/),
        taskId: task.taskId,
        taskName: TaskName.DiagnosticSleep,
        taskType: TaskType.Email,
        priority: 7,
        status: TaskStatus.Pending,
        params: { ms: 10, nested: { list: [1, 'two', null], flag: true }, unicode: 'héllo ✓' },
        result: null,
        errorMessage: null,
        retryCount: 0,
        maxRetries: 3,
        timeoutMs: 30_000,
        run: 1,
        attempt: 0,
        createdAt: new Date('2025-12-31T23:59:59.999Z'),
        startedAt: null,
        completedAt: null,
        leaseExpiresAt: null,
        dispatchedAt: null,
        dueAt: null,
        runAt: null,
        progress: null,
        progressMessage: null,
      });
    });

    it('stores timestamps as UTC wall-clock time with milliseconds', async () => {
      const task = await inserted({ createdAt: at(0) });
      const [stored] = (await dataSource.query(
        "SELECT DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s.%f') AS created FROM background_tasks WHERE task_id = ?",
        [task.taskId],
      )) as Array<{ created: string }>;
      expect(stored.created).toBe('2025-03-04 05:06:07.089000');
      expect((await row(task.taskId)).createdAt.toISOString()).toBe('2025-03-04T05:06:07.089Z');
    });

    it('returns null for an unknown task', async () => {
      expect(await tasks.queries.findByTaskId(newTaskId())).toBeNull();
    });

    it('refuses a second task with the same task_id', async () => {
      const task = await inserted();
      await expect(tasks.outbox.insertPending({ ...task, priority: 1 })).rejects.toThrow(/Duplicate entry/);
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

      await tasks.outbox.markDispatched([a.taskId, b.taskId, newTaskId()], at(500));
      expect((await delivery(a.taskId)).dispatched_at).toEqual(at(500));
      expect((await delivery(b.taskId)).dispatched_at).toEqual(at(500));
      expect((await delivery(c.taskId)).dispatched_at).toBeNull();

      // A later record (a relay and the gateway both confirmed) keeps the first time.
      await tasks.outbox.markDispatched([a.taskId, c.taskId], at(900));
      expect((await delivery(a.taskId)).dispatched_at).toEqual(at(500));
      expect((await delivery(c.taskId)).dispatched_at).toEqual(at(900));

      await expect(tasks.outbox.markDispatched([], at(999))).resolves.toBeUndefined();
      expect(await row(a.taskId)).toMatchObject({ status: TaskStatus.Pending, startedAt: null });
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
      const returned = await tasks.outbox.insertPendingBatch(batch);

      expect(returned).toEqual(batch);
      for (const task of batch) {
        expect(await row(task.taskId)).toMatchObject({
          ...task,
          status: TaskStatus.Pending,
          result: null,
          errorMessage: null,
          retryCount: 0,
          run: 1,
          startedAt: null,
          completedAt: null,
        });
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
      await expect(tasks.outbox.insertPendingBatch(batch)).rejects.toThrow(/Duplicate entry/);
      expect(await countOf(batch.slice(0, 2).map((task) => task.taskId))).toBe(0);
    });

    it('splits a batch of huge params into several statements, still in one transaction', async () => {
      // 80 × ~60 KB of params is over MAX_INSERT_STATEMENT_BYTES: at least two INSERTs.
      const params = { ms: 1, padding: 'x'.repeat(60_000) };
      const batch = Array.from({ length: 80 }, () => newTask({ params }));
      const existing = await inserted();
      const refused = [...batch.slice(0, 79), { ...batch[79], taskId: existing.taskId }];
      await expect(tasks.outbox.insertPendingBatch(refused)).rejects.toThrow(/Duplicate entry/);
      expect(await countOf(batch.map((task) => task.taskId))).toBe(0);

      await tasks.outbox.insertPendingBatch(batch);
      expect(await countOf(batch.map((task) => task.taskId))).toBe(80);
      expect((await row(batch[79].taskId)).params).toEqual(params);
    });

    it('does nothing for no tasks', async () => {
      await expect(tasks.outbox.insertPendingBatch([])).resolves.toEqual([]);
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
      await tasks.outbox.markDispatched([dispatched.taskId], at(1));
      const cancelledTask = await inserted({ createdAt: old() });
      await tasks.control.cancel(cancelledTask.taskId, at(2));
      const running = await inserted({ createdAt: old() });
      await claimed(running);
      // Released by a worker that shut down: back in the outbox, same retry.
      const released = await inserted({ createdAt: old(), maxRetries: 3 });
      await tasks.claims.releaseClaim(released.taskId, await claimed(released, 2));

      const published: TaskCommand[][] = [];
      const relayed = await tasks.outbox.relayOutbox(MIN_AGE_MS, 100, async (commands) => {
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
      expect(await tasks.outbox.relayOutbox(MIN_AGE_MS, 100, publish)).toBe(0);
      expect(publish).not.toHaveBeenCalled();

      // Once old enough, the young one goes too.
      expect(await tasks.outbox.relayOutbox(0, 100, publish)).toBe(1);
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

      expect(await tasks.outbox.relayOutbox(0, 2, publish)).toBe(2);
      expect(await tasks.outbox.relayOutbox(0, 2, publish)).toBe(1);
      expect(await tasks.outbox.relayOutbox(0, 2, publish)).toBe(0);
      expect(batches).toEqual([[tasksInOrder[0].taskId, tasksInOrder[1].taskId], [tasksInOrder[2].taskId]]);
    });

    it('leaves the tasks undispatched when publish throws (the transaction rolls back)', async () => {
      const a = await inserted({ createdAt: old() });
      const b = await inserted({ createdAt: old() });

      await expect(
        tasks.outbox.relayOutbox(0, 100, async () => {
          throw new Error('broker went away');
        }),
      ).rejects.toThrow('broker went away');
      for (const task of [a, b]) {
        expect((await delivery(task.taskId)).dispatched_at).toBeNull();
      }

      // The next run publishes them.
      const publish = jest.fn(async () => undefined);
      expect(await tasks.outbox.relayOutbox(0, 100, publish)).toBe(2);
      expect(publish).toHaveBeenCalledWith([commandOf(a), commandOf(b)]);
    });

    describe('with two relays (two connection pools)', () => {
      let otherDataSource: DataSource;
      let otherTasks: TaskRepositories;

      beforeAll(async () => {
        otherDataSource = new DataSource(dataSourceOptions({ url: db.url, poolSize: 2 }));
        await otherDataSource.initialize();
        otherTasks = createTaskRepositories(otherDataSource);
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
        const first = tasks.outbox.relayOutbox(0, 4, async (commands) => {
          firstBatch = commands.map((command) => command.task_id);
          locked.resolve();
          await release.promise; // hold the transaction (and the row locks) open
        });
        let secondBatch: string[] = [];
        let secondRelayed: number[] = [];
        try {
          await locked.promise;
          secondRelayed = [
            await otherTasks.outbox.relayOutbox(0, 100, async (commands) => {
              secondBatch = commands.map((command) => command.task_id);
            }),
            // While the first relay still holds its rows, the second finds nothing more.
            await otherTasks.outbox.relayOutbox(0, 100, async () => undefined),
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
        const relayUntilEmpty = async (repository: TaskRepositories) => {
          let total = 0;
          while ((await undispatched()) > 0) {
            total += await repository.outbox.relayOutbox(0, 3, async (commands) => {
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

  describe('scheduled tasks (run_at ahead): relayDue', () => {
    const inMs = (ms: number) => new Date(Date.now() + ms);
    const publishInto = (published: string[]) => async (commands: TaskCommand[]) => {
      published.push(...commands.map((command) => command.task_id));
    };

    beforeEach(async () => {
      await dataSource.query('DELETE FROM background_tasks');
    });

    it('keeps a task scheduled for later out of the outbox relay, and publishes it once due — the earliest due first', async () => {
      const later = await inserted({
        createdAt: new Date(Date.now() - 600_000),
        runAt: inMs(3_600_000),
        dueAt: inMs(3_600_000),
      });
      const dueSecond = await inserted({ runAt: inMs(-1_000), dueAt: inMs(-1_000) });
      const dueFirst = await inserted({ runAt: inMs(-5_000), dueAt: inMs(-5_000) });
      const cancelledTask = await inserted({ runAt: inMs(-5_000), dueAt: inMs(-5_000) });
      await tasks.control.cancel(cancelledTask.taskId, new Date());

      // The outbox relay takes only the tasks due at once (due_at NULL): none of these.
      const relayed: string[] = [];
      expect(await tasks.outbox.relayOutbox(0, 100, publishInto(relayed))).toBe(0);
      expect(relayed).toEqual([]);

      const published: string[] = [];
      // One at a time: the earliest due goes first.
      expect(await tasks.outbox.relayDue(1, publishInto(published))).toBe(1);
      expect(await tasks.outbox.relayDue(100, publishInto(published))).toBe(1);
      expect(published).toEqual([dueFirst.taskId, dueSecond.taskId]);
      expect((await delivery(dueFirst.taskId)).dispatched_at).not.toBeNull();
      // Not yet due, or cancelled: never published.
      expect((await delivery(later.taskId)).dispatched_at).toBeNull();
      expect((await delivery(cancelledTask.taskId)).dispatched_at).toBeNull();
      expect(await tasks.outbox.relayDue(100, publishInto(published))).toBe(0);
      expect(published).toHaveLength(2);

      const stored = await tasks.queries.findByTaskId(later.taskId);
      expect(stored?.runAt).toEqual(later.runAt);
    });

    it('publishes a task the moment its due_at passes, not before', async () => {
      const soon = await inserted({ runAt: inMs(700), dueAt: inMs(700) });
      const published: string[] = [];
      expect(await tasks.outbox.relayDue(100, publishInto(published))).toBe(0);
      await waitMs(900);
      expect(await tasks.outbox.relayDue(100, publishInto(published))).toBe(1);
      expect(published).toEqual([soon.taskId]);
    });

    it('leaves due tasks unpublished when publish throws, and in `limit`-sized batches', async () => {
      for (let i = 0; i < 3; i += 1) {
        await inserted({ runAt: inMs(-1_000 + i), dueAt: inMs(-1_000 + i) });
      }
      await expect(
        tasks.outbox.relayDue(100, async () => {
          throw new Error('broker went away');
        }),
      ).rejects.toThrow('broker went away');
      const published: string[] = [];
      expect(await tasks.outbox.relayDue(2, publishInto(published))).toBe(2);
      expect(await tasks.outbox.relayDue(2, publishInto(published))).toBe(1);
      expect(new Set(published).size).toBe(3);
    });
  });

  describe('insertPendingOnce (idempotency keys)', () => {
    const claim = (key: string, fingerprint = 'a'.repeat(64), scope = 'anonymous', expiresInMs = 3_600_000) => ({
      scope,
      key,
      fingerprint,
      expiresAt: new Date(Date.now() + expiresInMs),
    });
    const taskCount = async () =>
      Number(((await dataSource.query('SELECT COUNT(*) AS n FROM background_tasks')) as Array<{ n: number }>)[0].n);

    beforeEach(async () => {
      await dataSource.query('DELETE FROM background_tasks');
      await dataSource.query('DELETE FROM task_idempotency_keys');
      await dataSource.query('DELETE FROM background_task_events');
    });

    it('inserts a task under a new key, and returns that task for the same key again without inserting', async () => {
      const first = newTask({ idempotency: claim('order-1') });
      const [created] = await tasks.outbox.insertPendingOnce([first]);
      expect(created).toEqual({ created: true, task: first });

      const again = newTask({ idempotency: claim('order-1') });
      const [found] = await tasks.outbox.insertPendingOnce([again]);
      expect(found).toEqual({
        created: false,
        existing: { scope: 'anonymous', key: 'order-1', fingerprint: 'a'.repeat(64), taskId: first.taskId },
      });
      expect(await taskCount()).toBe(1);
      expect(await tasks.queries.findByTaskId(again.taskId)).toBeNull();
    });

    it("keeps two callers' keys apart, and tasks without keys are inserted as usual", async () => {
      const outcomes = await tasks.outbox.insertPendingOnce([
        newTask({ idempotency: claim('same', 'a'.repeat(64), 'key:aaaaaaaaaaaa') }),
        newTask({ idempotency: claim('same', 'b'.repeat(64), 'key:bbbbbbbbbbbb') }),
        newTask(),
      ]);
      expect(outcomes.map((outcome) => outcome.created)).toEqual([true, true, true]);
      expect(await taskCount()).toBe(3);
    });

    it('refuses the whole call when a live key stands for a different request: nothing is written', async () => {
      const first = newTask({ idempotency: claim('order-2', 'a'.repeat(64)) });
      await tasks.outbox.insertPendingOnce([first]);
      const fresh = newTask({ idempotency: claim('fresh') });
      const other = newTask({ idempotency: claim('order-2', 'b'.repeat(64)) });
      await expect(tasks.outbox.insertPendingOnce([fresh, other])).rejects.toEqual(
        expect.objectContaining({ name: 'IdempotencyKeyMismatch', index: 1 }),
      );
      expect(await taskCount()).toBe(1);
      expect(
        await dataSource.query("SELECT idempotency_key FROM task_idempotency_keys WHERE idempotency_key = 'fresh'"),
      ).toEqual([]);
    });

    it('an expired key enqueues anew (the old row is replaced)', async () => {
      const old = newTask({ idempotency: claim('order-3', 'a'.repeat(64), 'anonymous', -1_000) });
      await tasks.outbox.insertPendingOnce([old]);
      const renewed = newTask({ idempotency: claim('order-3', 'b'.repeat(64)) });
      const [outcome] = await tasks.outbox.insertPendingOnce([renewed]);
      expect(outcome.created).toBe(true);
      expect(
        await dataSource.query("SELECT task_id FROM task_idempotency_keys WHERE idempotency_key = 'order-3'"),
      ).toEqual([{ task_id: renewed.taskId }]);
      expect(await taskCount()).toBe(2);
    });

    it('of 16 concurrent duplicates, exactly one inserts and all get its task', async () => {
      const attempts = Array.from({ length: 16 }, () => newTask({ idempotency: claim('order-4') }));
      const outcomes = await Promise.all(attempts.map((task) => tasks.outbox.insertPendingOnce([task])));
      const created = outcomes.filter(([outcome]) => outcome.created);
      expect(created).toHaveLength(1);
      const winner = (created[0][0] as { task: NewTask }).task.taskId;
      for (const [outcome] of outcomes) {
        expect(outcome.created ? outcome.task.taskId : outcome.existing.taskId).toBe(winner);
      }
      expect(await taskCount()).toBe(1);
      expect(
        Number(
          (
            (await dataSource.query(
              "SELECT COUNT(*) AS n FROM background_task_events WHERE event = 'enqueued'",
            )) as Array<{ n: number }>
          )[0].n,
        ),
      ).toBe(1);
    });
  });
});
