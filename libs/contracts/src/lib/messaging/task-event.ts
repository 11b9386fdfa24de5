import { TaskName } from '../tasks/task-name.enum';
import { TaskType } from '../tasks/task-type.enum';

export enum TaskEventType {
  Started = 'started',
  Succeeded = 'succeeded',
  Failed = 'failed',
  Retrying = 'retrying',
  Cancelled = 'cancelled',
}

export const TASK_EVENT_TYPES: readonly TaskEventType[] = Object.values(TaskEventType);

interface TaskEventBase {
  task_id: string;
  task_name: TaskName;
  task_type: TaskType;
  /** The retry the event is about: 0 for the first run, n for the n-th retry. */
  retry_count: number;
  /**
   * The claim that produced the event (the row's `attempt` after the worker claimed it): a
   * fencing token. Events of a claim that was since released or reclaimed are ignored.
   */
  attempt: number;
  /** When it happened, ISO-8601 UTC. */
  occurred_at: string;
}

export interface TaskStartedEvent extends TaskEventBase {
  event: TaskEventType.Started;
}

export interface TaskSucceededEvent extends TaskEventBase {
  event: TaskEventType.Succeeded;
  result: unknown;
}

export interface TaskFailedEvent extends TaskEventBase {
  event: TaskEventType.Failed;
  error_message: string;
}

/** The attempt failed and the task goes back to `pending` as attempt `retry_count + 1`. */
export interface TaskRetryingEvent extends TaskEventBase {
  event: TaskEventType.Retrying;
  error_message: string;
  delay_ms: number;
}

export interface TaskCancelledEvent extends TaskEventBase {
  event: TaskEventType.Cancelled;
}

export type TaskEvent =
  | TaskStartedEvent
  | TaskSucceededEvent
  | TaskFailedEvent
  | TaskRetryingEvent
  | TaskCancelledEvent;
