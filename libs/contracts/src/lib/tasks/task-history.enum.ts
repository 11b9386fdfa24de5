/**
 * What a row of a task's history (`background_task_events`, GET /api/tasks/{id}/events) records:
 * one row per transition of the task, written in the transaction that made it.
 */
export enum TaskHistoryEvent {
  /** Accepted by the gateway (pending, in the outbox). */
  Enqueued = 'enqueued',
  /** Claimed by a worker, which starts it (running): the row names the worker and the attempt. */
  Started = 'started',
  /** An attempt failed and the task waits for its next retry (pending): the row carries the error. */
  Retrying = 'retrying',
  Succeeded = 'succeeded',
  /** Failed for good (retries exhausted, or an unprocessable message): the row carries the error. */
  Failed = 'failed',
  /** Cancelled through the API: the row names who cancelled it. */
  Cancelled = 'cancelled',
  /** Re-queued as a new run through POST /retry: the row names who retried it. */
  Retried = 'retried',
  /** Given back by a worker that stopped before finishing it (pending again, same retry). */
  Released = 'released',
  /** Handed back after its worker's lease expired (the worker died or lost the database). */
  LeaseReclaimed = 'lease_reclaimed',
  /** Its command was published again: pending and dispatched, but its queue had lost it (ADR 0010). */
  Redispatched = 'redispatched',
  /**
   * Waited longer than the aging bound behind higher priorities: its command was published again
   * above every priority (ADR 0015).
   */
  Aged = 'aged',
}

export const TASK_HISTORY_EVENTS: readonly TaskHistoryEvent[] = Object.values(TaskHistoryEvent);
