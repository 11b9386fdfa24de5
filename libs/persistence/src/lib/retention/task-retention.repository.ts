import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TERMINAL_STATUSES } from '@tasklane/contracts';
import { TABLE, placeholders } from '../background-task/task-sql';
import { DatabaseBoundary } from '../database/database-errors';

export interface PurgeBatch {
  /** Finished tasks older than the cutoff that the batch picked (at most its size). */
  selected: number;
  /** Of them, deleted (one may have been retried meanwhile, and is kept). */
  deleted: number;
}

const FINISHED = placeholders(TERMINAL_STATUSES.length);

/**
 * Retention of `background_tasks`: deletes finished tasks completed before a cutoff, one bounded
 * batch per call (select ids by primary key, then delete them), so a large purge never holds
 * long locks and can stop between batches.
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
    const result = (await this.dataSource.query(
      `DELETE FROM ${TABLE} WHERE id IN (${placeholders(ids.length)}) AND status IN (${FINISHED})`,
      [...ids, ...TERMINAL_STATUSES],
    )) as { affectedRows: number };
    return { selected: ids.length, deleted: result.affectedRows };
  }
}
