import { TaskResource, taskDefinition } from '@tasklane/contracts';
import { BackgroundTask } from './background-task.entity';

function iso(date: Date | null): string | null {
  return date === null ? null : date.toISOString();
}

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
    started_at: iso(row.startedAt),
    completed_at: iso(row.completedAt),
  };
}
