import { Inject, Injectable } from '@nestjs/common';
import {
  DurationPercentiles,
  TASK_STATUSES,
  TaskName,
  TaskStatsParams,
  TaskStatsResult,
  TaskStatus,
  TaskTypeStats,
} from '@tasklane/contracts';
import { TaskReportingRepository } from '@tasklane/persistence';
import { HandlesTask, TaskContext, TimeWindow, resolveTimeWindow } from '@tasklane/worker-runtime';

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
 * percentiles of completed tasks, read by nearest rank (one indexed scan per figure).
 */
@Injectable()
export class TaskStatsService {
  constructor(
    @Inject(TaskReportingRepository)
    private readonly reporting: Pick<TaskReportingRepository, 'countByTypeAndStatus' | 'runTimeAtRank'>,
  ) {}

  @HandlesTask(TaskName.AnalyticsTaskStats)
  async compute(params: TaskStatsParams, { signal }: Pick<TaskContext, 'signal'>): Promise<TaskStatsResult> {
    const window = resolveTimeWindow(params);
    const counts = await this.reporting.countByTypeAndStatus({ ...window, taskType: params.task_type });

    const byType = new Map<string, Record<string, number>>();
    for (const row of counts) {
      const statuses = byType.get(row.task_type) ?? Object.fromEntries(TASK_STATUSES.map((status) => [status, 0]));
      statuses[row.status] = row.n;
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
      result[key] = await this.reporting.runTimeAtRank(taskType, window, percentileOffset(p, completed));
    }
    return result;
  }
}
