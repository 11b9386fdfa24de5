import { ScheduleBody } from '../validate-schedule';

/** A schedule as the API shows it (GET /api/schedules/{schedule_id}): its body, and where it stands. */
export interface ScheduleResource extends ScheduleBody {
  schedule_id: string;
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
