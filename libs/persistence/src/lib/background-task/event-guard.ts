import { TaskEvent, TaskEventType, TaskStatus, isTerminalStatus, statusRank } from '@tasklane/contracts';

/** What the guard of an event write looks at in a task's row. */
export interface GuardedRow {
  status: TaskStatus;
  attempt: number;
  retry_count: number;
  max_retries: number;
}

/** The version an event moves a task to: the retry it is about, and the status it brings. */
export function eventTarget(event: TaskEvent): { retryCount: number; status: TaskStatus } {
  switch (event.event) {
    case TaskEventType.Started:
      return { retryCount: event.retry_count, status: TaskStatus.Running };
    case TaskEventType.Succeeded:
      return { retryCount: event.retry_count, status: TaskStatus.Completed };
    case TaskEventType.Failed:
      return { retryCount: event.retry_count, status: TaskStatus.Failed };
    case TaskEventType.Retrying:
      // Retry m failed: the task is pending again, as retry m + 1.
      return { retryCount: event.retry_count + 1, status: TaskStatus.Pending };
    case TaskEventType.Cancelled:
      return { retryCount: event.retry_count, status: TaskStatus.Cancelled };
  }
}

/**
 * The event guard of the repository (`EVENT_GUARD`) evaluated on a row read beforehand: false
 * when the event's write would certainly change nothing — no row, a final status, another
 * generation, or not a step forward. Staleness is permanent (rows only move forward, and a new
 * generation never goes back), so the tracker may skip such an event without its UPDATE; when
 * this says true, the guarded UPDATE still decides.
 */
export function eventMayApply(row: GuardedRow | undefined, event: TaskEvent): boolean {
  return row !== undefined && Number(row.attempt) === event.attempt && movesForward(row, eventTarget(event));
}

/**
 * The forward-only guard of the repository (`FORWARD_GUARD`) on a row read beforehand: whether
 * writing `target` would move the task forward — not in a final status, the retry allowed, and a
 * higher version (retry, then status rank) than the row holds.
 */
export function movesForward(
  row: Omit<GuardedRow, 'attempt'>,
  target: { retryCount: number; status: TaskStatus },
): boolean {
  if (isTerminalStatus(row.status)) {
    return false;
  }
  const retryCount = Number(row.retry_count);
  return (
    target.retryCount <= Number(row.max_retries) &&
    (retryCount < target.retryCount ||
      (retryCount === target.retryCount && statusRank(row.status) < statusRank(target.status)))
  );
}
