import { DataSource } from 'typeorm';
import { TaskCommand } from '@tasklane/contracts';
import { BackgroundTask } from '../background-task/background-task.entity';
import { NewTask } from '../background-task/task-outbox.repository';
import { TaskQueryRepository } from '../background-task/task-query.repository';

/*
 * Reads and builders every integration spec over `background_tasks` shares (the repositories',
 * the workers', the tracker's): imported as `@tasklane/persistence/testing`, by tests only.
 */

/** The delivery columns of a row (migrations 003, 007), which the API resource does not expose. */
export interface Delivery {
  attempt: number;
  lease_expires_at: Date | null;
  dispatched_at: Date | null;
  /** lease_expires_at − now on the database clock, in ms (negative once expired); null without a lease. */
  lease_left_ms: number | null;
}

/** The row of a task; throws when it does not exist. */
export async function readTask(
  queries: Pick<TaskQueryRepository, 'findByTaskId'>,
  taskId: string,
): Promise<BackgroundTask> {
  const found = await queries.findByTaskId(taskId);
  if (found === null) {
    throw new Error(`task ${taskId} not found`);
  }
  return found;
}

/** The delivery columns of a task; throws when it does not exist. */
export async function readDelivery(dataSource: Pick<DataSource, 'query'>, taskId: string): Promise<Delivery> {
  const [found] = (await dataSource.query(
    `SELECT attempt, lease_expires_at, dispatched_at,
            CAST(TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(3), lease_expires_at) DIV 1000 AS SIGNED) AS lease_left_ms
       FROM background_tasks WHERE task_id = ?`,
    [taskId],
  )) as Delivery[];
  if (found === undefined) {
    throw new Error(`task ${taskId} not found`);
  }
  return { ...found, lease_left_ms: found.lease_left_ms === null ? null : Number(found.lease_left_ms) };
}

/** The command of `task`'s retry `retryCount`, as the gateway or the relay publishes it. */
export function commandOfTask(task: NewTask, retryCount = 0): TaskCommand {
  return {
    task_id: task.taskId,
    task_name: task.taskName,
    task_type: task.taskType,
    params: task.params as never,
    priority: task.priority,
    max_retries: task.maxRetries,
    retry_count: retryCount,
    timeout_ms: task.timeoutMs,
  };
}
