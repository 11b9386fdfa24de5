import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TaskStatus, TaskType } from '@tasklane/contracts';
import { TABLE } from '../background-task/task-sql';
import { DatabaseBoundary } from '../database/database-errors';

/** Tasks created in `[from, to)`, optionally of one type. */
export interface ReportWindow {
  from: Date;
  to: Date;
  taskType?: TaskType;
}

/** A task as the summary report lists it. */
export interface ReportTaskRow {
  id: number;
  task_id: string;
  task_name: string;
  task_type: string;
  priority: number;
  status: string;
  retry_count: number;
  created_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
  error_message: string | null;
}

export interface StatusCount {
  task_type: string;
  status: string;
  n: number;
}

const ofType = (window: ReportWindow): { sql: string; params: string[] } =>
  window.taskType ? { sql: 'AND task_type = ?', params: [window.taskType] } : { sql: '', params: [] };

/**
 * The read-only SQL of the report and analytics workers over `background_tasks`: keyset pages of
 * a window, counts by type and status, and run-time ranks. Portable SQL (MariaDB and MySQL 8).
 */
@DatabaseBoundary()
@Injectable()
export class TaskReportingRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /** Up to `limit` tasks of the window with an id above `afterId`, by id (a keyset page). */
  async page(window: ReportWindow, afterId: number, limit: number): Promise<ReportTaskRow[]> {
    const type = ofType(window);
    return (await this.dataSource.query(
      `SELECT id, task_id, task_name, task_type, priority, status, retry_count, created_at, started_at,
              completed_at, error_message
         FROM ${TABLE}
        WHERE created_at >= ? AND created_at < ? AND id > ? ${type.sql}
        ORDER BY id LIMIT ${Math.max(1, Math.floor(limit))}`,
      [window.from, window.to, afterId, ...type.params],
    )) as ReportTaskRow[];
  }

  /** Tasks of the window by type and status (only the pairs that occur), ordered by type. */
  async countByTypeAndStatus(window: ReportWindow): Promise<StatusCount[]> {
    const type = ofType(window);
    const rows = (await this.dataSource.query(
      `SELECT task_type, status, COUNT(*) AS n FROM ${TABLE}
        WHERE created_at >= ? AND created_at < ? ${type.sql}
        GROUP BY task_type, status ORDER BY task_type`,
      [window.from, window.to, ...type.params],
    )) as Array<{ task_type: string; status: string; n: string | number }>;
    return rows.map((row) => ({ task_type: row.task_type, status: row.status, n: Number(row.n) }));
  }

  /**
   * The run time (ms) of the completed task of `taskType` in the window at 0-based position
   * `offset` by run time — one indexed scan per figure (nearest-rank percentiles); null past the end.
   */
  async runTimeAtRank(
    taskType: string,
    window: Omit<ReportWindow, 'taskType'>,
    offset: number,
  ): Promise<number | null> {
    const rows = (await this.dataSource.query(
      `SELECT TIMESTAMPDIFF(MICROSECOND, started_at, completed_at) AS us FROM ${TABLE}
        WHERE task_type = ? AND status = ? AND created_at >= ? AND created_at < ? AND started_at IS NOT NULL
        ORDER BY us LIMIT 1 OFFSET ${Math.max(0, Math.floor(offset))}`,
      [taskType, TaskStatus.Completed, window.from, window.to],
    )) as Array<{ us: string | number }>;
    return rows.length === 0 ? null : Number(rows[0].us) / 1000;
  }
}
