import { Connection, RowDataPacket, createConnection } from 'mysql2/promise';
import { TestDatabase, createTestDatabase } from '@tasklane/testing';
import { migrateDown, migrateUp } from './migrator';

// Real services (rabbitmqctl, vhost and database set-up) need more than Jest's default 5 s.
jest.setTimeout(30_000);

const MIGRATION = 'AddBackgroundTasksTable0000000000002';
const TASK_ID = '0190a0b0-0000-7000-8000-000000000001';

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

  it('creates the missing database and applies the migration', async () => {
    expect(await databaseExists(db)).toBe(false);

    await expect(migrateUp(db.url)).resolves.toEqual([MIGRATION]);

    expect(await databaseExists(db)).toBe(true);
    expect(await tableExists(db, 'background_tasks')).toBe(true);
    const charset = await rows<{ collation: string }>(
      db.url,
      'SELECT DEFAULT_COLLATION_NAME AS collation FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
      [db.name],
    );
    expect(charset[0].collation).toBe('utf8mb4_unicode_ci');
    const applied = await rows<{ name: string }>(db.url, 'SELECT name FROM tasklane_migrations');
    expect(applied.map((row) => row.name)).toEqual([MIGRATION]);
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
      'created_at',
      'started_at',
      'completed_at',
    ]);
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
      idx_background_tasks_status: { unique: false, columns: ['status'] },
      idx_background_tasks_priority: { unique: false, columns: ['priority'] },
      idx_background_tasks_status_priority: { unique: false, columns: ['status', 'priority'] },
      idx_background_tasks_task_type_status: { unique: false, columns: ['task_type', 'status'] },
      idx_background_tasks_created_at: { unique: false, columns: ['created_at'] },
      idx_background_tasks_status_completed_at: { unique: false, columns: ['status', 'completed_at'] },
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
    const applied = await rows<{ name: string }>(db.url, 'SELECT name FROM tasklane_migrations');
    expect(applied.map((row) => row.name)).toEqual([MIGRATION]);
  });

  it('migrateDown drops the table and returns the migration name', async () => {
    await expect(migrateDown(db.url)).resolves.toBe(MIGRATION);

    expect(await tableExists(db, 'background_tasks')).toBe(false);
    const applied = await rows(db.url, 'SELECT name FROM tasklane_migrations');
    expect(applied).toEqual([]);
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
    await expect(migrateUp(db.url)).resolves.toEqual([MIGRATION]);
    expect(await tableExists(db, 'background_tasks')).toBe(true);
  });
});
