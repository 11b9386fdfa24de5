import { TaskName } from '../../tasks/task-name.enum';
import { TaskType } from '../../tasks/task-type.enum';
import { ScheduleMissedPolicy } from '../schedule-limits';

/** A schedule as the API shows it (GET /api/schedules/{schedule_id}). */
export interface ScheduleResource {
  schedule_id: string;
  name: string;
  cron: string;
  timezone: string;
  missed: ScheduleMissedPolicy;
  enabled: boolean;
  task_name: TaskName;
  task_type: TaskType;
  params: Record<string, unknown>;
  priority: number;
  max_retries: number;
  timeout_ms: number;
  /** The next tick that will fire (ISO-8601, UTC); null while paused. */
  next_run_at: string | null;
  /** The tick that fired last, and the task it enqueued; null before the first. */
  last_run_at: string | null;
  last_task_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface SchedulePage {
  items: ScheduleResource[];
  /** Pass as `cursor` for the next page; null on the last. */
  next_cursor: string | null;
}
