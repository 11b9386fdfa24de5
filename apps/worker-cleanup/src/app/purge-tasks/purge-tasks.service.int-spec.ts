import { DataSource } from 'typeorm';
import { loadConfig } from '@tasklane/config';
import { TaskName, TaskStatus, TaskType, newTaskId } from '@tasklane/contracts';
import { TaskRetentionRepository, dataSourceOptions, migrateUp } from '@tasklane/persistence';
import { TestDatabase, createTestDatabase } from '@tasklane/testing';
import { CleanupWorkerEnv } from '../cleanup-worker.env';
import { PurgeTasksService } from './purge-tasks.service';

// Real services (database creation and migrations) need more than Jest's default 5 s.
jest.setTimeout(60_000);

const NOW = new Date('2026-01-15T12:00:00.000Z');
const MINUTE_MS = 60 * 1000;
const DAY_MS = 24 * 60 * MINUTE_MS;

function daysAgo(days: number, extraMs = 0): Date {
  return new Date(NOW.getTime() - days * DAY_MS - extraMs);
}

interface Seed {
  status: TaskStatus;
  createdAt: Date;
  startedAt?: Date | null;
  completedAt?: Date | null;
  retryCount?: number;
}

const FINISHED = [TaskStatus.Completed, TaskStatus.Failed, TaskStatus.Cancelled];

describe('PurgeTasksService (MariaDB)', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let service: PurgeTasksService;

  /** Inserts a row as the apps would have left it; returns its task_id. */
  async function seed(row: Seed): Promise<string> {
    const taskId = newTaskId();
    await dataSource.query(
      `INSERT INTO background_tasks
         (task_id, task_name, task_type, priority, status, params, retry_count, max_retries, created_at, started_at, completed_at)
       VALUES (?, ?, ?, 5, ?, ?, ?, 3, ?, ?, ?)`,
      [
        taskId,
        TaskName.DiagnosticSleep,
        TaskType.Cleanup,
        row.status,
        JSON.stringify({ ms: 1 }),
        row.retryCount ?? 0,
        row.createdAt,
        row.startedAt ?? null,
        row.completedAt ?? null,
      ],
    );
    return taskId;
  }

  /** A task that finished (in `status`) at `completedAt`. */
  function finished(status: TaskStatus, completedAt: Date): Promise<string> {
    return seed({
      status,
      createdAt: new Date(completedAt.getTime() - 2 * MINUTE_MS),
      startedAt: status === TaskStatus.Cancelled ? null : new Date(completedAt.getTime() - MINUTE_MS),
      completedAt,
    });
  }

  /** Tasks created long ago that have not finished: never purged, however old. */
  async function seedUnfinished(): Promise<string[]> {
    return [
      await seed({ status: TaskStatus.Pending, createdAt: daysAgo(400) }),
      await seed({ status: TaskStatus.Running, createdAt: daysAgo(400), startedAt: daysAgo(399) }),
      // Waiting for a retry: pending again after a failed attempt.
      await seed({ status: TaskStatus.Pending, createdAt: daysAgo(90), startedAt: daysAgo(90), retryCount: 2 }),
    ];
  }

  async function remaining(): Promise<string[]> {
    const rows = (await dataSource.query('SELECT task_id FROM background_tasks')) as Array<{ task_id: string }>;
    return rows.map((row) => row.task_id).sort();
  }

  function notAborted(): AbortSignal {
    return new AbortController().signal;
  }

  beforeAll(async () => {
    db = await createTestDatabase('purge_tasks');
    await migrateUp(db.url);
    dataSource = new DataSource(dataSourceOptions({ url: db.url, poolSize: 2 }));
    await dataSource.initialize();
    service = new PurgeTasksService(new TaskRetentionRepository(dataSource), loadConfig(CleanupWorkerEnv, {}));
  });

  beforeEach(async () => {
    await dataSource.query('DELETE FROM background_tasks');
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('deletes only tasks that finished before the cutoff, in every terminal status', async () => {
    const old = [
      await finished(TaskStatus.Completed, daysAgo(40)),
      await finished(TaskStatus.Completed, daysAgo(31)),
      await finished(TaskStatus.Completed, daysAgo(365)),
      await finished(TaskStatus.Failed, daysAgo(45)),
      await finished(TaskStatus.Failed, daysAgo(30, 1)), // one millisecond before the cutoff
      await finished(TaskStatus.Cancelled, daysAgo(60)),
      await finished(TaskStatus.Cancelled, daysAgo(33)),
    ];
    const kept = [
      ...(await Promise.all(FINISHED.map((status) => finished(status, daysAgo(1))))),
      await finished(TaskStatus.Completed, daysAgo(30)), // exactly at the cutoff: not older than it
      await finished(TaskStatus.Failed, daysAgo(29)),
      ...(await seedUnfinished()),
    ];

    const result = await service.purge({ older_than_days: 30, batch_size: 3 }, { signal: notAborted() }, NOW);

    expect(result).toEqual({ deleted: old.length, batches: 3, cutoff: daysAgo(30).toISOString() });
    expect(result.cutoff).toBe('2025-12-16T12:00:00.000Z');
    expect(await remaining()).toEqual([...kept].sort());

    // Nothing left to purge: a second run deletes nothing.
    expect(await service.purge({ older_than_days: 30, batch_size: 3 }, { signal: notAborted() }, NOW)).toEqual({
      deleted: 0,
      batches: 0,
      cutoff: daysAgo(30).toISOString(),
    });
    expect(await remaining()).toEqual([...kept].sort());
  });

  it.each([
    [7, 3, 3],
    [6, 3, 2],
    [5, 1, 5],
    [4, 10, 1],
    [0, 5, 0],
  ])('deletes %i old tasks with batch_size %i in %i batches', async (count, batchSize, batches) => {
    for (let index = 0; index < count; index += 1) {
      await finished(FINISHED[index % FINISHED.length], daysAgo(50, index * MINUTE_MS));
    }
    const kept = [await finished(TaskStatus.Completed, daysAgo(2)), ...(await seedUnfinished())];

    const statements: string[] = [];
    const query = dataSource.query.bind(dataSource);
    jest.spyOn(dataSource, 'query').mockImplementation((sql, ...args) => {
      statements.push(sql.trim().split(/\s+/).slice(0, 3).join(' '));
      return query(sql, ...args);
    });

    const result = await service.purge({ older_than_days: 7, batch_size: batchSize }, { signal: notAborted() }, NOW);

    expect(result).toEqual({ deleted: count, batches, cutoff: daysAgo(7).toISOString() });
    expect(batches).toBe(Math.ceil(count / batchSize));
    // One DELETE of tasks per batch (with the history and archived runs of the same tasks beside it).
    expect(statements.filter((statement) => statement === 'DELETE FROM background_tasks')).toHaveLength(batches);
    expect(await remaining()).toEqual([...kept].sort());
  });

  it("defaults to the worker's retention (CLEANUP_RETENTION_DAYS, 30) and batches of 1000", async () => {
    await finished(TaskStatus.Completed, daysAgo(31));
    await finished(TaskStatus.Failed, daysAgo(100));
    const kept = [await finished(TaskStatus.Cancelled, daysAgo(29)), ...(await seedUnfinished())];

    expect(await service.purge({}, { signal: notAborted() }, NOW)).toEqual({
      deleted: 2,
      batches: 1,
      cutoff: daysAgo(30).toISOString(),
    });
    expect(await remaining()).toEqual([...kept].sort());
  });

  it('with older_than_days 0 deletes every finished task but never a pending or running one', async () => {
    const justNow = new Date(NOW.getTime() - 1);
    await finished(TaskStatus.Completed, justNow);
    await finished(TaskStatus.Failed, daysAgo(0, MINUTE_MS));
    await finished(TaskStatus.Cancelled, daysAgo(10));
    await finished(TaskStatus.Completed, daysAgo(1_000));
    const unfinished = [
      ...(await seedUnfinished()),
      await seed({ status: TaskStatus.Pending, createdAt: justNow }),
      await seed({ status: TaskStatus.Running, createdAt: daysAgo(0, MINUTE_MS), startedAt: justNow }),
    ];

    const result = await service.purge({ older_than_days: 0, batch_size: 2 }, { signal: notAborted() }, NOW);

    expect(result).toEqual({ deleted: 4, batches: 2, cutoff: NOW.toISOString() });
    expect(await remaining()).toEqual([...unfinished].sort());
  });

  it('stops before deleting anything when the signal is already aborted', async () => {
    for (let index = 0; index < 4; index += 1) {
      await finished(TaskStatus.Completed, daysAgo(90));
    }
    const before = await remaining();
    const controller = new AbortController();
    controller.abort(new Error('worker shutting down'));

    await expect(
      service.purge({ older_than_days: 30, batch_size: 2 }, { signal: controller.signal }, NOW),
    ).rejects.toThrow('worker shutting down');
    expect(await remaining()).toEqual(before);
  });

  it('stops between batches when aborted during a purge, keeping the batches already deleted', async () => {
    const oldest = [await finished(TaskStatus.Completed, daysAgo(90)), await finished(TaskStatus.Failed, daysAgo(90))];
    const rest = [
      await finished(TaskStatus.Cancelled, daysAgo(90)),
      await finished(TaskStatus.Completed, daysAgo(90)),
      await finished(TaskStatus.Completed, daysAgo(90)),
    ];
    const controller = new AbortController();
    const query = dataSource.query.bind(dataSource);
    jest.spyOn(dataSource, 'query').mockImplementation(async (sql, ...args) => {
      const result = await query(sql, ...args);
      if (sql.trim().startsWith('DELETE')) {
        controller.abort(new Error('worker shutting down'));
      }
      return result;
    });

    await expect(
      service.purge({ older_than_days: 30, batch_size: 2 }, { signal: controller.signal }, NOW),
    ).rejects.toThrow('worker shutting down');
    // Batches go by id: the first two rows inserted were deleted, the others were not touched.
    const left = await remaining();
    expect(left).toEqual([...rest].sort());
    expect(left).not.toEqual(expect.arrayContaining([oldest[0]]));
    expect(left).not.toEqual(expect.arrayContaining([oldest[1]]));
  });
});
