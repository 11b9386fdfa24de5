import { DataSource } from 'typeorm';
import { TaskCommand, TaskEvent, TaskEventType, TaskName, TaskType, newTaskId } from '@tasklane/contracts';
import { TestDatabase, createTestDatabase } from '@tasklane/testing';
import { dataSourceOptions } from '../database/data-source.options';
import { migrateUp } from '../database/migrator';
import { BackgroundTask } from './background-task.entity';
import { NewTask } from './task-outbox.repository';
export type { Delivery } from '../testing/task-rows.fixture';
import { Delivery, commandOfTask, readDelivery, readTask } from '../testing/task-rows.fixture';
import { TaskRepositories, createTaskRepositories } from './task-repositories';

/*
 * What the integration specs of the task repositories share: a migrated database of their own,
 * the repositories on it, tasks and events to feed them, and reads of what the table then holds.
 */

export const T0 = Date.parse('2025-03-04T05:06:07.089Z');
/** A lease that never expires while this file runs. */
export const LEASE_MS = 600_000;
/** The generation of a task's first claim (a new row holds 0). */
export const FIRST_CLAIM = 1;
/** The `attempt` of a row nobody has claimed yet: events of that generation exercise the forward guard alone. */
export const UNCLAIMED = 0;

/** A timestamp `ms` after T0 (sub-second, so millisecond precision is exercised). */
export function at(ms: number): Date {
  return new Date(T0 + ms);
}

export function newTask(overrides: Partial<NewTask> = {}): NewTask {
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
export type EventFields = { retry_count?: number; occurred_at?: Date; attempt?: number };

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

export const started = (task: NewTask, fields: EventFields = {}): TaskEvent => ({
  event: TaskEventType.Started,
  ...base(task, fields),
});
export const succeeded = (task: NewTask, result: unknown, fields: EventFields = {}): TaskEvent => ({
  event: TaskEventType.Succeeded,
  ...base(task, fields),
  result,
});
export const failed = (task: NewTask, errorMessage: string, fields: EventFields = {}): TaskEvent => ({
  event: TaskEventType.Failed,
  ...base(task, fields),
  error_message: errorMessage,
});
export const retrying = (task: NewTask, errorMessage: string, fields: EventFields = {}): TaskEvent => ({
  event: TaskEventType.Retrying,
  ...base(task, fields),
  error_message: errorMessage,
  delay_ms: 1_000,
});
export const cancelled = (task: NewTask, fields: EventFields = {}): TaskEvent => ({
  event: TaskEventType.Cancelled,
  ...base(task, fields),
});

export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

/** The database, data source and repositories of one spec file, and helpers reading and writing through them. */
export interface TaskRepositoriesFixture {
  readonly db: TestDatabase;
  readonly dataSource: DataSource;
  readonly tasks: TaskRepositories;
  /** The row of a task; fails the test if it does not exist. */
  row(taskId: string): Promise<BackgroundTask>;
  /** The delivery columns of a task (migration 003). */
  delivery(taskId: string): Promise<Delivery>;
  /** Inserts a pending task (of {@link newTask} with `overrides`). */
  inserted(overrides?: Partial<NewTask>): Promise<NewTask>;
  /** Claims retry `retryCount` of a task with a long lease; fails the test if it is not claimable. */
  claimed(task: NewTask, retryCount?: number, startedAt?: Date): Promise<number>;
  /** Moves a running task's lease to `secondsAgo` seconds in the past, as if its worker had died then. */
  expireLease(taskId: string, secondsAgo: number): Promise<void>;
  /** The command of retry `retryCount` of a task. */
  commandOf(task: NewTask, retryCount?: number): TaskCommand;
}

/**
 * Creates a database named after `label` for the calling spec file (in `beforeAll`), migrates it
 * and opens the repositories on it; drops it in `afterAll`. Call it at the top of a `describe`.
 */
export function useTaskRepositories(label: string): TaskRepositoriesFixture {
  let db: TestDatabase | undefined;
  let dataSource: DataSource | undefined;
  let tasks: TaskRepositories | undefined;
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) {
      throw new Error(`${what} is only there once beforeAll has run`);
    }
    return value;
  };

  beforeAll(async () => {
    db = await createTestDatabase(label);
    await migrateUp(db.url);
    dataSource = new DataSource(dataSourceOptions({ url: db.url, poolSize: 2 }));
    await dataSource.initialize();
    tasks = createTaskRepositories(dataSource);
  });

  afterAll(async () => {
    if (dataSource?.isInitialized) {
      await dataSource.destroy();
    }
    await db?.drop();
  });

  function row(taskId: string): Promise<BackgroundTask> {
    return readTask(fixture.tasks.queries, taskId);
  }

  function delivery(taskId: string): Promise<Delivery> {
    return readDelivery(fixture.dataSource, taskId);
  }

  async function inserted(overrides: Partial<NewTask> = {}): Promise<NewTask> {
    const task = newTask(overrides);
    await fixture.tasks.outbox.insertPending(task);
    return task;
  }

  /** Claims retry `retryCount` of a task with a long lease; fails the test if it is not claimable. */
  async function claimed(task: NewTask, retryCount = 0, startedAt = at(100)): Promise<number> {
    const attempt = await fixture.tasks.claims.claim(task.taskId, retryCount, startedAt, LEASE_MS);
    if (attempt === null) {
      throw new Error(`task ${task.taskId} could not be claimed`);
    }
    return attempt;
  }

  /** Moves a running task's lease to `secondsAgo` seconds in the past, as if its worker had died then. */
  async function expireLease(taskId: string, secondsAgo: number): Promise<void> {
    await fixture.dataSource.query(
      'UPDATE background_tasks SET lease_expires_at = DATE_SUB(UTC_TIMESTAMP(3), INTERVAL ? SECOND) WHERE task_id = ?',
      [secondsAgo, taskId],
    );
  }

  const fixture: TaskRepositoriesFixture = {
    get db() {
      return ready(db, 'the database');
    },
    get dataSource() {
      return ready(dataSource, 'the data source');
    },
    get tasks() {
      return ready(tasks, 'the repositories');
    },
    row,
    delivery,
    inserted,
    claimed,
    expireLease,
    commandOf: commandOfTask,
  };
  return fixture;
}

export function waitMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
