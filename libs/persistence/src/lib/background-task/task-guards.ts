import { DataSource, EntityManager } from 'typeorm';
import { TASK_STATUSES, TaskStatus, statusRank } from '@tasklane/contracts';

/*
 * The SQL every writer of `background_tasks` shares: the forward-only guard that keeps a status
 * from going backwards, the fencing token, the lease clock and the hand-back of a claim.
 */

const ACTIVE_STATUSES = TASK_STATUSES.filter((status) => statusRank(status) < statusRank(TaskStatus.Completed));
const ACTIVE_SQL = ACTIVE_STATUSES.map((status) => `'${status}'`).join(', ');
const RANK_SQL = `CASE status ${TASK_STATUSES.map((status) => `WHEN '${status}' THEN ${statusRank(status)}`).join(' ')} END`;

/**
 * Moves a task forward and never backwards. The version of a task is the pair
 * (retry_count, rank of status); a write applies only when it carries a higher version than the
 * row holds, and never to a task in a terminal status. Duplicate, late and reordered writes
 * therefore match no row and change nothing.
 */
export const FORWARD_GUARD = `task_id = ? AND status IN (${ACTIVE_SQL}) AND ? <= max_retries
  AND (retry_count < ? OR (retry_count = ? AND ${RANK_SQL} < ?))`;

/**
 * An event also carries the `attempt` of the claim that produced it (a fencing token): once a
 * claim is released or reclaimed, the events of the worker that held it change nothing.
 */
export const EVENT_GUARD = `${FORWARD_GUARD} AND attempt = ?`;

/** `now + ? microseconds` on the database's clock, the one clock all leases are compared on. */
export const LEASE_UNTIL = 'DATE_ADD(UTC_TIMESTAMP(3), INTERVAL ? MICROSECOND)';

/** Hands a claimed task back to the queue: pending again, a new generation, back in the outbox. */
export const HAND_BACK = `status = '${TaskStatus.Pending}', started_at = NULL, lease_expires_at = NULL,
  dispatched_at = NULL, due_at = NULL, attempt = attempt + 1, progress = NULL, progress_message = NULL`;

/** The parameters of {@link FORWARD_GUARD} for moving a task to retry `retryCount` in `status`. */
export function guardParams(taskId: string, retryCount: number, status: TaskStatus): unknown[] {
  return [taskId, retryCount, retryCount, retryCount, statusRank(status)];
}

/** A value as the JSON text of a JSON column (`undefined` as `null`). */
export function toJson(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

export interface UpdateResult {
  affectedRows: number;
}

/** `CASE task_id WHEN ? THEN ? … ELSE <otherwise> END` and its parameters (just `otherwise` for no pairs). */
export function caseOf(pairs: Array<[string, unknown]>, otherwise: string): { sql: string; params: unknown[] } {
  if (pairs.length === 0) {
    return { sql: otherwise, params: [] };
  }
  return {
    sql: `CASE task_id ${pairs.map(() => 'WHEN ? THEN ?').join(' ')} ELSE ${otherwise} END`,
    params: pairs.flat(),
  };
}

/** A connection or a transaction to run a statement on. */
export type Queryable = Pick<DataSource | EntityManager, 'query'>;

/** Runs an `UPDATE` (or `DELETE`) and returns how many rows it changed. */
export async function updateRows(runner: Queryable, sql: string, params: unknown[]): Promise<UpdateResult> {
  return (await runner.query(sql, params)) as UpdateResult;
}
