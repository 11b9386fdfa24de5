import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TaskCommand, TaskStatus } from '@tasklane/contracts';
import { OUTBOX_COLUMNS, OutboxRow, TABLE, commandOfRow } from './task-sql';
import { updateGeneration } from './task-guards';
import { DatabaseBoundary } from '../database/database-errors';

/** What a cancel did: the status the task left and the generation it now has. */
export interface CancelResult {
  from: TaskStatus.Pending | TaskStatus.Running;
  attempt: number;
}

/** What clients do to a task through the API: cancel it, re-queue a finished one as a new run. */
@Injectable()
@DatabaseBoundary()
export class TaskControlRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * Cancels a pending or running task: `cancelled` at once, in a new generation, so that the
   * worker running it loses its claim (its heartbeat learns it; a broadcast only makes it faster)
   * and none of its events can change the task any more. Returns the status it was cancelled
   * from, or null when it was neither pending nor running (or unknown).
   */
  async cancel(taskId: string, at: Date): Promise<CancelResult | null> {
    for (const from of [TaskStatus.Pending, TaskStatus.Running] as const) {
      const attempt = await updateGeneration(
        this.dataSource,
        `UPDATE ${TABLE} SET status = '${TaskStatus.Cancelled}', completed_at = ?, lease_expires_at = NULL,
           attempt = LAST_INSERT_ID(attempt + 1)
         WHERE task_id = ? AND status = '${from}'`,
        [at, taskId],
      );
      if (attempt !== null) {
        return { from, attempt };
      }
    }
    return null;
  }

  /**
   * Re-queues a failed or cancelled task as a new run: the run as it ended is archived in
   * `background_task_runs`, then the task is pending again (same task_id and retry_count, run + 1,
   * a new generation) and back in the outbox. Returns its command, or null when the task is not
   * failed or cancelled (or unknown).
   */
  async requeueFinished(taskId: string, at: Date): Promise<TaskCommand | null> {
    return this.dataSource.transaction(async (manager) => {
      const rows = (await manager.query(
        `SELECT ${OUTBOX_COLUMNS}, run FROM ${TABLE} WHERE task_id = ? AND status IN ('${TaskStatus.Failed}', '${TaskStatus.Cancelled}') FOR UPDATE`,
        [taskId],
      )) as Array<OutboxRow & { run: number }>;
      if (rows.length === 0) {
        return null;
      }
      const [row] = rows;
      await manager.query(
        `INSERT INTO background_task_runs
           (task_id, run, status, retry_count, result, error_message, started_at, completed_at, archived_at)
         SELECT task_id, run, status, retry_count, result, error_message, started_at, completed_at, ?
           FROM ${TABLE} WHERE task_id = ?`,
        [at, taskId],
      );
      await manager.query(
        `UPDATE ${TABLE} SET status = '${TaskStatus.Pending}', run = run + 1, attempt = attempt + 1, result = NULL,
           error_message = NULL, started_at = NULL, completed_at = NULL, lease_expires_at = NULL, dispatched_at = NULL,
           due_at = NULL
         WHERE task_id = ?`,
        [taskId],
      );
      return commandOfRow(row);
    });
  }
}
