import { TaskPriority } from '../tasks/task-limits';
import { TaskType } from '../tasks/task-type.enum';
import { TaskEventType } from './task-event';

/** Exchanges. Every app declares the whole topology, so nothing is ever published to a missing route. */
export const Exchange = {
  /** Direct exchange; routing key = task type; one queue per type. */
  Tasks: 'tasklane.tasks',
  /** Topic exchange for lifecycle events; routing key = `task.<event>`. */
  Events: 'tasklane.events',
  /** Fanout exchange in front of the dead-letter queue. */
  DeadLetter: 'tasklane.dead-letter',
  /**
   * Fanout exchange of control messages (cancel a running task) to every worker, each through a
   * queue of its own. Best effort: a worker that misses one learns it from its next heartbeat.
   */
  Control: 'tasklane.control',
} as const;

export const Queue = {
  StatusTracker: 'tasklane.status-tracker',
  DeadLetter: 'tasklane.dead-letter',
} as const;

/**
 * Queue priorities run 0..MAX (x-max-priority, fixed when a queue is declared): Tasklane
 * priorities 1..10 map onto 0..9 one to one ({@link brokerPriorityOf}), and the top level is
 * kept for aged tasks ({@link AGED_QUEUE_PRIORITY}).
 */
export const MAX_QUEUE_PRIORITY = TaskPriority.Max;

/**
 * The broker priority of a task that has waited too long behind higher priorities (aging, ADR
 * 0015): above every Tasklane priority, so that no flood of priority-10 tasks keeps it waiting.
 */
export const AGED_QUEUE_PRIORITY = MAX_QUEUE_PRIORITY;

/** The broker priority of a task command: one level below its Tasklane priority (1..10 → 0..9). */
export function brokerPriorityOf(priority: number): number {
  return priority - TaskPriority.Min;
}

export function taskQueueName(type: TaskType): string {
  return `${Exchange.Tasks}.${type}`;
}

/** Routing key of a task command on {@link Exchange.Tasks}. */
export function taskRoutingKey(type: TaskType): string {
  return type;
}

/**
 * A delay level for retries: a fanout exchange and a queue of the same name whose messages
 * expire after `delayMs` and are dead-lettered back to {@link Exchange.Tasks} with their
 * original routing key (the task type). One queue per level, so expiry is always at the head.
 */
export function retryDelayName(delayMs: number): string {
  return `tasklane.retry.${delayMs}ms`;
}

export function eventRoutingKey(type: TaskEventType): string {
  return `task.${type}`;
}

/** Binding of the status tracker's queue: every lifecycle event. */
export const ALL_EVENTS_PATTERN = 'task.*';

/** Headers added to messages sent to the dead-letter queue. */
export const DeadLetterHeader = {
  Reason: 'x-tasklane-reason',
  SourceQueue: 'x-tasklane-source-queue',
} as const;
