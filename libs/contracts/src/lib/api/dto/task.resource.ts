import { TaskHistoryEvent } from '../../tasks/task-history.enum';
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
  /** When the task was asked to start (`run_at` / `delay_ms` of its enqueue), or null: as soon as possible. */
  run_at: string | null;
  /** What the running attempt's handler last reported, 0–100 (null: nothing yet; cleared by a new attempt). */
  progress: number | null;
  progress_message: string | null;
  started_at: string | null;
  completed_at: string | null;
}

/** Answer of `GET /api/tasks/`: one page, newest first. */
export interface TaskPage {
  items: TaskResource[];
  /**
   * How many tasks match the filters (all pages), exact, on offset pages — the original API's
   * field. Null on cursor pages: those never count, so that their cost does not grow with the
   * number of matches (`GET /api/tasks/count/all` counts).
   */
  total: number | null;
  limit: number;
  offset: number;
  /** The `cursor` of the next page, or null when this page is the last. */
  next_cursor: string | null;
}

/** Answer of `POST /api/tasks/enqueue/batch`: the tasks created, in the order of the request. */
export interface EnqueueBatchResult {
  tasks: TaskResource[];
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

/** One transition of a task, as `GET /api/tasks/{id}/events` returns it. */
export interface TaskEventResource {
  /** Position of the event (increasing, a decimal string): the page's `next_cursor` is the last one's. */
  event_id: string;
  event: TaskHistoryEvent;
  /** The run (1, then +1 per POST /retry), attempt (claim generation) and retry the event belongs to. */
  run: number;
  attempt: number;
  retry_count: number;
  /** The worker that claimed, gave back or finished the task, when a worker did. */
  worker_id: string | null;
  /** Who asked for it through the API (enqueue, cancel, retry): `anonymous` without API keys, else `key:<id>`. */
  actor: string | null;
  /** The error of a retry or failure, or what happened (a lease that expired), when there is one. */
  message: string | null;
  occurred_at: string;
}

/** Answer of `GET /api/tasks/{id}/events`: one page of the task's history, oldest first. */
export interface TaskEventPage {
  items: TaskEventResource[];
  /** The `cursor` of the next page, or null when this page is the last one so far. */
  next_cursor: string | null;
}
