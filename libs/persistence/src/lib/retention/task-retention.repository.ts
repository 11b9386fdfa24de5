import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TERMINAL_STATUSES } from '@tasklane/contracts';
import { TABLE, placeholders } from '../background-task/task-sql';
import { DatabaseBoundary } from '../database/database-errors';
import { TASK_EVENTS_TABLE } from '../task-history/task-history.sql';
import { TASK_RUNS_TABLE } from '../background-task/task-sql';
import { IDEMPOTENCY_KEYS_TABLE } from '../idempotency/idempotency-key.sql';

export interface PurgeBatch {
  /** Finished tasks older than the cutoff that the batch picked (at most its size). */
  selected: number;
  /** Of them, deleted (one may have been retried meanwhile, and is kept). */
  deleted: number;
}

const FINISHED = placeholders(TERMINAL_STATUSES.length);

/**
 * Retention of `background_tasks`: deletes finished tasks completed before a cutoff — with their
 * history, their archived runs and their idempotency keys, in the same transaction — one bounded batch per call (select
 * ids by primary key, lock and delete them), so a large purge never holds long locks and can stop
 * between batches.
 */
@DatabaseBoundary()
@Injectable()
export class TaskRetentionRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async purgeBatch(completedBefore: Date, batchSize: number): Promise<PurgeBatch> {
    const ids = (
      (await this.dataSource.query(
        `SELECT id FROM ${TABLE} WHERE status IN (${FINISHED}) AND completed_at < ?
          ORDER BY id LIMIT ${Math.max(1, Math.floor(batchSize))}`,
        [...TERMINAL_STATUSES, completedBefore],
      )) as Array<{ id: number }>
    ).map((row) => row.id);
    if (ids.length === 0) {
      return { selected: 0, deleted: 0 };
    }
    return this.dataSource.transaction(async (manager) => {
      // Locked and checked again: one may have been retried since the read, and is kept.
      const doomed = (await manager.query(
        `SELECT id, task_id FROM ${TABLE} WHERE id IN (${placeholders(ids.length)}) AND status IN (${FINISHED})
            ORDER BY id FOR UPDATE`,
        [...ids, ...TERMINAL_STATUSES],
      )) as Array<{ id: number; task_id: string }>;
      if (doomed.length > 0) {
        const taskIds = doomed.map((row) => row.task_id);
        const ofTasks = `task_id IN (${placeholders(taskIds.length)})`;
        await manager.query(`DELETE FROM ${TASK_EVENTS_TABLE} WHERE ${ofTasks}`, taskIds);
        await manager.query(`DELETE FROM ${TASK_RUNS_TABLE} WHERE ${ofTasks}`, taskIds);
        // A key whose task is gone enqueues anew, rather than answering for a task that is not there.
        await manager.query(`DELETE FROM ${IDEMPOTENCY_KEYS_TABLE} WHERE ${ofTasks}`, taskIds);
        await manager.query(
          `DELETE FROM ${TABLE} WHERE id IN (${placeholders(doomed.length)})`,
          doomed.map((row) => row.id),
        );
      }
      return { selected: ids.length, deleted: doomed.length };
    });
  }

  /** Deletes up to `limit` idempotency keys past their retention; returns how many. */
  async purgeExpiredIdempotencyKeys(limit: number): Promise<number> {
    const result = (await this.dataSource.query(
      `DELETE FROM ${IDEMPOTENCY_KEYS_TABLE} WHERE expires_at < UTC_TIMESTAMP(3)
        ORDER BY expires_at LIMIT ${Math.max(1, Math.floor(limit))}`,
    )) as { affectedRows: number };
    return result.affectedRows;
  }
}
