import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DatabaseBoundary } from '../database/database-errors';
import { BackgroundTaskEvent } from './background-task-event.entity';
import { TASK_EVENTS_TABLE } from './task-history.sql';

/** A page of a task's history: events after `afterId`, oldest first. */
export interface TaskHistoryPage {
  events: BackgroundTaskEvent[];
  /** The id to continue after, or null when this page holds the last event so far. */
  next: string | null;
}

/**
 * Reads of a task's history. Its rows are written by the repositories that move the task, in
 * the same transactions (see task-history.sql.ts); they are deleted with the task by retention.
 */
@Injectable()
@DatabaseBoundary()
export class TaskHistoryRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /** Up to `limit` events of a task after the event `afterId`, oldest first (keyset on the `(task_id, id)` index). */
  async page(taskId: string, limit: number, afterId?: string): Promise<TaskHistoryPage> {
    const rows = await this.dataSource
      .getRepository(BackgroundTaskEvent)
      .createQueryBuilder('e')
      .where('e.task_id = :taskId AND e.id > :afterId', { taskId, afterId: afterId ?? '0' })
      .orderBy('e.id', 'ASC')
      .limit(limit + 1)
      .getMany();
    const more = rows.length > limit;
    const events = more ? rows.slice(0, limit) : rows;
    return { events, next: more ? events[events.length - 1].id : null };
  }

  /** How many history rows the table holds, for these tasks (tests, the retention report). */
  async countOf(taskIds: readonly string[]): Promise<number> {
    if (taskIds.length === 0) {
      return 0;
    }
    const [row] = (await this.dataSource.query(
      `SELECT COUNT(*) AS n FROM ${TASK_EVENTS_TABLE} WHERE task_id IN (${taskIds.map(() => '?').join(', ')})`,
      [...taskIds],
    )) as Array<{ n: string | number }>;
    return Number(row.n);
  }
}
