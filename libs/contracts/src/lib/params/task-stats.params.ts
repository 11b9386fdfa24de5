import { IsEnum, IsOptional } from 'class-validator';
import { IsIsoTimestamp } from '../validation/is-iso-timestamp';
import { TaskType } from '../tasks/task-type.enum';

/** Statistics over tasks created in [from, to). */
export class TaskStatsParams {
  /** Start of the window (inclusive, ISO-8601). Defaults to 24 hours before `to`. */
  @IsOptional()
  @IsIsoTimestamp()
  from?: string;

  /** End of the window (exclusive, ISO-8601). Defaults to now. */
  @IsOptional()
  @IsIsoTimestamp()
  to?: string;

  @IsOptional()
  @IsEnum(TaskType)
  task_type?: TaskType;
}

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
