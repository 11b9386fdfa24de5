import { TimeWindowParams } from './time-window.params';

/** Statistics over tasks created in [from, to). */
export class TaskStatsParams extends TimeWindowParams {}

export interface DurationPercentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

export interface TaskTypeStats {
  task_type: string;
  total: number;
  by_status: Record<string, number>;
  /** failed / (completed + failed); null when nothing has finished. */
  failure_rate: number | null;
  /** Run time (completed_at − started_at) of completed tasks, in milliseconds. */
  duration_ms: DurationPercentiles;
}

export interface TaskStatsResult {
  from: string;
  to: string;
  types: TaskTypeStats[];
}
