import { TaskCommand, TaskName, TaskType, taskDefinition } from '@tasklane/contracts';

/** The task table. */
export const TABLE = 'background_tasks';

/** Earlier runs of the tasks, archived by POST /retry (migration 004). */
export const TASK_RUNS_TABLE = 'background_task_runs';

/** `column` is at least `? microseconds` in the past on the database clock (one parameter). */
export const olderThan = (column: string): string => `${column} < DATE_SUB(UTC_TIMESTAMP(3), INTERVAL ? MICROSECOND)`;

/**
 * A pending task's command went out — and, for a retry, it became due — at least `?`
 * microseconds ago (two parameters: the same duration twice). Re-dispatch (ADR 0010) and aging
 * (ADR 0015) both start from it.
 */
export const OUT_AND_DUE_FOR = `dispatched_at IS NOT NULL AND ${olderThan('dispatched_at')} AND (due_at IS NULL OR ${olderThan('due_at')})`;

/** The columns a task's command is made of (see {@link commandOfRow}). */
export const OUTBOX_COLUMNS =
  'id, task_id, task_name, task_type, params, priority, max_retries, retry_count, timeout_ms';

/** A task row as far as its command goes. */
export interface OutboxRow {
  id: string;
  task_id: string;
  task_name: TaskName;
  task_type: TaskType;
  params: string | Record<string, unknown> | null;
  priority: number;
  max_retries: number;
  retry_count: number;
  timeout_ms: number | null;
}

/** The command of a task read from the outbox (the catalogue's timeout when the row has none). */
export function commandOfRow(row: OutboxRow): TaskCommand {
  return {
    task_id: row.task_id,
    task_name: row.task_name,
    task_type: row.task_type,
    params: parseJson(row.params) as never,
    priority: row.priority,
    max_retries: row.max_retries,
    retry_count: row.retry_count,
    timeout_ms: row.timeout_ms ?? taskDefinition(row.task_name).defaultTimeoutMs,
  };
}

/** `count` placeholders (`?` or a tuple such as `(?, ?)`), comma-separated. */
export function placeholders(count: number, each = '?'): string {
  return Array.from({ length: count }, () => each).join(', ');
}

/** A JSON column as mysql2 returns it (a string on MariaDB, where JSON is LONGTEXT), parsed. */
export function parseJson(value: string | Record<string, unknown> | null): Record<string, unknown> {
  if (value === null) {
    return {};
  }
  return typeof value === 'string' ? (JSON.parse(value) as Record<string, unknown>) : value;
}
