import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  DurationPercentiles,
  TASK_STATUSES,
  TaskStatsParams,
  TaskStatsResult,
  TaskStatus,
  TaskTypeStats,
} from '@tasklane/contracts';
import { TimeWindow, resolveTimeWindow } from '@tasklane/worker-runtime';

/** Nearest-rank percentile: the 0-based position of the p-th percentile among n sorted values. */
export function percentileOffset(p: number, n: number): number {
  return Math.max(0, Math.ceil(p * n) - 1);
}

export function failureRate(byStatus: Record<string, number>): number | null {
  const failed = byStatus[TaskStatus.Failed] ?? 0;
  const finished = failed + (byStatus[TaskStatus.Completed] ?? 0);
  return finished === 0 ? null : failed / finished;
}

const PERCENTILES: ReadonlyArray<[keyof DurationPercentiles, number]> = [
  ['p50', 0.5],
  ['p95', 0.95],
  ['p99', 0.99],
  ['max', 1],
];

/**
 * Per task type, over tasks created in a window: counts by status, failure rate, and run-time
 * percentiles of completed tasks. Portable SQL (MariaDB and MySQL 8): percentiles are read by
 * nearest rank with ORDER BY … LIMIT 1 OFFSET k, one indexed scan per figure.
 */
@Injectable()
export class TaskStatsService {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async compute(params: TaskStatsParams, signal: AbortSignal): Promise<TaskStatsResult> {
    const window = resolveTimeWindow(params);
    const counts = (await this.dataSource.query(
      `SELECT task_type, status, COUNT(*) AS n FROM background_tasks
        WHERE created_at >= ? AND created_at < ? ${params.task_type ? 'AND task_type = ?' : ''}
        GROUP BY task_type, status ORDER BY task_type`,
      [window.from, window.to, ...(params.task_type ? [params.task_type] : [])],
    )) as Array<{ task_type: string; status: string; n: string | number }>;

    const byType = new Map<string, Record<string, number>>();
    for (const row of counts) {
      const statuses = byType.get(row.task_type) ?? Object.fromEntries(TASK_STATUSES.map((status) => [status, 0]));
      statuses[row.status] = Number(row.n);
      byType.set(row.task_type, statuses);
    }

    const types: TaskTypeStats[] = [];
    for (const [taskType, byStatus] of byType) {
      signal.throwIfAborted();
      types.push({
        task_type: taskType,
        total: Object.values(byStatus).reduce((sum, n) => sum + n, 0),
        by_status: byStatus,
        failure_rate: failureRate(byStatus),
        duration_ms: await this.durations(taskType, byStatus[TaskStatus.Completed] ?? 0, window),
      });
    }
    return { from: window.from.toISOString(), to: window.to.toISOString(), types };
  }

  private async durations(taskType: string, completed: number, window: TimeWindow): Promise<DurationPercentiles> {
    const result: DurationPercentiles = { p50: null, p95: null, p99: null, max: null };
    if (completed === 0) {
      return result;
    }
    for (const [key, p] of PERCENTILES) {
      const rows = (await this.dataSource.query(
        `SELECT TIMESTAMPDIFF(MICROSECOND, started_at, completed_at) AS us FROM background_tasks
          WHERE task_type = ? AND status = ? AND created_at >= ? AND created_at < ? AND started_at IS NOT NULL
          ORDER BY us LIMIT 1 OFFSET ${percentileOffset(p, completed)}`,
        [taskType, TaskStatus.Completed, window.from, window.to],
      )) as Array<{ us: string | number }>;
      result[key] = rows.length === 0 ? null : Number(rows[0].us) / 1000;
    }
    return result;
  }
}
