import { DataSource } from 'typeorm';
import { TASK_STATUSES, TASK_TYPES, TaskStatus, TaskType } from '@tasklane/contracts';
import { TestDatabase } from '@tasklane/testing';
import { dataSourceOptions } from '../database/data-source.options';
import { recountTaskCounts } from '../database/migrator';
import { TaskFilter } from './task-query.repository';
import { TaskRepositories, createTaskRepositories } from './task-repositories';
import { LEASE_MS, at, newTask, succeeded, failed, retrying, useTaskRepositories } from './task-repositories.fixture';

// Real services (database set-up, migrations) need more than Jest's default 5 s.
jest.setTimeout(30_000);

describe('TaskCountRepository (MariaDB)', () => {
  const fixture = useTaskRepositories('repository_counts');
  const { inserted } = fixture;
  let db: TestDatabase;
  let dataSource: DataSource;
  let tasks: TaskRepositories;

  beforeAll(() => {
    ({ db, dataSource, tasks } = fixture);
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
      return Promise.all(FILTERS.map((filter) => repository.counts.count(filter)));
    }

    async function foldAll(repository = tasks): Promise<void> {
      while ((await repository.counts.foldCountChanges(1_000)) === 1_000) {
        // until the journal is empty
      }
    }

    it('counts every filter exactly through every kind of write, before, during and after folding', async () => {
      await foldAll();
      expect(await tasks.counts.pendingCountChanges()).toBe(0);
      expect(await counted()).toEqual(await scanned());

      const batch = TASK_TYPES.flatMap((taskType) => [newTask({ taskType }), newTask({ taskType })]);
      await tasks.outbox.insertPendingBatch(batch);
      const [a, b, c, d, e, f, g] = batch;
      const claims = await tasks.claims.claimMany(
        [a, b, c, d, e].map((task) => ({ taskId: task.taskId, retryCount: 0 })),
        LEASE_MS,
      );
      const attempt = (index: number) => claims[index]?.attempt ?? -1;
      await tasks.events.applyEvents([
        succeeded(a, { ok: true }, { attempt: attempt(0) }),
        failed(b, 'boom', { attempt: attempt(1) }),
        retrying(c, 'again', { attempt: attempt(2), retry_count: 0 }),
      ]);
      await tasks.control.cancel(d.taskId, at(10));
      await tasks.control.cancel(f.taskId, at(10));
      await tasks.control.requeueFinished(b.taskId, at(20));
      await tasks.claims.releaseClaim(e.taskId, attempt(4));
      await dataSource.query('DELETE FROM background_tasks WHERE task_id = ?', [g.taskId]);
      await dataSource.query('UPDATE background_tasks SET task_type = ? WHERE task_id = ?', [
        TaskType.Analytics,
        a.taskId,
      ]);

      expect(await tasks.counts.pendingCountChanges()).toBeGreaterThan(batch.length);
      const truth = await scanned();
      expect(await counted()).toEqual(truth);
      // Folded a few changes at a time: exact after every fold.
      while ((await tasks.counts.foldCountChanges(3)) > 0) {
        expect(await counted()).toEqual(truth);
      }
      expect(await tasks.counts.pendingCountChanges()).toBe(0);
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
        const before = await tasks.counts.count({ taskType: TaskType.Cleanup, status: TaskStatus.Pending });

        let folded: number | null = null;
        const folding = tasks.counts.foldCountChanges(1_000).then((n) => (folded = n));
        await new Promise((done) => setTimeout(done, 300));
        // Blocked behind the uncommitted row; counts meanwhile stay exact and never wait.
        expect(folded).toBeNull();
        expect(await tasks.counts.count({ taskType: TaskType.Cleanup, status: TaskStatus.Pending })).toBe(before);

        await writer.commitTransaction();
        await folding;
        expect(folded).toBe(3);
        expect(await tasks.counts.count({ taskType: TaskType.Cleanup, status: TaskStatus.Pending })).toBe(before + 1);
        expect(await tasks.counts.pendingCountChanges()).toBe(0);
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
        const otherTasks = createTaskRepositories(other);
        let writing = true;
        const folder = async (repository: TaskRepositories): Promise<number> => {
          let folded = 0;
          while (writing) {
            folded += await repository.counts.foldCountChanges(7);
          }
          return folded;
        };
        const writer = async (repository: TaskRepositories, rounds: number): Promise<void> => {
          for (let round = 0; round < rounds; round += 1) {
            const group = TASK_TYPES.map((taskType) => newTask({ taskType }));
            await repository.outbox.insertPendingBatch(group);
            const won = await repository.claims.claimMany(
              group.slice(0, 3).map((task) => ({ taskId: task.taskId, retryCount: 0 })),
              LEASE_MS,
            );
            await repository.events.applyEvents([
              succeeded(group[0], null, { attempt: won[0]?.attempt ?? -1 }),
              failed(group[1], 'x', { attempt: won[1]?.attempt ?? -1 }),
            ]);
            await repository.control.cancel(group[3].taskId, at(5));
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

  it('countsByTypeAndStatus: every non-empty cell, exact before and after a fold, equal to count()', async () => {
    await dataSource.query('DELETE FROM background_tasks');
    await tasks.counts.foldCountChanges(100_000);
    const email = await inserted({ taskType: TaskType.Email });
    await inserted({ taskType: TaskType.Email });
    const report = await inserted({ taskType: TaskType.Report });
    await fixture.claimed(report);
    await tasks.control.cancel(email.taskId, at(5));
    const expected = [
      { taskType: TaskType.Email, status: TaskStatus.Cancelled, count: 1 },
      { taskType: TaskType.Email, status: TaskStatus.Pending, count: 1 },
      { taskType: TaskType.Report, status: TaskStatus.Running, count: 1 },
    ];
    expect(await tasks.counts.countsByTypeAndStatus()).toEqual(expected);
    await tasks.counts.foldCountChanges(100_000);
    expect(await tasks.counts.countsByTypeAndStatus()).toEqual(expected);
    for (const cell of expected) {
      expect(await tasks.counts.count({ taskType: cell.taskType, status: cell.status })).toBe(cell.count);
    }
  });
});
