import { Connection, RowDataPacket, createConnection } from 'mysql2/promise';
import { TestDatabase, createTestDatabase } from '@tasklane/testing';
import { migrateDown, migrateUp, recountTaskCounts } from './migrator';

// Real services (rabbitmqctl, vhost and database set-up) need more than Jest's default 5 s.
jest.setTimeout(30_000);

const TABLE_MIGRATION = 'AddBackgroundTasksTable0000000000002';
const DELIVERY_MIGRATION = 'AddTaskDeliveryColumns0000000000003';
const CONTROL_MIGRATION = 'AddTaskControlColumns0000000000004';
const LIST_MIGRATION = 'AddTaskListIndexes0000000000005';
const COUNTS_MIGRATION = 'AddTaskCounts0000000000006';
const REDISPATCH_MIGRATION = 'AddRedispatchColumns0000000000007';
const ORDER_MIGRATION = 'OrderTaskListsByCreatedAt0000000000008';
const EVENTS_MIGRATION = 'AddTaskEvents0000000000009';
const DELAY_MIGRATION = 'AddDelayedTasksAndIdempotencyKeys0000000000010';
const SCHEDULES_MIGRATION = 'AddTaskSchedules0000000000011';
const PROGRESS_MIGRATION = 'AddTaskProgress0000000000012';
const FAIRNESS_MIGRATION = 'AddFairness0000000000013';
const OVERLAP_MIGRATION = 'AddScheduleOverlapPolicy0000000000014';
const MIGRATIONS = [
  TABLE_MIGRATION,
  DELIVERY_MIGRATION,
  CONTROL_MIGRATION,
  LIST_MIGRATION,
  COUNTS_MIGRATION,
  REDISPATCH_MIGRATION,
  ORDER_MIGRATION,
  EVENTS_MIGRATION,
  DELAY_MIGRATION,
  SCHEDULES_MIGRATION,
  PROGRESS_MIGRATION,
  FAIRNESS_MIGRATION,
  OVERLAP_MIGRATION,
];
const COUNT_TRIGGERS = [
  'trg_background_tasks_count_delete',
  'trg_background_tasks_count_insert',
  'trg_background_tasks_count_update',
];
const DELIVERY_COLUMNS = ['attempt', 'lease_expires_at', 'dispatched_at'];
const CONTROL_COLUMNS = ['timeout_ms', 'run'];
const DELIVERY_INDEXES = ['idx_background_tasks_dispatched_at', 'idx_background_tasks_status_lease'];
const TASK_ID = '0190a0b0-0000-7000-8000-000000000001';
const OTHER_TASK_ID = '0190a0b0-0000-7000-8000-000000000002';
const NEW_TASK_ID = '0190a0b0-0000-7000-8000-000000000003';

async function withConnection<T>(url: string, work: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = await createConnection(url);
  try {
    return await work(connection);
  } finally {
    await connection.end();
  }
}

async function rows<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  return withConnection(url, async (connection) => {
    const [result] = await connection.query<RowDataPacket[]>(sql, params);
    return result as T[];
  });
}

async function databaseExists(db: TestDatabase): Promise<boolean> {
  const server = new URL(db.url);
  server.pathname = '/';
  const found = await rows<{ name: string }>(
    server.toString(),
    'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
    [db.name],
  );
  return found.length === 1;
}

async function tableExists(db: TestDatabase, table: string): Promise<boolean> {
  const found = await rows(
    db.url,
    'SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [db.name, table],
  );
  return found.length === 1;
}

async function columnNames(db: TestDatabase, table = 'background_tasks'): Promise<string[]> {
  const found = await rows<{ name: string }>(
    db.url,
    `SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [db.name, table],
  );
  return found.map((column) => column.name);
}

async function indexNames(db: TestDatabase, table = 'background_tasks'): Promise<string[]> {
  const found = await rows<{ name: string }>(
    db.url,
    `SELECT DISTINCT INDEX_NAME AS name FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME`,
    [db.name, table],
  );
  return found.map((index) => index.name);
}

async function triggerNames(db: TestDatabase): Promise<string[]> {
  const found = await rows<{ name: string }>(
    db.url,
    'SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY TRIGGER_NAME',
    [db.name],
  );
  return found.map((trigger) => trigger.name);
}

interface CountRow {
  task_type: string;
  status: string;
  n: number;
}

/** The folded counts, and what a scan of background_tasks says they should be. */
async function countsAndScan(db: TestDatabase): Promise<{ counts: CountRow[]; scan: CountRow[] }> {
  const read = async (sql: string) =>
    (await rows<CountRow>(db.url, sql)).map((row) => ({ ...row, n: Number(row.n) })).filter((row) => row.n !== 0);
  return {
    counts: await read('SELECT task_type, status, n FROM background_task_counts ORDER BY task_type, status'),
    scan: await read(
      'SELECT task_type, status, COUNT(*) AS n FROM background_tasks GROUP BY task_type, status ORDER BY task_type, status',
    ),
  };
}

async function appliedMigrations(db: TestDatabase): Promise<string[]> {
  const applied = await rows<{ name: string }>(db.url, 'SELECT name FROM tasklane_migrations ORDER BY timestamp');
  return applied.map((row) => row.name);
}

describe('migrator (MariaDB)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('migrator');
    // Start from a missing database: migrateUp must create it.
    await db.drop();
  });

  afterAll(async () => {
    await db.drop();
  });

  it('creates the missing database and applies the migrations in order', async () => {
    expect(await databaseExists(db)).toBe(false);

    await expect(migrateUp(db.url)).resolves.toEqual(MIGRATIONS);

    expect(await databaseExists(db)).toBe(true);
    expect(await tableExists(db, 'background_tasks')).toBe(true);
    const charset = await rows<{ collation: string }>(
      db.url,
      'SELECT DEFAULT_COLLATION_NAME AS collation FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
      [db.name],
    );
    expect(charset[0].collation).toBe('utf8mb4_unicode_ci');
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS);
  });

  it('creates background_tasks with the expected columns', async () => {
    const columns = await rows<{
      name: string;
      dataType: string;
      columnType: string;
      nullable: string;
      precision: number | null;
      columnDefault: string | null;
    }>(
      db.url,
      `SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType, IS_NULLABLE AS nullable,
              DATETIME_PRECISION AS \`precision\`, COLUMN_DEFAULT AS columnDefault
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'background_tasks'
        ORDER BY ORDINAL_POSITION`,
      [db.name],
    );
    const byName = new Map(columns.map((column) => [column.name, column]));
    expect(columns.map((column) => column.name)).toEqual([
      'id',
      'task_id',
      'task_name',
      'task_type',
      'priority',
      'status',
      'params',
      'result',
      'error_message',
      'retry_count',
      'max_retries',
      'timeout_ms',
      'attempt',
      'run',
      'created_at',
      'started_at',
      'completed_at',
      'lease_expires_at',
      'dispatched_at',
      'due_at',
      'run_at',
      'progress',
      'progress_message',
    ]);
    expect(byName.get('progress')).toMatchObject({ columnType: 'tinyint(3) unsigned', nullable: 'YES' });
    expect(byName.get('progress_message')).toMatchObject({ columnType: 'varchar(255)', nullable: 'YES' });
    expect(byName.get('due_at')).toMatchObject({ columnType: 'datetime(3)', nullable: 'YES' });
    expect(byName.get('run_at')).toMatchObject({ columnType: 'datetime(3)', nullable: 'YES' });
    expect(byName.get('id')).toMatchObject({ columnType: 'bigint(20) unsigned', nullable: 'NO' });
    expect(byName.get('task_id')).toMatchObject({ columnType: 'char(36)', nullable: 'NO' });
    expect(byName.get('priority')).toMatchObject({
      columnType: 'tinyint(3) unsigned',
      nullable: 'NO',
      columnDefault: '5',
    });
    expect(byName.get('status')).toMatchObject({
      columnType: 'varchar(16)',
      nullable: 'NO',
      columnDefault: "'pending'",
    });
    expect(byName.get('retry_count')).toMatchObject({ nullable: 'NO', columnDefault: '0' });
    expect(byName.get('max_retries')).toMatchObject({ nullable: 'NO', columnDefault: '3' });
    expect(byName.get('error_message')).toMatchObject({ dataType: 'text', nullable: 'YES' });
    // MariaDB stores JSON as LONGTEXT with a JSON_VALID check; MySQL reports `json`.
    expect(['json', 'longtext']).toContain(byName.get('params')?.dataType);
    expect(byName.get('params')?.nullable).toBe('YES');
    expect(byName.get('result')?.nullable).toBe('YES');
    for (const name of ['created_at', 'started_at', 'completed_at']) {
      expect(byName.get(name)).toMatchObject({ dataType: 'datetime', precision: 3 });
    }
    expect(byName.get('created_at')?.nullable).toBe('NO');
    expect(byName.get('started_at')?.nullable).toBe('YES');
    expect(byName.get('completed_at')?.nullable).toBe('YES');
    // 003: the claim generation (fencing token), the lease and the outbox marker.
    expect(byName.get('attempt')).toMatchObject({ columnType: 'int(10) unsigned', nullable: 'NO', columnDefault: '0' });
    for (const name of ['lease_expires_at', 'dispatched_at']) {
      expect(byName.get(name)).toMatchObject({ dataType: 'datetime', precision: 3, nullable: 'YES' });
      expect([null, 'NULL']).toContain(byName.get(name)?.columnDefault);
    }
    // 004: the timeout of one attempt (NULL: the catalogue default) and the run (1, +1 per POST /retry).
    expect(byName.get('timeout_ms')).toMatchObject({ columnType: 'int(10) unsigned', nullable: 'YES' });
    expect([null, 'NULL']).toContain(byName.get('timeout_ms')?.columnDefault);
    expect(byName.get('run')).toMatchObject({ columnType: 'int(10) unsigned', nullable: 'NO', columnDefault: '1' });
  });

  it('creates background_task_runs (004) with the expected columns and the unique (task_id, run)', async () => {
    expect(await tableExists(db, 'background_task_runs')).toBe(true);
    const columns = await rows<{ name: string; columnType: string; nullable: string; precision: number | null }>(
      db.url,
      `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS columnType, IS_NULLABLE AS nullable, DATETIME_PRECISION AS \`precision\`
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'background_task_runs'
        ORDER BY ORDINAL_POSITION`,
      [db.name],
    );
    const byName = new Map(columns.map((column) => [column.name, column]));
    expect(columns.map((column) => column.name)).toEqual([
      'id',
      'task_id',
      'run',
      'status',
      'retry_count',
      'result',
      'error_message',
      'started_at',
      'completed_at',
      'archived_at',
    ]);
    expect(byName.get('id')).toMatchObject({ columnType: 'bigint(20) unsigned', nullable: 'NO' });
    expect(byName.get('task_id')).toMatchObject({ columnType: 'char(36)', nullable: 'NO' });
    expect(byName.get('run')).toMatchObject({ columnType: 'int(10) unsigned', nullable: 'NO' });
    expect(byName.get('status')).toMatchObject({ columnType: 'varchar(16)', nullable: 'NO' });
    expect(byName.get('retry_count')).toMatchObject({ columnType: 'tinyint(3) unsigned', nullable: 'NO' });
    expect(byName.get('result')?.nullable).toBe('YES');
    expect(byName.get('error_message')).toMatchObject({ columnType: 'text', nullable: 'YES' });
    for (const name of ['started_at', 'completed_at']) {
      expect(byName.get(name)).toMatchObject({ precision: 3, nullable: 'YES' });
    }
    expect(byName.get('archived_at')).toMatchObject({ precision: 3, nullable: 'NO' });

    const entries = await rows<{ name: string; nonUnique: number; column: string }>(
      db.url,
      `SELECT INDEX_NAME AS name, NON_UNIQUE AS nonUnique, COLUMN_NAME AS \`column\`
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'background_task_runs'
        ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
      [db.name],
    );
    const indexes: Record<string, { unique: boolean; columns: string[] }> = {};
    for (const entry of entries) {
      indexes[entry.name] ??= { unique: Number(entry.nonUnique) === 0, columns: [] };
      indexes[entry.name].columns.push(entry.column);
    }
    expect(indexes).toEqual({
      PRIMARY: { unique: true, columns: ['id'] },
      uq_background_task_runs_task_run: { unique: true, columns: ['task_id', 'run'] },
    });
  });

  it('enforces the unique (task_id, run) and the status check of background_task_runs', async () => {
    await withConnection(db.url, async (connection) => {
      const archive = (taskId: string, run: number, status = 'failed') =>
        connection.query(
          `INSERT INTO background_task_runs (task_id, run, status, retry_count, archived_at)
           VALUES (?, ?, ?, 0, UTC_TIMESTAMP(3))`,
          [taskId, run, status],
        );
      await archive(TASK_ID, 1);
      await archive(TASK_ID, 2, 'cancelled');
      await archive(OTHER_TASK_ID, 1);
      await expect(archive(TASK_ID, 1, 'cancelled')).rejects.toEqual(expect.objectContaining({ code: 'ER_DUP_ENTRY' }));
      await expect(archive(NEW_TASK_ID, 1, 'bogus')).rejects.toEqual(
        expect.objectContaining({ message: expect.stringMatching(/CONSTRAINT .*chk_background_task_runs_status/) }),
      );
      const [stored] = await connection.query<RowDataPacket[]>(
        'SELECT task_id, run, status FROM background_task_runs ORDER BY id',
      );
      expect(stored.map((entry) => [entry['task_id'], entry['run'], entry['status']])).toEqual([
        [TASK_ID, 1, 'failed'],
        [TASK_ID, 2, 'cancelled'],
        [OTHER_TASK_ID, 1, 'failed'],
      ]);
      await connection.query('DELETE FROM background_task_runs');
    });
  });

  it('creates the unique task_id key and the named indexes', async () => {
    const entries = await rows<{ name: string; nonUnique: number; column: string }>(
      db.url,
      `SELECT INDEX_NAME AS name, NON_UNIQUE AS nonUnique, COLUMN_NAME AS \`column\`
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'background_tasks'
        ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
      [db.name],
    );
    const indexes: Record<string, { unique: boolean; columns: string[] }> = {};
    for (const entry of entries) {
      indexes[entry.name] ??= { unique: Number(entry.nonUnique) === 0, columns: [] };
      indexes[entry.name].columns.push(entry.column);
    }
    expect(indexes).toEqual({
      PRIMARY: { unique: true, columns: ['id'] },
      uq_background_tasks_task_id: { unique: true, columns: ['task_id'] },
      idx_background_tasks_priority: { unique: false, columns: ['priority'] },
      idx_background_tasks_status_priority: { unique: false, columns: ['status', 'priority'] },
      idx_background_tasks_task_type_status: { unique: false, columns: ['task_type', 'status'] },
      idx_background_tasks_created_at: { unique: false, columns: ['created_at'] },
      idx_background_tasks_status_completed_at: { unique: false, columns: ['status', 'completed_at'] },
      // 010 (replacing 003's (dispatched_at)): the outbox and due relays, re-dispatch
      idx_background_tasks_dispatched_due: { unique: false, columns: ['dispatched_at', 'due_at'] },
      idx_background_tasks_task_type_status_dispatched: {
        unique: false,
        columns: ['task_type', 'status', 'dispatched_at'],
      },
      idx_background_tasks_status_lease: { unique: false, columns: ['status', 'lease_expires_at'] },
      // 008 (replacing 002's (status) and 005's (task_type, id)): the lists, newest created first
      idx_background_tasks_status_created_at: { unique: false, columns: ['status', 'created_at'] },
      idx_background_tasks_task_type_created_at: { unique: false, columns: ['task_type', 'created_at'] },
      idx_background_tasks_task_type_status_created_at: {
        unique: false,
        columns: ['task_type', 'status', 'created_at'],
      },
      // 013: aging, one range per priority below the top
      idx_background_tasks_task_type_status_priority_dispatched: {
        unique: false,
        columns: ['task_type', 'status', 'priority', 'dispatched_at'],
      },
    });
  });

  it('enforces the CHECK constraints and the unique task_id', async () => {
    await withConnection(db.url, async (connection) => {
      const insert = (taskId: string, priority: number, status: string, retryCount = 0, maxRetries = 3) =>
        connection.query(
          `INSERT INTO background_tasks (task_id, task_name, task_type, priority, status, retry_count, max_retries)
           VALUES (?, 'diagnostic.sleep', 'email', ?, ?, ?, ?)`,
          [taskId, priority, status, retryCount, maxRetries],
        );
      const violation = expect.objectContaining({
        message: expect.stringMatching(/CONSTRAINT .*chk_background_tasks_priority/),
      });
      await expect(insert(TASK_ID, 11, 'pending')).rejects.toEqual(violation);
      await expect(insert(TASK_ID, 0, 'pending')).rejects.toEqual(violation);
      await expect(insert(TASK_ID, 5, 'bogus')).rejects.toEqual(
        expect.objectContaining({ message: expect.stringMatching(/CONSTRAINT .*chk_background_tasks_status/) }),
      );
      await expect(insert(TASK_ID, 5, 'pending', 4, 3)).rejects.toEqual(
        expect.objectContaining({ message: expect.stringMatching(/CONSTRAINT .*chk_background_tasks_retries/) }),
      );
      await expect(insert(TASK_ID, 5, 'pending', 0, 11)).rejects.toEqual(
        expect.objectContaining({ message: expect.stringMatching(/CONSTRAINT .*chk_background_tasks_retries/) }),
      );

      await insert(TASK_ID, 10, 'pending');
      await expect(insert(TASK_ID, 1, 'pending')).rejects.toEqual(expect.objectContaining({ code: 'ER_DUP_ENTRY' }));

      const [stored] = await connection.query<RowDataPacket[]>(
        'SELECT priority, status, created_at FROM background_tasks WHERE task_id = ?',
        [TASK_ID],
      );
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({ priority: 10, status: 'pending' });
      await connection.query('DELETE FROM background_tasks');
    });
  });

  it('applies nothing when run a second time', async () => {
    await expect(migrateUp(db.url)).resolves.toEqual([]);
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS);
  });

  it('014 adds overlap_policy, allow for the schedules there, skip or allow only; migrateDown reverts 014 only', async () => {
    expect(await rows(db.url, 'SELECT name, overlap_policy FROM task_schedules')).toEqual([
      { name: 'cleanup-retention', overlap_policy: 'allow' },
    ]);
    await withConnection(db.url, async (connection) => {
      await expect(connection.query("UPDATE task_schedules SET overlap_policy = 'sometimes'")).rejects.toThrow(
        /chk_task_schedules_overlap_policy/,
      );
    });
    await expect(migrateDown(db.url)).resolves.toBe(OVERLAP_MIGRATION);
    expect(await columnNames(db, 'task_schedules')).not.toContain('overlap_policy');
    await expect(migrateUp(db.url)).resolves.toEqual([OVERLAP_MIGRATION]);
    expect(await rows(db.url, 'SELECT overlap_policy FROM task_schedules')).toEqual([{ overlap_policy: 'allow' }]);
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS);
  });

  it('013 adds the aging index and task_type_limits and drops the history event CHECK; migrateDown reverts 013 only', async () => {
    expect(await indexNames(db)).toContain('idx_background_tasks_task_type_status_priority_dispatched');
    expect(await tableExists(db, 'task_type_limits')).toBe(true);
    await withConnection(db.url, (connection) =>
      connection.query(
        `INSERT INTO background_task_events (task_id, event, run, attempt, retry_count, occurred_at)
         VALUES (?, 'aged', 1, 0, 0, UTC_TIMESTAMP(3)), (?, 'redispatched', 1, 0, 0, UTC_TIMESTAMP(3))`,
        [TASK_ID, TASK_ID],
      ),
    );
    await expect(migrateDown(db.url)).resolves.toBe(OVERLAP_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(FAIRNESS_MIGRATION);
    expect(await indexNames(db)).not.toContain('idx_background_tasks_task_type_status_priority_dispatched');
    expect(await tableExists(db, 'task_type_limits')).toBe(false);
    // The aged rows go with the event; the others stay, and 'aged' is refused again.
    expect(await rows(db.url, 'SELECT event FROM background_task_events')).toEqual([{ event: 'redispatched' }]);
    await withConnection(db.url, async (connection) => {
      await expect(
        connection.query(
          `INSERT INTO background_task_events (task_id, event, run, attempt, retry_count, occurred_at)
           VALUES (?, 'aged', 1, 0, 0, UTC_TIMESTAMP(3))`,
          [TASK_ID],
        ),
      ).rejects.toThrow(/chk_background_task_events_event/);
    });
    await expect(migrateUp(db.url)).resolves.toEqual([FAIRNESS_MIGRATION, OVERLAP_MIGRATION]);
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS);
    await withConnection(db.url, (connection) => connection.query('DELETE FROM background_task_events'));
  });

  it('012 adds progress and progress_message, empty for the rows there; migrateDown reverts 012 only', async () => {
    await withConnection(db.url, (connection) =>
      connection.query(
        `INSERT INTO background_tasks (task_id, task_name, task_type, status, created_at)
         VALUES (?, 'diagnostic.sleep', 'email', 'running', UTC_TIMESTAMP(3))`,
        [TASK_ID],
      ),
    );
    expect(await rows(db.url, 'SELECT progress, progress_message FROM background_tasks')).toEqual([
      { progress: null, progress_message: null },
    ]);
    await expect(migrateDown(db.url)).resolves.toBe(OVERLAP_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(FAIRNESS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(PROGRESS_MIGRATION);
    expect(await columnNames(db)).not.toEqual(expect.arrayContaining(['progress']));
    expect(await columnNames(db)).not.toEqual(expect.arrayContaining(['progress_message']));
    await expect(migrateUp(db.url)).resolves.toEqual([PROGRESS_MIGRATION, FAIRNESS_MIGRATION, OVERLAP_MIGRATION]);
    expect(await columnNames(db)).toEqual(expect.arrayContaining(['progress', 'progress_message']));
    expect(await rows(db.url, 'SELECT task_id FROM background_tasks')).toEqual([{ task_id: TASK_ID }]);
    await withConnection(db.url, (connection) => connection.query('DELETE FROM background_tasks'));
  });

  it('011 creates task_schedules with the cleanup retention schedule; migrateDown reverts 011 only', async () => {
    expect(await indexNames(db, 'task_schedules')).toEqual(
      expect.arrayContaining([
        'PRIMARY',
        'uq_task_schedules_schedule_id',
        'uq_task_schedules_name',
        'idx_task_schedules_next_run_at',
      ]),
    );
    const [retention] = await rows<{
      name: string;
      cron: string;
      task_name: string;
      enabled: number;
      next_run_at: Date;
    }>(db.url, 'SELECT name, cron, task_name, enabled, next_run_at FROM task_schedules');
    expect(retention).toMatchObject({
      name: 'cleanup-retention',
      cron: '0 3 * * *',
      task_name: 'cleanup.purge_tasks',
      enabled: 1,
    });
    expect(retention.next_run_at.getTime()).toBeGreaterThan(Date.now());
    await withConnection(db.url, async (connection) => {
      await expect(
        connection.query(
          `INSERT INTO task_schedules (schedule_id, name, cron, timezone, missed_policy, enabled, task_name, task_type,
             params, priority, max_retries, timeout_ms, created_at, updated_at)
           VALUES (?, 'x', '* * * * *', 'UTC', 'sometimes', 1, 'diagnostic.sleep', 'cleanup', '{}', 5, 3, 1000,
             UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))`,
          [OTHER_TASK_ID],
        ),
      ).rejects.toThrow(/chk_task_schedules_missed_policy/);
    });

    await expect(migrateDown(db.url)).resolves.toBe(OVERLAP_MIGRATION);

    await expect(migrateDown(db.url)).resolves.toBe(FAIRNESS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(PROGRESS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(SCHEDULES_MIGRATION);
    expect(await tableExists(db, 'task_schedules')).toBe(false);
    expect(await tableExists(db, 'task_idempotency_keys')).toBe(true);
    await expect(migrateUp(db.url)).resolves.toEqual([
      SCHEDULES_MIGRATION,
      PROGRESS_MIGRATION,
      FAIRNESS_MIGRATION,
      OVERLAP_MIGRATION,
    ]);
    expect(await rows(db.url, 'SELECT name FROM task_schedules')).toEqual([{ name: 'cleanup-retention' }]);
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS);
  });

  it('migrateDown reverts 010 only: run_at, its indexes and task_idempotency_keys go, (dispatched_at) comes back, the rows stay', async () => {
    await withConnection(db.url, async (connection) => {
      await connection.query(
        `INSERT INTO background_tasks (task_id, task_name, task_type, status, created_at, run_at, due_at)
         VALUES (?, 'diagnostic.sleep', 'email', 'pending', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))`,
        [TASK_ID],
      );
      await connection.query(
        `INSERT INTO task_idempotency_keys (scope, idempotency_key, request_hash, task_id, created_at, expires_at)
         VALUES ('anonymous', 'k-1', REPEAT('a', 64), ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))`,
        [TASK_ID],
      );
      // One row per (scope, key): the same key again is refused, another caller's is not.
      await expect(
        connection.query(
          `INSERT INTO task_idempotency_keys (scope, idempotency_key, request_hash, task_id, created_at, expires_at)
           VALUES ('anonymous', 'k-1', REPEAT('b', 64), ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))`,
          [OTHER_TASK_ID],
        ),
      ).rejects.toEqual(expect.objectContaining({ code: 'ER_DUP_ENTRY' }));
      await connection.query(
        `INSERT INTO task_idempotency_keys (scope, idempotency_key, request_hash, task_id, created_at, expires_at)
         VALUES ('key:abc', 'k-1', REPEAT('b', 64), ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))`,
        [OTHER_TASK_ID],
      );
    });
    expect(await indexNames(db, 'task_idempotency_keys')).toEqual(
      expect.arrayContaining(['PRIMARY', 'idx_task_idempotency_keys_expires_at', 'idx_task_idempotency_keys_task_id']),
    );

    await expect(migrateDown(db.url)).resolves.toBe(OVERLAP_MIGRATION);

    await expect(migrateDown(db.url)).resolves.toBe(FAIRNESS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(PROGRESS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(SCHEDULES_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(DELAY_MIGRATION);
    expect(await tableExists(db, 'task_idempotency_keys')).toBe(false);
    expect(await columnNames(db)).not.toContain('run_at');
    const indexes = await indexNames(db, 'background_tasks');
    expect(indexes).toContain('idx_background_tasks_dispatched_at');
    expect(indexes).not.toContain('idx_background_tasks_dispatched_due');
    expect(indexes).not.toContain('idx_background_tasks_task_type_status_dispatched');
    expect(await rows(db.url, 'SELECT task_id FROM background_tasks')).toEqual([{ task_id: TASK_ID }]);

    await expect(migrateUp(db.url)).resolves.toEqual([
      DELAY_MIGRATION,
      SCHEDULES_MIGRATION,
      PROGRESS_MIGRATION,
      FAIRNESS_MIGRATION,
      OVERLAP_MIGRATION,
    ]);
    expect(await rows(db.url, 'SELECT task_id, run_at FROM background_tasks')).toEqual([
      { task_id: TASK_ID, run_at: null },
    ]);
    expect(await rows(db.url, 'SELECT scope FROM task_idempotency_keys')).toEqual([]);
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS);
    await withConnection(db.url, (connection) => connection.query('DELETE FROM background_tasks'));
  });

  it('migrateDown reverts 009 only: background_task_events goes, the tasks stay; up creates it again, empty', async () => {
    await withConnection(db.url, async (connection) => {
      await connection.query(
        `INSERT INTO background_tasks (task_id, task_name, task_type, status, created_at)
         VALUES (?, 'diagnostic.sleep', 'email', 'pending', UTC_TIMESTAMP(3))`,
        [TASK_ID],
      );
      await connection.query(
        `INSERT INTO background_task_events (task_id, event, run, attempt, retry_count, occurred_at)
         VALUES (?, 'enqueued', 1, 0, 0, UTC_TIMESTAMP(3))`,
        [TASK_ID],
      );
    });
    expect(await indexNames(db, 'background_task_events')).toContain('idx_background_task_events_task');

    await expect(migrateDown(db.url)).resolves.toBe(OVERLAP_MIGRATION);

    await expect(migrateDown(db.url)).resolves.toBe(FAIRNESS_MIGRATION);
    // 009's CHECK constraint (back since 013 went) refuses an event the catalogue does not know.
    await withConnection(db.url, async (connection) => {
      await expect(
        connection.query(
          `INSERT INTO background_task_events (task_id, event, run, attempt, retry_count, occurred_at)
           VALUES (?, 'exploded', 1, 0, 0, UTC_TIMESTAMP(3))`,
          [TASK_ID],
        ),
      ).rejects.toThrow(/chk_background_task_events_event/);
    });
    await expect(migrateDown(db.url)).resolves.toBe(PROGRESS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(SCHEDULES_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(DELAY_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(EVENTS_MIGRATION);
    expect(await tableExists(db, 'background_task_events')).toBe(false);
    expect(await rows(db.url, 'SELECT task_id FROM background_tasks')).toEqual([{ task_id: TASK_ID }]);

    await expect(migrateUp(db.url)).resolves.toEqual([
      EVENTS_MIGRATION,
      DELAY_MIGRATION,
      SCHEDULES_MIGRATION,
      PROGRESS_MIGRATION,
      FAIRNESS_MIGRATION,
      OVERLAP_MIGRATION,
    ]);
    expect(await rows(db.url, 'SELECT id FROM background_task_events')).toEqual([]);
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS);
    await withConnection(db.url, (connection) => connection.query('DELETE FROM background_tasks'));
  });

  it('migrateDown reverts 009 then 008 only: the (status) and (task_type, id) indexes come back, the rows stay', async () => {
    await withConnection(db.url, (connection) =>
      connection.query(
        `INSERT INTO background_tasks (task_id, task_name, task_type, status, created_at)
         VALUES (?, 'diagnostic.sleep', 'email', 'pending', UTC_TIMESTAMP(3))`,
        [TASK_ID],
      ),
    );
    const listIndexes = [
      'idx_background_tasks_status_created_at',
      'idx_background_tasks_task_type_created_at',
      'idx_background_tasks_task_type_status_created_at',
    ];
    expect(await indexNames(db)).toEqual(expect.arrayContaining(listIndexes));

    await expect(migrateDown(db.url)).resolves.toBe(OVERLAP_MIGRATION);

    await expect(migrateDown(db.url)).resolves.toBe(FAIRNESS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(PROGRESS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(SCHEDULES_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(DELAY_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(EVENTS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(ORDER_MIGRATION);
    const reverted = await indexNames(db);
    expect(reverted).toEqual(
      expect.arrayContaining(['idx_background_tasks_status', 'idx_background_tasks_task_type_id']),
    );
    for (const index of listIndexes) {
      expect(reverted).not.toContain(index);
    }
    expect(await rows(db.url, 'SELECT task_id FROM background_tasks')).toEqual([{ task_id: TASK_ID }]);

    await expect(migrateUp(db.url)).resolves.toEqual([
      ORDER_MIGRATION,
      EVENTS_MIGRATION,
      DELAY_MIGRATION,
      SCHEDULES_MIGRATION,
      PROGRESS_MIGRATION,
      FAIRNESS_MIGRATION,
      OVERLAP_MIGRATION,
    ]);
    expect(await indexNames(db)).toEqual(expect.arrayContaining(listIndexes));
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS);
    await withConnection(db.url, (connection) => connection.query('DELETE FROM background_tasks'));
  });

  it('migrateDown reverts 009, 008 then 007: due_at and tracker_replicas go, the rows stay; up adds them again', async () => {
    await withConnection(db.url, (connection) =>
      connection.query(
        `INSERT INTO background_tasks (task_id, task_name, task_type, status, created_at)
         VALUES (?, 'diagnostic.sleep', 'email', 'pending', UTC_TIMESTAMP(3))`,
        [TASK_ID],
      ),
    );
    expect(await columnNames(db)).toContain('due_at');
    expect(await tableExists(db, 'tracker_replicas')).toBe(true);

    await expect(migrateDown(db.url)).resolves.toBe(OVERLAP_MIGRATION);

    await expect(migrateDown(db.url)).resolves.toBe(FAIRNESS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(PROGRESS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(SCHEDULES_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(DELAY_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(EVENTS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(ORDER_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(REDISPATCH_MIGRATION);
    expect(await columnNames(db)).not.toContain('due_at');
    expect(await tableExists(db, 'tracker_replicas')).toBe(false);
    expect(await rows(db.url, 'SELECT task_id FROM background_tasks')).toEqual([{ task_id: TASK_ID }]);

    await expect(migrateUp(db.url)).resolves.toEqual([
      REDISPATCH_MIGRATION,
      ORDER_MIGRATION,
      EVENTS_MIGRATION,
      DELAY_MIGRATION,
      SCHEDULES_MIGRATION,
      PROGRESS_MIGRATION,
      FAIRNESS_MIGRATION,
      OVERLAP_MIGRATION,
    ]);
    expect(await rows(db.url, 'SELECT task_id, due_at FROM background_tasks')).toEqual([
      { task_id: TASK_ID, due_at: null },
    ]);
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS);
    await withConnection(db.url, (connection) => connection.query('DELETE FROM background_tasks'));
  });

  it('006 counts the rows that exist before it, and its triggers journal every later change', async () => {
    await expect(migrateDown(db.url)).resolves.toBe(OVERLAP_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(FAIRNESS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(PROGRESS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(SCHEDULES_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(DELAY_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(EVENTS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(ORDER_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(REDISPATCH_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(COUNTS_MIGRATION);
    await withConnection(db.url, (connection) =>
      connection.query(
        `INSERT INTO background_tasks (task_id, task_name, task_type, status, created_at)
         VALUES (?, 'diagnostic.sleep', 'email', 'completed', UTC_TIMESTAMP(3)),
                (?, 'diagnostic.sleep', 'email', 'completed', UTC_TIMESTAMP(3)),
                (?, 'report.tasks-summary', 'report', 'pending', UTC_TIMESTAMP(3))`,
        [TASK_ID, OTHER_TASK_ID, NEW_TASK_ID],
      ),
    );

    await expect(migrateUp(db.url)).resolves.toEqual([
      COUNTS_MIGRATION,
      REDISPATCH_MIGRATION,
      ORDER_MIGRATION,
      EVENTS_MIGRATION,
      DELAY_MIGRATION,
      SCHEDULES_MIGRATION,
      PROGRESS_MIGRATION,
      FAIRNESS_MIGRATION,
      OVERLAP_MIGRATION,
    ]);

    expect(await triggerNames(db)).toEqual(COUNT_TRIGGERS);
    expect(await countsAndScan(db)).toEqual({
      counts: [
        { task_type: 'email', status: 'completed', n: 2 },
        { task_type: 'report', status: 'pending', n: 1 },
      ],
      scan: [
        { task_type: 'email', status: 'completed', n: 2 },
        { task_type: 'report', status: 'pending', n: 1 },
      ],
    });
    expect(await rows(db.url, 'SELECT * FROM background_task_count_changes')).toEqual([]);

    // Every insert, change of status or type, and delete is journaled; other updates are not.
    await withConnection(db.url, async (connection) => {
      await connection.query(
        `INSERT INTO background_tasks (task_id, task_name, task_type, status, created_at)
         VALUES ('0190a0b0-0000-7000-8000-000000000004', 'diagnostic.sleep', 'analytics', 'pending', UTC_TIMESTAMP(3))`,
      );
      await connection.query("UPDATE background_tasks SET status = 'running' WHERE task_id = ?", [NEW_TASK_ID]);
      await connection.query('UPDATE background_tasks SET priority = 9 WHERE task_id = ?', [NEW_TASK_ID]);
      await connection.query("UPDATE background_tasks SET task_type = 'cleanup' WHERE task_id = ?", [TASK_ID]);
      await connection.query('DELETE FROM background_tasks WHERE task_id = ?', [OTHER_TASK_ID]);
    });
    expect(
      await rows(db.url, 'SELECT task_type, from_status, to_status FROM background_task_count_changes ORDER BY id'),
    ).toEqual([
      { task_type: 'analytics', from_status: null, to_status: 'pending' },
      { task_type: 'report', from_status: 'pending', to_status: 'running' },
      { task_type: 'email', from_status: 'completed', to_status: null },
      { task_type: 'cleanup', from_status: null, to_status: 'completed' },
      { task_type: 'email', from_status: 'completed', to_status: null },
    ]);
  });

  it('recountTaskCounts recounts after a TRUNCATE, which no trigger sees', async () => {
    await withConnection(db.url, (connection) => connection.query('TRUNCATE TABLE background_tasks'));
    expect((await countsAndScan(db)).counts).not.toEqual([]);

    await recountTaskCounts(db.url);

    expect(await countsAndScan(db)).toEqual({ counts: [], scan: [] });
    expect(await rows(db.url, 'SELECT * FROM background_task_count_changes')).toEqual([]);

    await withConnection(db.url, (connection) =>
      connection.query(
        `INSERT INTO background_tasks (task_id, task_name, task_type, status, created_at)
         VALUES (?, 'diagnostic.sleep', 'email', 'failed', UTC_TIMESTAMP(3))`,
        [TASK_ID],
      ),
    );
    await recountTaskCounts(db.url);
    expect(await countsAndScan(db)).toEqual({
      counts: [{ task_type: 'email', status: 'failed', n: 1 }],
      scan: [{ task_type: 'email', status: 'failed', n: 1 }],
    });
    await withConnection(db.url, (connection) => connection.query('DELETE FROM background_tasks'));
  });

  it('migrateDown reverts 006 only: the triggers and the count tables go, the rows stay', async () => {
    await withConnection(db.url, (connection) =>
      connection.query(
        `INSERT INTO background_tasks (task_id, task_name, task_type, status, created_at)
         VALUES (?, 'diagnostic.sleep', 'email', 'pending', UTC_TIMESTAMP(3))`,
        [TASK_ID],
      ),
    );

    await expect(migrateDown(db.url)).resolves.toBe(OVERLAP_MIGRATION);

    await expect(migrateDown(db.url)).resolves.toBe(FAIRNESS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(PROGRESS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(SCHEDULES_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(DELAY_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(EVENTS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(ORDER_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(REDISPATCH_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(COUNTS_MIGRATION);

    expect(await triggerNames(db)).toEqual([]);
    expect(await tableExists(db, 'background_task_counts')).toBe(false);
    expect(await tableExists(db, 'background_task_count_changes')).toBe(false);
    expect(await rows(db.url, 'SELECT task_id FROM background_tasks')).toEqual([{ task_id: TASK_ID }]);
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS.slice(0, 4));
    await withConnection(db.url, (connection) => connection.query('DELETE FROM background_tasks'));
  });

  it('migrateDown reverts 005 only: the list index goes, the rows stay', async () => {
    await withConnection(db.url, (connection) =>
      connection.query(
        `INSERT INTO background_tasks (task_id, task_name, task_type, status, created_at)
         VALUES (?, 'diagnostic.sleep', 'email', 'pending', UTC_TIMESTAMP(3))`,
        [TASK_ID],
      ),
    );

    await expect(migrateDown(db.url)).resolves.toBe(LIST_MIGRATION);

    const indexes = await indexNames(db);
    expect(indexes).not.toContain('idx_background_tasks_task_type_id');
    expect(indexes).toEqual(expect.arrayContaining(['idx_background_tasks_task_type_status', ...DELIVERY_INDEXES]));
    expect(await rows(db.url, 'SELECT task_id FROM background_tasks')).toEqual([{ task_id: TASK_ID }]);
    expect(await appliedMigrations(db)).toEqual([TABLE_MIGRATION, DELIVERY_MIGRATION, CONTROL_MIGRATION]);
    await withConnection(db.url, (connection) => connection.query('DELETE FROM background_tasks'));
  });

  it('migrateDown reverts 004 only: timeout_ms, run and background_task_runs go, the rows stay', async () => {
    await withConnection(db.url, async (connection) => {
      await connection.query(
        `INSERT INTO background_tasks (task_id, task_name, task_type, status, timeout_ms, run, created_at)
         VALUES (?, 'diagnostic.sleep', 'email', 'pending', 500, 2, UTC_TIMESTAMP(3))`,
        [TASK_ID],
      );
      await connection.query(
        `INSERT INTO background_task_runs (task_id, run, status, retry_count, archived_at)
         VALUES (?, 1, 'failed', 0, UTC_TIMESTAMP(3))`,
        [TASK_ID],
      );
    });

    await expect(migrateDown(db.url)).resolves.toBe(CONTROL_MIGRATION);

    expect(await tableExists(db, 'background_task_runs')).toBe(false);
    const columns = await columnNames(db);
    for (const column of CONTROL_COLUMNS) {
      expect(columns).not.toContain(column);
    }
    // 003's columns and the rows are untouched.
    expect(columns).toEqual(expect.arrayContaining(DELIVERY_COLUMNS));
    expect(await rows(db.url, 'SELECT task_id, status FROM background_tasks')).toEqual([
      { task_id: TASK_ID, status: 'pending' },
    ]);
    expect(await appliedMigrations(db)).toEqual([TABLE_MIGRATION, DELIVERY_MIGRATION]);
    await withConnection(db.url, (connection) => connection.query('DELETE FROM background_tasks'));
  });

  it('migrateDown then reverts 003 only: the delivery columns and indexes go, the table stays', async () => {
    await expect(migrateDown(db.url)).resolves.toBe(DELIVERY_MIGRATION);

    expect(await tableExists(db, 'background_tasks')).toBe(true);
    const columns = await columnNames(db);
    expect(columns).toContain('completed_at');
    for (const column of DELIVERY_COLUMNS) {
      expect(columns).not.toContain(column);
    }
    const indexes = await indexNames(db);
    expect(indexes).toContain('idx_background_tasks_status_completed_at');
    for (const index of DELIVERY_INDEXES) {
      expect(indexes).not.toContain(index);
    }
    expect(await appliedMigrations(db)).toEqual([TABLE_MIGRATION]);
  });

  it('003 marks the rows that exist before it as dispatched at their creation, gives running ones an expired lease; later rows start in the outbox', async () => {
    const createdAt = '2025-02-03 04:05:06.789';
    await withConnection(db.url, (connection) =>
      connection.query(
        `INSERT INTO background_tasks (task_id, task_name, task_type, status, created_at, started_at)
         VALUES (?, 'diagnostic.sleep', 'email', 'pending', ?, NULL), (?, 'diagnostic.sleep', 'email', 'running', ?, ?)`,
        [TASK_ID, createdAt, OTHER_TASK_ID, createdAt, createdAt],
      ),
    );

    await expect(migrateUp(db.url)).resolves.toEqual([
      DELIVERY_MIGRATION,
      CONTROL_MIGRATION,
      LIST_MIGRATION,
      COUNTS_MIGRATION,
      REDISPATCH_MIGRATION,
      ORDER_MIGRATION,
      EVENTS_MIGRATION,
      DELAY_MIGRATION,
      SCHEDULES_MIGRATION,
      PROGRESS_MIGRATION,
      FAIRNESS_MIGRATION,
      OVERLAP_MIGRATION,
    ]);

    const existing = await rows<{ attempt: number; lease_expired: number | null; dispatched: string | null }>(
      db.url,
      `SELECT attempt, lease_expires_at <= UTC_TIMESTAMP(3) AS lease_expired,
              DATE_FORMAT(dispatched_at, '%Y-%m-%d %H:%i:%s.%f') AS dispatched
         FROM background_tasks ORDER BY id`,
    );
    expect(existing).toEqual([
      // pending: no lease
      { attempt: 0, lease_expired: null, dispatched: '2025-02-03 04:05:06.789000' },
      // running under code without heartbeats: an expired lease, so the reconciler can hand it back
      { attempt: 0, lease_expired: 1, dispatched: '2025-02-03 04:05:06.789000' },
    ]);

    await withConnection(db.url, (connection) =>
      connection.query(
        `INSERT INTO background_tasks (task_id, task_name, task_type, created_at)
         VALUES (?, 'diagnostic.sleep', 'email', UTC_TIMESTAMP(3))`,
        [NEW_TASK_ID],
      ),
    );
    const [later] = await rows<{ attempt: number; lease: string | null; dispatched: string | null }>(
      db.url,
      'SELECT attempt, lease_expires_at AS lease, dispatched_at AS dispatched FROM background_tasks WHERE task_id = ?',
      [NEW_TASK_ID],
    );
    expect(later).toEqual({ attempt: 0, lease: null, dispatched: null });
    await withConnection(db.url, (connection) => connection.query('DELETE FROM background_tasks'));
  });

  it('004 gives the rows that exist before it run 1 and no timeout (the catalogue default applies)', async () => {
    await expect(migrateDown(db.url)).resolves.toBe(OVERLAP_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(FAIRNESS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(PROGRESS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(SCHEDULES_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(DELAY_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(EVENTS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(ORDER_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(REDISPATCH_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(COUNTS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(LIST_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(CONTROL_MIGRATION);
    await withConnection(db.url, (connection) =>
      connection.query(
        `INSERT INTO background_tasks (task_id, task_name, task_type, status, created_at)
         VALUES (?, 'diagnostic.sleep', 'email', 'failed', UTC_TIMESTAMP(3))`,
        [TASK_ID],
      ),
    );

    await expect(migrateUp(db.url)).resolves.toEqual([
      CONTROL_MIGRATION,
      LIST_MIGRATION,
      COUNTS_MIGRATION,
      REDISPATCH_MIGRATION,
      ORDER_MIGRATION,
      EVENTS_MIGRATION,
      DELAY_MIGRATION,
      SCHEDULES_MIGRATION,
      PROGRESS_MIGRATION,
      FAIRNESS_MIGRATION,
      OVERLAP_MIGRATION,
    ]);

    expect(await rows(db.url, 'SELECT run, timeout_ms FROM background_tasks')).toEqual([{ run: 1, timeout_ms: null }]);
    expect(await rows(db.url, 'SELECT * FROM background_task_runs')).toEqual([]);
    await withConnection(db.url, (connection) => connection.query('DELETE FROM background_tasks'));
  });

  it('migrateDown reverts 009, 008, 007, 006, 005, 004, 003 then 002, dropping the tables, and returns each migration name', async () => {
    await expect(migrateDown(db.url)).resolves.toBe(OVERLAP_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(FAIRNESS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(PROGRESS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(SCHEDULES_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(DELAY_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(EVENTS_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(ORDER_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(REDISPATCH_MIGRATION);
    await expect(migrateDown(db.url)).resolves.toBe(COUNTS_MIGRATION);
    expect(await triggerNames(db)).toEqual([]);
    await expect(migrateDown(db.url)).resolves.toBe(LIST_MIGRATION);
    expect(await indexNames(db)).not.toContain('idx_background_tasks_task_type_id');
    expect(await appliedMigrations(db)).toEqual([TABLE_MIGRATION, DELIVERY_MIGRATION, CONTROL_MIGRATION]);

    await expect(migrateDown(db.url)).resolves.toBe(CONTROL_MIGRATION);
    expect(await tableExists(db, 'background_task_runs')).toBe(false);
    expect(await appliedMigrations(db)).toEqual([TABLE_MIGRATION, DELIVERY_MIGRATION]);

    await expect(migrateDown(db.url)).resolves.toBe(DELIVERY_MIGRATION);
    expect(await tableExists(db, 'background_tasks')).toBe(true);
    expect(await appliedMigrations(db)).toEqual([TABLE_MIGRATION]);

    await expect(migrateDown(db.url)).resolves.toBe(TABLE_MIGRATION);
    expect(await tableExists(db, 'background_tasks')).toBe(false);
    expect(await appliedMigrations(db)).toEqual([]);
  });

  it('migrateDown returns null when no migration is applied', async () => {
    await expect(migrateDown(db.url)).resolves.toBeNull();
    expect(await tableExists(db, 'background_tasks')).toBe(false);
  });

  it('migrateDown returns null on a database that was never migrated', async () => {
    const empty = await createTestDatabase('migrator_empty');
    try {
      await expect(migrateDown(empty.url)).resolves.toBeNull();
    } finally {
      await empty.drop();
    }
  });

  it('migrates up again after a migrateDown', async () => {
    await expect(migrateUp(db.url)).resolves.toEqual(MIGRATIONS);
    expect(await tableExists(db, 'background_tasks')).toBe(true);
    expect(await columnNames(db)).toEqual(expect.arrayContaining([...DELIVERY_COLUMNS, ...CONTROL_COLUMNS]));
    expect(await columnNames(db, 'background_task_runs')).toContain('archived_at');
    expect(await appliedMigrations(db)).toEqual(MIGRATIONS);
  });
});
