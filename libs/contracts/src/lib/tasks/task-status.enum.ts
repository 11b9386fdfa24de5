export enum TaskStatus {
  Pending = 'pending',
  Running = 'running',
  Completed = 'completed',
  Failed = 'failed',
  Cancelled = 'cancelled',
}

export const TASK_STATUSES: readonly TaskStatus[] = Object.values(TaskStatus);

/** Statuses a task never leaves. */
export const TERMINAL_STATUSES: readonly TaskStatus[] = [TaskStatus.Completed, TaskStatus.Failed, TaskStatus.Cancelled];

export function isTerminalStatus(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/**
 * Order of statuses within one attempt (same `retry_count`). A transition is applied only when
 * it moves a task forward: to a higher attempt, or to a higher rank within the same attempt.
 */
export function statusRank(status: TaskStatus): number {
  switch (status) {
    case TaskStatus.Pending:
      return 0;
    case TaskStatus.Running:
      return 1;
    case TaskStatus.Completed:
    case TaskStatus.Failed:
    case TaskStatus.Cancelled:
      return 2;
  }
}
