import { DataSource } from 'typeorm';
import { recountTasks } from '../background-task/task-counts';
import { dataSourceOptions, describeDatabaseUrl } from './data-source.options';
import { atDatabaseBoundary } from './database-errors';

/** The database named in `url`, and a data source on its server (no database selected). */
async function withServer<T>(url: string, work: (server: DataSource, database: string) => Promise<T>): Promise<T> {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  parsed.pathname = '/';
  return atDatabaseBoundary(async () => {
    const server = new DataSource({ type: 'mysql', url: parsed.toString(), connectTimeout: 5_000 });
    await server.initialize();
    try {
      return await work(server, database);
    } finally {
      await server.destroy();
    }
  });
}

/** Creates the database named in `url` when it does not exist yet (utf8mb4). */
export async function ensureDatabase(url: string): Promise<void> {
  const database = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_$]+$/.test(database)) {
    throw new Error(`invalid database name ${JSON.stringify(database)}`);
  }
  await withServer(url, (server) =>
    server.query(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`),
  );
}

export async function dropDatabase(url: string): Promise<void> {
  await withServer(url, (server, database) => server.query(`DROP DATABASE IF EXISTS \`${database}\``));
}

/** A data source on the database of `url` for `work`; transient driver failures raised as DatabaseUnavailableError. */
async function withDataSource<T>(url: string, work: (dataSource: DataSource) => Promise<T>): Promise<T> {
  return atDatabaseBoundary(async () => {
    const dataSource = new DataSource({ ...dataSourceOptions({ url, poolSize: 1 }), logging: false });
    await dataSource.initialize();
    try {
      return await work(dataSource);
    } finally {
      await dataSource.destroy();
    }
  });
}

/** Applies every pending migration (creating the database first); returns the names applied. */
export async function migrateUp(url: string): Promise<string[]> {
  await ensureDatabase(url);
  return withDataSource(url, async (dataSource) =>
    (await dataSource.runMigrations({ transaction: 'each' })).map((migration) => migration.name),
  );
}

/** Reverts the last applied migration; returns its name, or null when none was applied. */
export async function migrateDown(url: string): Promise<string | null> {
  return withDataSource(url, async (dataSource) => {
    const table = dataSource.options.migrationsTableName ?? 'migrations';
    // A database that was never migrated has no migrations table: nothing to revert.
    const tableExists = (await dataSource.query(
      'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
      [table],
    )) as unknown[];
    if (tableExists.length === 0) {
      return null;
    }
    const executed = (await dataSource.query(`SELECT name FROM ${table} ORDER BY timestamp DESC LIMIT 1`)) as Array<{
      name: string;
    }>;
    if (executed.length === 0) {
      return null;
    }
    await dataSource.undoLastMigration({ transaction: 'each' });
    return executed[0].name;
  });
}

/**
 * Recounts the task counts from `background_tasks` (ADR 0009) — after a `TRUNCATE` or a write made
 * with the triggers dropped, the only ways they can drift. Writes go on meanwhile; folds wait.
 */
export async function recountTaskCounts(url: string): Promise<void> {
  await withDataSource(url, async (dataSource) => {
    const runner = dataSource.createQueryRunner();
    try {
      await recountTasks((sql, params) => runner.query(sql, params));
    } finally {
      await runner.release();
    }
  });
}

export { describeDatabaseUrl };
