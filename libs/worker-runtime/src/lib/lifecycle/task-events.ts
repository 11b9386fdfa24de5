import { TaskEventType, TaskFailedEvent, TaskSucceededEvent } from '@tasklane/contracts';
import { RunningTask } from './running-tasks';
import { TaskOutcome } from './task-outcome';

export type FinalEvent = TaskSucceededEvent | TaskFailedEvent;

/** The fields every lifecycle event of a run carries, its claim's generation included. */
export function eventBase(task: RunningTask) {
  const { task_id, task_name, task_type, retry_count } = task.command;
  return { task_id, task_name, task_type, retry_count, attempt: task.attempt };
}

/** The final event of an outcome (`succeeded`, or `failed` for good); null for a retry. */
export function finalEventOf(task: RunningTask, outcome: TaskOutcome, at = new Date()): FinalEvent | null {
  const base = { ...eventBase(task), occurred_at: at.toISOString() };
  switch (outcome.kind) {
    case 'succeeded':
      return { event: TaskEventType.Succeeded, ...base, result: outcome.result };
    case 'failed':
      return { event: TaskEventType.Failed, ...base, error_message: outcome.errorMessage };
    case 'retry':
      return null;
  }
}
