import { DynamicModule, Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { retryWithBackoff } from '@tasklane/concurrency';
import { BaseEnv } from '@tasklane/config';
import { TaskClaimRepository } from '../background-task/task-claim.repository';
import { TaskControlRepository } from '../background-task/task-control.repository';
import { TaskCountRepository } from '../background-task/task-count.repository';
import { TaskEventRepository } from '../background-task/task-event.repository';
import { TaskOutboxRepository } from '../background-task/task-outbox.repository';
import { TaskQueryRepository } from '../background-task/task-query.repository';
import { TaskAgingRepository } from '../fairness/task-aging.repository';
import { RedispatchRepository } from '../redispatch/redispatch.repository';
import { TaskHistoryRepository } from '../task-history/task-history.repository';
import { TaskReportingRepository } from '../reporting/task-reporting.repository';
import { TaskRetentionRepository } from '../retention/task-retention.repository';
import { TaskScheduleRepository } from '../schedules/task-schedule.repository';
import { TrackerReplicaRepository } from '../tracker-replicas/tracker-replica.repository';
import { dataSourceOptions, describeDatabaseUrl } from './data-source.options';
import { DatabaseReadiness } from './database.readiness';
import { isDatabaseUnavailable, isUnknownDatabase } from './database-errors';

const RETRY_DELAY_MS = 2_000;

/** The repositories of `background_tasks`, one per concern, sharing the guards of `task-guards.ts`. */
const TASK_REPOSITORIES = [
  TaskOutboxRepository,
  TaskClaimRepository,
  TaskEventRepository,
  TaskControlRepository,
  TaskQueryRepository,
  TaskCountRepository,
  TaskHistoryRepository,
];

/** Every repository an app may inject; the `DataSource` itself stays inside this library. */
const REPOSITORIES = [
  ...TASK_REPOSITORIES,
  TaskReportingRepository,
  TaskRetentionRepository,
  RedispatchRepository,
  TaskAgingRepository,
  TrackerReplicaRepository,
  TaskScheduleRepository,
];

async function connect(env: BaseEnv, logger: Logger): Promise<DataSource> {
  const where = describeDatabaseUrl(env.DATABASE_URL);
  const dataSource = await retryWithBackoff(
    async () => {
      const candidate = new DataSource(dataSourceOptions({ url: env.DATABASE_URL, poolSize: env.DATABASE_POOL_SIZE }));
      try {
        return await candidate.initialize();
      } catch (error) {
        if (isUnknownDatabase(error)) {
          throw new Error(`database ${where} does not exist: run \`npm run db:migrate\` first`);
        }
        throw error;
      }
    },
    {
      minDelayMs: RETRY_DELAY_MS,
      maxDelayMs: RETRY_DELAY_MS,
      retryIf: isDatabaseUnavailable,
      onRetry: (error, delay, attempt) =>
        logger.warn({
          message: `database ${where} unreachable; retrying in ${delay} ms`,
          attempt,
          error: (error as Error).message,
        }),
    },
  );
  logger.log({ message: 'connected to the database', database: where });
  return dataSource;
}

@Injectable()
class DataSourceCloser implements OnApplicationShutdown {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) {
      await this.dataSource.destroy();
    }
  }
}

/**
 * Opens the TypeORM `DataSource` (waiting for the database at start-up) and provides the
 * repositories — not the `DataSource`: apps reach the database only through them. Closes the
 * pool last, on shutdown.
 */
@Global()
@Module({})
export class DatabaseModule {
  static forRoot(): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [
        {
          provide: DataSource,
          inject: [BaseEnv],
          useFactory: (env: BaseEnv) => connect(env, new Logger(DatabaseModule.name)),
        },
        DataSourceCloser,
        ...REPOSITORIES,
        DatabaseReadiness,
      ],
      exports: REPOSITORIES,
    };
  }
}
