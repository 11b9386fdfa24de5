export * from './lib/background-task/background-task.entity';
export * from './lib/background-task/background-task-run.entity';
export * from './lib/background-task/task-claim.repository';
export * from './lib/background-task/task-control.repository';
export * from './lib/background-task/task-count.repository';
export * from './lib/background-task/task-event.repository';
export * from './lib/background-task/task-outbox.repository';
export * from './lib/background-task/task-query.repository';
export * from './lib/background-task/task-repositories';
export * from './lib/background-task/task-counts';
export * from './lib/task-history/background-task-event.entity';
export * from './lib/task-history/task-history.repository';
export { HISTORY_ACTOR_MAX, HISTORY_WORKER_ID_MAX, TASK_EVENTS_TABLE } from './lib/task-history/task-history.sql';
export {
  ClaimedKey,
  IDEMPOTENCY_KEYS_TABLE,
  IdempotencyClaim,
  IdempotencyKeyMismatch,
} from './lib/idempotency/idempotency-key.sql';
export * from './lib/redispatch/redispatch.repository';
export * from './lib/fairness/task-aging.repository';
export * from './lib/reporting/task-reporting.repository';
export * from './lib/retention/task-retention.repository';
export * from './lib/tracker-replicas/tracker-replica.repository';
export * from './lib/database/data-source.options';
export { DatabaseBoundary, DatabaseUnavailableError } from './lib/database/database-errors';
export * from './lib/database/database.module';
export * from './lib/migrations';
export * from './lib/database/migrator';
export * from './lib/database/database.readiness';
export * from './lib/schedules/task-schedule.repository';
export { SCHEDULES_TABLE } from './lib/schedules/task-schedule.sql';
export { TypeLimits } from './lib/fairness/task-type-limit.sql';
