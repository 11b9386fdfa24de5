import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TaskCommand, TaskHistoryEvent, TaskStatus } from '@tasklane/contracts';
import { OUTBOX_COLUMNS, OutboxRow, TABLE, TASK_RUNS_TABLE, commandOfRow } from './task-sql';
import { retryWithBackoff } from '@tasklane/concurrency';
import { DatabaseBoundary, isDeadlock } from '../database/database-errors';
import { HistorySource, appendHistoryOfRows, taskIdIn } from '../task-history/task-history.sql';

/** What a cancel did: the status the task left and the generation it now has. */
export interface CancelResult {
  from: TaskStatus.Pending | TaskStatus.Running;
  attempt: number;
}

/** Times a cancel is tried again after the database chose it as a deadlock victim. */
const CANCEL_DEADLOCK_RETRIES = 3;

/** What clients do to a task through the API: cancel it, re-queue a finished one as a new run. */
@Injectable()
@DatabaseBoundary()
export class TaskControlRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * Cancels a pending or running task: `cancelled` at once, in a new generation, so that the
   * worker running it loses its claim (its heartbeat learns it; a broadcast only makes it faster)
   * and none of its events can change the task any more; its `cancelled` history row names who
   * asked. The row is locked first (`FOR UPDATE`), so a claim racing the cancel waits for it.
   * Returns the status it was cancelled from, or null when it was neither pending nor running (or unknown).
   */
  async cancel(taskId: string, at: Date, source: HistorySource = {}): Promise<CancelResult | null> {
    // A claim group locking the same row can make the database choose this transaction as a
    // deadlock victim (it is rolled back whole): it is tried again, like a claim group.
    return retryWithBackoff(() => this.cancelOnce(taskId, at, source), {
      minDelayMs: 0,
      maxDelayMs: 0,
      maxAttempts: 1 + CANCEL_DEADLOCK_RETRIES,
      retryIf: isDeadlock,
    });
  }

  private cancelOnce(taskId: string, at: Date, source: HistorySource): Promise<CancelResult | null> {
    return this.dataSource.transaction(async (manager) => {
      const rows = (await manager.query(
        `SELECT status, attempt FROM ${TABLE} WHERE task_id = ? AND status IN ('${TaskStatus.Pending}', '${TaskStatus.Running}') FOR UPDATE`,
        [taskId],
      )) as Array<{ status: TaskStatus.Pending | TaskStatus.Running; attempt: number }>;
      if (rows.length === 0) {
        return null;
      }
      await manager.query(
        `UPDATE ${TABLE} SET status = '${TaskStatus.Cancelled}', completed_at = ?, lease_expires_at = NULL,
           attempt = attempt + 1
         WHERE task_id = ?`,
        [at, taskId],
      );
      await appendHistoryOfRows(
        manager,
        { event: TaskHistoryEvent.Cancelled, actor: source.actor, occurredAt: at },
        taskIdIn([taskId]),
      );
      return { from: rows[0].status, attempt: Number(rows[0].attempt) + 1 };
    });
  }

  /**
   * Re-queues a failed or cancelled task as a new run: the run as it ended is archived in
   * `background_task_runs`, then the task is pending again (same task_id and retry_count, run + 1,
   * a new generation) and back in the outbox, with a `retried` history row naming who asked. Returns its command, or null when the task is not
   * failed or cancelled (or unknown).
   */
  async requeueFinished(taskId: string, at: Date, source: HistorySource = {}): Promise<TaskCommand | null> {
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
        `INSERT INTO ${TASK_RUNS_TABLE}
           (task_id, run, status, retry_count, result, error_message, started_at, completed_at, archived_at)
         SELECT task_id, run, status, retry_count, result, error_message, started_at, completed_at, ?
           FROM ${TABLE} WHERE task_id = ?`,
        [at, taskId],
      );
      await manager.query(
        `UPDATE ${TABLE} SET status = '${TaskStatus.Pending}', run = run + 1, attempt = attempt + 1, result = NULL,
           error_message = NULL, started_at = NULL, completed_at = NULL, lease_expires_at = NULL, dispatched_at = NULL,
           due_at = NULL, progress = NULL, progress_message = NULL
         WHERE task_id = ?`,
        [taskId],
      );
      await appendHistoryOfRows(
        manager,
        { event: TaskHistoryEvent.Retried, actor: source.actor, occurredAt: at },
        taskIdIn([taskId]),
      );
      return commandOfRow(row);
    });
  }
}
