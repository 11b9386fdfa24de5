import { TaskHistoryEvent } from '@tasklane/contracts';
import { TABLE, placeholders } from '../background-task/task-sql';
import { Queryable } from '../background-task/task-guards';

/** A task's history: one row per transition (migration 009). */
export const TASK_EVENTS_TABLE = 'background_task_events';

/** Longest worker id and actor kept (longer ones are cut), as the columns allow. */
export const HISTORY_WORKER_ID_MAX = 128;
export const HISTORY_ACTOR_MAX = 80;

/** A transition to append to a task's history. */
export interface HistoryEntry {
  taskId: string;
  event: TaskHistoryEvent;
  run: number;
  attempt: number;
  retryCount: number;
  workerId?: string | null;
  actor?: string | null;
  message?: string | null;
  occurredAt: Date;
}

/** Who or what made a transition, as recorded beside it. */
export interface HistorySource {
  workerId?: string | null;
  actor?: string | null;
}

const COLUMNS = '(task_id, event, run, attempt, retry_count, worker_id, actor, message, occurred_at)';
const ROW = '(?, ?, ?, ?, ?, ?, ?, ?, ?)';

/** Rows of one statement at most: a batch of 1,000 events is about 150 KB. */
const MAX_ROWS_PER_STATEMENT = 1000;

const cut = (value: string | null | undefined, max: number): string | null =>
  value === undefined || value === null ? null : value.slice(0, max);

/**
 * Appends transitions to the history with multi-row `INSERT`s, on the connection or transaction
 * given — the one that made the transitions, so a transition and its history commit together.
 */
export async function appendHistory(runner: Queryable, entries: readonly HistoryEntry[]): Promise<void> {
  for (let start = 0; start < entries.length; start += MAX_ROWS_PER_STATEMENT) {
    const chunk = entries.slice(start, start + MAX_ROWS_PER_STATEMENT);
    await runner.query(
      `INSERT INTO ${TASK_EVENTS_TABLE} ${COLUMNS} VALUES ${placeholders(chunk.length, ROW)}`,
      chunk.flatMap((entry) => [
        entry.taskId,
        entry.event,
        entry.run,
        entry.attempt,
        entry.retryCount,
        cut(entry.workerId, HISTORY_WORKER_ID_MAX),
        cut(entry.actor, HISTORY_ACTOR_MAX),
        entry.message ?? null,
        entry.occurredAt,
      ]),
    );
  }
}

/** An SQL expression over the task row, inlined as is (a column, a `CASE`). */
export interface RowExpression {
  sql: string;
}

/** A value for a history column: a parameter, or an expression over the task row. */
export type HistoryValue = string | Date | null | RowExpression;

/** What {@link appendHistoryOfRows} records: the task rows give run, attempt and retry. */
export interface HistoryOfRows {
  event: TaskHistoryEvent | RowExpression;
  workerId?: string | null;
  actor?: string | null;
  message?: HistoryValue;
  occurredAt: Date | RowExpression;
}

function column(value: HistoryValue | undefined, params: unknown[]): string {
  if (value === undefined || value === null) {
    return 'NULL';
  }
  if (typeof value === 'object' && !(value instanceof Date)) {
    return value.sql;
  }
  params.push(value);
  return '?';
}

/**
 * Appends one transition per task row matching `where` (over `background_tasks`), as the row
 * stands in this transaction — its run, attempt and retry — with one `INSERT … SELECT`: no read
 * of the rows by the application. Returns how many were appended.
 */
export async function appendHistoryOfRows(
  runner: Queryable,
  entry: HistoryOfRows,
  where: { sql: string; params: unknown[] },
): Promise<number> {
  const params: unknown[] = [];
  const values = [
    column(entry.event, params),
    column(cut(entry.workerId, HISTORY_WORKER_ID_MAX), params),
    column(cut(entry.actor, HISTORY_ACTOR_MAX), params),
    column(entry.message, params),
    column(entry.occurredAt, params),
  ];
  const result = (await runner.query(
    `INSERT INTO ${TASK_EVENTS_TABLE} ${COLUMNS}
     SELECT task_id, ${values[0]}, run, attempt, retry_count, ${values[1]}, ${values[2]}, ${values[3]}, ${values[4]}
       FROM ${TABLE} WHERE ${where.sql}`,
    [...params, ...where.params],
  )) as { affectedRows: number };
  return result.affectedRows;
}

/** `task_id IN (…)` for these tasks. */
export function taskIdIn(taskIds: readonly string[]): { sql: string; params: unknown[] } {
  return { sql: `task_id IN (${placeholders(taskIds.length)})`, params: [...taskIds] };
}
