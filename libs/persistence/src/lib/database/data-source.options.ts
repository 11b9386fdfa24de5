import { DataSourceOptions } from 'typeorm';
// TypeORM loads the driver at run time; importing it here makes bundles list it as a dependency.
import 'mysql2';
import { BackgroundTask } from '../background-task/background-task.entity';
import { BackgroundTaskRun } from '../background-task/background-task-run.entity';
import { BackgroundTaskEvent } from '../task-history/background-task-event.entity';
import { MIGRATIONS } from '../migrations';

export interface DatabaseSettings {
  url: string;
  poolSize: number;
}

/** Where a database URL points, without its credentials (safe to log). */
export function describeDatabaseUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || '3306'}${parsed.pathname}`;
}

/**
 * The one description of how Tasklane talks to MySQL/MariaDB, used by the apps and the
 * migration CLI alike: UTC everywhere, migrations only (never `synchronize`), a bounded pool
 * and short connect timeouts so that an outage surfaces as an error instead of a hang.
 */
export function dataSourceOptions(settings: DatabaseSettings): DataSourceOptions {
  return {
    type: 'mysql',
    url: settings.url,
    timezone: 'Z',
    charset: 'utf8mb4_unicode_ci',
    entities: [BackgroundTask, BackgroundTaskRun, BackgroundTaskEvent],
    migrations: MIGRATIONS,
    migrationsTableName: 'tasklane_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    migrationsRun: false,
    poolSize: settings.poolSize,
    connectTimeout: 5_000,
    extra: {
      enableKeepAlive: true,
      maxIdle: settings.poolSize,
    },
  };
}
