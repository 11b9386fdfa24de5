import { TaskName } from '../../tasks/task-name.enum';
import { TaskStatus } from '../../tasks/task-status.enum';
import { TaskType } from '../../tasks/task-type.enum';

/** A task as the REST API returns it. Timestamps are ISO-8601 UTC with milliseconds, or null. */
export interface TaskResource {
  task_id: string;
  task_name: TaskName;
  task_type: TaskType;
  priority: number;
  status: TaskStatus;
  params: Record<string, unknown>;
  result: unknown;
  error_message: string | null;
  retry_count: number;
  max_retries: number;
  /** How long one attempt may run, in milliseconds. */
  timeout_ms: number;
  /** 1 for the first run; +1 each time the task is re-queued with POST /retry (see /runs). */
  run: number;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
}

export interface TaskPage {
  items: TaskResource[];
  total: number;
  limit: number;
  offset: number;
}

export interface TaskCount {
  count: number;
}

/** One earlier run of a task, archived when the task was re-queued with POST /retry. */
export interface TaskRunResource {
  run: number;
  status: TaskStatus;
  retry_count: number;
  result: unknown;
  error_message: string | null;
  started_at: string | null;
  completed_at: string | null;
  archived_at: string;
}
