import {
  TaskEventPage,
  TaskEventResource,
  TaskPage,
  TaskResource,
  TaskRunResource,
  TaskStatus,
  taskDefinition,
} from '@tasklane/contracts';
import {
  BackgroundTask,
  BackgroundTaskEvent,
  BackgroundTaskRun,
  NewTask,
  TaskHistoryPage,
  TaskRowPage,
} from '@tasklane/persistence';
import { encodeListCursor } from './task-cursor';

function iso(date: Date | null): string | null {
  return date === null ? null : date.toISOString();
}

/** A task as the API shows it, from its row. */
export function toTaskResource(row: BackgroundTask): TaskResource {
  return {
    task_id: row.taskId,
    task_name: row.taskName,
    task_type: row.taskType,
    priority: row.priority,
    status: row.status,
    params: row.params ?? {},
    result: row.result ?? null,
    error_message: row.errorMessage,
    retry_count: row.retryCount,
    max_retries: row.maxRetries,
    timeout_ms: row.timeoutMs ?? taskDefinition(row.taskName).defaultTimeoutMs,
    run: row.run,
    created_at: row.createdAt.toISOString(),
    run_at: iso(row.runAt),
    progress: row.progress,
    progress_message: row.progressMessage,
    started_at: iso(row.startedAt),
    completed_at: iso(row.completedAt),
  };
}

/** A task as just inserted: pending, nothing run yet. */
export function toPendingTaskResource(task: NewTask): TaskResource {
  return {
    task_id: task.taskId,
    task_name: task.taskName,
    task_type: task.taskType,
    priority: task.priority,
    status: TaskStatus.Pending,
    params: task.params,
    result: null,
    error_message: null,
    retry_count: 0,
    max_retries: task.maxRetries,
    timeout_ms: task.timeoutMs,
    run: 1,
    created_at: task.createdAt.toISOString(),
    run_at: iso(task.runAt ?? null),
    progress: null,
    progress_message: null,
    started_at: null,
    completed_at: null,
  };
}

/** An earlier run of a task, as archived by a retry. */
export function toTaskRunResource(run: BackgroundTaskRun): TaskRunResource {
  return {
    run: run.run,
    status: run.status,
    retry_count: run.retryCount,
    result: run.result ?? null,
    error_message: run.errorMessage,
    started_at: iso(run.startedAt),
    completed_at: iso(run.completedAt),
    archived_at: run.archivedAt.toISOString(),
  };
}

/** A page of GET /api/tasks, from the page of rows read with `limit` and `offset`. */
export function toTaskPage(page: TaskRowPage, request: { limit: number; offset: number }): TaskPage {
  return {
    items: page.rows.map(toTaskResource),
    total: page.total,
    limit: request.limit,
    offset: request.offset,
    next_cursor: page.next === null ? null : encodeListCursor(page.next),
  };
}

/** One event of a task's history. */
export function toTaskEventResource(event: BackgroundTaskEvent): TaskEventResource {
  return {
    event_id: String(event.id),
    event: event.event,
    run: event.run,
    attempt: event.attempt,
    retry_count: event.retryCount,
    worker_id: event.workerId,
    actor: event.actor,
    message: event.message,
    occurred_at: event.occurredAt.toISOString(),
  };
}

/** A page of GET /api/tasks/{id}/events. */
export function toTaskEventPage(page: TaskHistoryPage): TaskEventPage {
  return { items: page.events.map(toTaskEventResource), next_cursor: page.next };
}
