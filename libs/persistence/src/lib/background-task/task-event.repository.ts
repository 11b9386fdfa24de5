import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import {
  TaskEvent,
  TaskEventType,
  TaskFailedEvent,
  TaskHistoryEvent,
  TaskRetryingEvent,
  TaskStatus,
  TaskSucceededEvent,
} from '@tasklane/contracts';
import { TABLE, placeholders } from './task-sql';
import { GuardedRow, eventMayApply, eventTarget } from './event-guard';
import { EVENT_GUARD, caseOf, guardParams, toJson, UpdateResult, updateRows } from './task-guards';
import { DatabaseBoundary } from '../database/database-errors';
import { HistoryEntry, HistorySource, appendHistory, appendHistoryOfRows } from '../task-history/task-history.sql';

/** The history row of a lifecycle event the tracker applied. */
function historyEventOf(event: TaskEvent): TaskHistoryEvent {
  switch (event.event) {
    case TaskEventType.Started:
      return TaskHistoryEvent.Started;
    case TaskEventType.Succeeded:
      return TaskHistoryEvent.Succeeded;
    case TaskEventType.Failed:
      return TaskHistoryEvent.Failed;
    case TaskEventType.Retrying:
      return TaskHistoryEvent.Retrying;
    case TaskEventType.Cancelled:
      return TaskHistoryEvent.Cancelled;
  }
}

function historyEntryOf(event: TaskEvent, run: number): HistoryEntry {
  return {
    taskId: event.task_id,
    event: historyEventOf(event),
    run,
    attempt: event.attempt,
    retryCount: event.retry_count,
    message: 'error_message' in event ? event.error_message : null,
    occurredAt: new Date(event.occurred_at),
  };
}

const FINAL_OUTCOME = `CASE status WHEN '${TaskStatus.Completed}' THEN '${TaskHistoryEvent.Succeeded}' ELSE '${TaskHistoryEvent.Failed}' END`;

export interface EventsApplied {
  applied: number;
  /** Duplicate, late or out-of-order events that would have moved a task backwards. */
  stale: number;
}

/**
 * Lifecycle events: the tracker applies them in batches, a worker records the outcome of its own
 * claim first. Every write is guarded: duplicate, late or reordered events change nothing.
 */
@Injectable()
@DatabaseBoundary()
export class TaskEventRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * Applies lifecycle events in one transaction, with one history row per event applied (one
   * multi-row `INSERT` for the batch). Events that would not move their task forward are counted
   * as stale and change nothing, whatever order the batch arrives in.
   */
  async applyEvents(events: readonly TaskEvent[]): Promise<EventsApplied> {
    if (events.length === 0) {
      return { applied: 0, stale: 0 };
    }
    return this.dataSource.transaction(async (manager) => {
      // One read of every task of the batch, then a guarded UPDATE only for the events that may
      // change something: most events are stale by the time they arrive (the worker's claim and
      // its own outcome write came first), and a skipped event stays stale (eventMayApply).
      const ids = [...new Set(events.map((event) => event.task_id))];
      const rows = (await manager.query(
        `SELECT task_id, status, attempt, retry_count, max_retries, run FROM ${TABLE}
          WHERE task_id IN (${placeholders(ids.length)})`,
        ids,
      )) as Array<GuardedRow & { task_id: string; run: number }>;
      const known = new Map(rows.map((row) => [row.task_id, row]));
      const written = new Set<string>();
      const history: HistoryEntry[] = [];
      let applied = 0;
      for (const event of events) {
        // After a write in this batch the row read above is out of date: let the guard decide.
        if (written.has(event.task_id) || eventMayApply(known.get(event.task_id), event)) {
          const changed = await this.applyEvent(manager, event);
          applied += changed;
          if (changed > 0) {
            written.add(event.task_id);
            history.push(historyEntryOf(event, Number(known.get(event.task_id)?.run ?? 1)));
          }
        }
      }
      await appendHistory(manager, history);
      return { applied, stale: events.length - applied };
    });
  }

  /**
   * A worker records the end of its own claim — succeeded, or failed for good — before it
   * publishes the event, under the same guard as the tracker (so the tracker's later write of that
   * event is a no-op). From then on a cancel finds the task finished (409) instead of overwriting
   * an outcome still on its way to the tracker. False when the claim is no longer held: the task
   * was cancelled or handed back meanwhile, and this outcome must be discarded.
   */
  async recordOutcome(event: TaskSucceededEvent | TaskFailedEvent, source: HistorySource = {}): Promise<boolean> {
    const [recorded] = await this.recordOutcomes([event], source);
    return recorded;
  }

  /**
   * {@link recordOutcome} for many claims at once, in one transaction: one `UPDATE` — each row
   * changes only while it is still `running` under that claim (same task, generation and retry —
   * what the event guard comes down to for a worker's own claim) — and one `INSERT … SELECT` of
   * the history rows of those it changed. Returns, per event, whether it was recorded; when some
   * were not (a cancel or a hand-back came first), one read tells which.
   */
  async recordOutcomes(
    events: ReadonlyArray<TaskSucceededEvent | TaskFailedEvent>,
    source: HistorySource = {},
  ): Promise<boolean[]> {
    if (events.length === 0) {
      return [];
    }
    const ids = events.map((event) => event.task_id);
    const succeeded = (event: TaskSucceededEvent | TaskFailedEvent): event is TaskSucceededEvent =>
      event.event === TaskEventType.Succeeded;
    const finalStatus = (event: TaskSucceededEvent | TaskFailedEvent): TaskStatus =>
      succeeded(event) ? TaskStatus.Completed : TaskStatus.Failed;
    const status = caseOf(
      events.map((event) => [event.task_id, finalStatus(event)]),
      'status',
    );
    // A failed attempt keeps the result column as it was.
    const results = caseOf(
      events.filter(succeeded).map((event) => [event.task_id, toJson(event.result)]),
      'result',
    );
    const errors = caseOf(
      events.map((event) => [event.task_id, succeeded(event) ? null : event.error_message]),
      'error_message',
    );
    const completedAt = caseOf(
      events.map((event) => [event.task_id, new Date(event.occurred_at)]),
      'completed_at',
    );
    return this.dataSource.transaction(async (manager) => {
      const result = await updateRows(
        manager,
        `UPDATE ${TABLE} SET status = ${status.sql}, result = ${results.sql}, error_message = ${errors.sql},
           completed_at = ${completedAt.sql}, lease_expires_at = NULL
         WHERE task_id IN (${placeholders(ids.length)}) AND status = '${TaskStatus.Running}'
           AND (task_id, attempt, retry_count) IN (${placeholders(events.length, '(?, ?, ?)')})`,
        [
          ...status.params,
          ...results.params,
          ...errors.params,
          ...completedAt.params,
          ...ids,
          ...events.flatMap((event) => [event.task_id, event.attempt, event.retry_count]),
        ],
      );
      if (result.affectedRows === 0) {
        return events.map(() => false);
      }
      // Only this worker finishes its own claim: a row final under its generation is its write.
      const recorded =
        result.affectedRows === events.length
          ? new Set(ids)
          : new Set(
              (
                (await manager.query(
                  `SELECT task_id FROM ${TABLE}
                    WHERE (task_id, attempt, status) IN (${placeholders(events.length, '(?, ?, ?)')})`,
                  events.flatMap((event) => [event.task_id, event.attempt, finalStatus(event)]),
                )) as Array<{ task_id: string }>
              ).map((row) => row.task_id),
            );
      await appendHistoryOfRows(
        manager,
        {
          event: { sql: FINAL_OUTCOME },
          workerId: source.workerId,
          message: { sql: 'error_message' },
          occurredAt: { sql: 'completed_at' },
        },
        { sql: `task_id IN (${placeholders(recorded.size)})`, params: [...recorded] },
      );
      return events.map((event) => recorded.has(event.task_id));
    });
  }

  /**
   * A worker records a failed attempt that will be retried — pending again as the next retry, due
   * after its delay, with its `retrying` history row — under its claim (the row still running
   * under that generation and retry), after publishing the retry message and before the
   * `retrying` event: so the retry's claim, however soon it comes, finds the transition already
   * in the table and its history, and the tracker's later write of the event is a no-op. False
   * when the claim is no longer held (cancelled, handed back, or the retry already claimed).
   */
  async recordRetrying(event: TaskRetryingEvent, source: HistorySource = {}): Promise<boolean> {
    const at = new Date(event.occurred_at);
    return this.dataSource.transaction(async (manager) => {
      const result = await updateRows(
        manager,
        `UPDATE ${TABLE} SET status = '${TaskStatus.Pending}', retry_count = retry_count + 1, error_message = ?,
           lease_expires_at = NULL, due_at = ?
         WHERE task_id = ? AND status = '${TaskStatus.Running}' AND attempt = ? AND retry_count = ?
           AND retry_count < max_retries`,
        [event.error_message, new Date(at.getTime() + event.delay_ms), event.task_id, event.attempt, event.retry_count],
      );
      if (result.affectedRows === 0) {
        return false;
      }
      const [{ run }] = (await manager.query(`SELECT run FROM ${TABLE} WHERE task_id = ?`, [event.task_id])) as Array<{
        run: number;
      }>;
      await appendHistory(manager, [{ ...historyEntryOf(event, Number(run)), workerId: source.workerId }]);
      return true;
    });
  }

  private async applyEvent(manager: EntityManager, event: TaskEvent): Promise<number> {
    const at = new Date(event.occurred_at);
    // Where the event moves the task (retry m failing makes it pending as retry m + 1): the same
    // target the tracker's read-ahead (eventMayApply) checks.
    const target = eventTarget(event);
    const m = target.retryCount;
    const guard = [...guardParams(event.task_id, m, target.status), event.attempt];
    let result: UpdateResult;
    switch (event.event) {
      case TaskEventType.Started:
        result = await updateRows(
          manager,
          `UPDATE ${TABLE} SET status = '${TaskStatus.Running}', retry_count = ?, started_at = ? WHERE ${EVENT_GUARD}`,
          [m, at, ...guard],
        );
        break;
      case TaskEventType.Succeeded:
        result = await updateRows(
          manager,
          `UPDATE ${TABLE} SET status = '${TaskStatus.Completed}', retry_count = ?, result = ?, error_message = NULL,
             completed_at = ?, lease_expires_at = NULL WHERE ${EVENT_GUARD}`,
          [m, toJson(event.result), at, ...guard],
        );
        break;
      case TaskEventType.Failed:
        result = await updateRows(
          manager,
          `UPDATE ${TABLE} SET status = '${TaskStatus.Failed}', retry_count = ?, error_message = ?, completed_at = ?,
             lease_expires_at = NULL WHERE ${EVENT_GUARD}`,
          [m, event.error_message, at, ...guard],
        );
        break;
      case TaskEventType.Retrying:
        // Pending again as the next retry: its message waits in a delay queue until `due_at`.
        result = await updateRows(
          manager,
          `UPDATE ${TABLE} SET status = '${TaskStatus.Pending}', retry_count = ?, error_message = ?,
             lease_expires_at = NULL, due_at = ? WHERE ${EVENT_GUARD}`,
          [m, event.error_message, new Date(at.getTime() + event.delay_ms), ...guard],
        );
        break;
      case TaskEventType.Cancelled:
        result = await updateRows(
          manager,
          `UPDATE ${TABLE} SET status = '${TaskStatus.Cancelled}', completed_at = ?, lease_expires_at = NULL
           WHERE ${EVENT_GUARD}`,
          [at, ...guard],
        );
        break;
    }
    return result.affectedRows;
  }
}
