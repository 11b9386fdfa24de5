import { TaskStatus, TaskType } from '@tasklane/contracts';

/**
 * Exact task counts without scanning `background_tasks` (migration 006, ADR 0009).
 *
 * Triggers on `background_tasks` append one row to `background_task_count_changes` per insert,
 * delete and change of status or task type, in the writer's own transaction: the change is
 * committed with the row or not at all, whoever writes (the apps, the cleanup worker, an
 * operator's SQL). The tracker periodically folds the changes into `background_task_counts`
 * (one row per task type and status) — delete and add up in one transaction, so a snapshot sees
 * each change either still in the journal or already in the counts, never both or neither. A
 * count reads both tables in one statement: the number of counts rows plus the journal since
 * the last fold, however many tasks the table holds.
 */
export const TASK_COUNTS_TABLE = 'background_task_counts';
export const TASK_COUNT_CHANGES_TABLE = 'background_task_count_changes';

/** One row of the journal: `from_status` NULL for an insert, `to_status` NULL for a delete. */
export interface TaskCountChange {
  task_type: string;
  from_status: string | null;
  to_status: string | null;
}

/** What a batch of journal rows adds to each (task type, status) count. */
export interface TaskCountDelta {
  taskType: string;
  status: string;
  delta: number;
}

/**
 * Adds up journal rows per (task type, status), dropping the sums that cancel out, in key order
 * (so that concurrent folds lock counts rows in one order).
 */
export function sumCountChanges(changes: readonly TaskCountChange[]): TaskCountDelta[] {
  const sums = new Map<string, TaskCountDelta>();
  const add = (taskType: string, status: string, delta: number): void => {
    const key = `${taskType}\u0000${status}`;
    const sum = sums.get(key);
    if (sum) {
      sum.delta += delta;
    } else {
      sums.set(key, { taskType, status, delta });
    }
  };
  for (const change of changes) {
    if (change.from_status !== null) {
      add(change.task_type, change.from_status, -1);
    }
    if (change.to_status !== null) {
      add(change.task_type, change.to_status, 1);
    }
  }
  return [...sums.entries()]
    .filter(([, sum]) => sum.delta !== 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, sum]) => sum);
}

/** The filter a count answers: any combination of status and task type. */
export interface TaskCountFilter {
  status?: TaskStatus;
  taskType?: TaskType;
}

/**
 * One statement (one snapshot) counting the tasks matching `filter`: the folded counts plus the
 * journal rows not folded yet — `+1` where a change moved a task into the filter, `-1` where it
 * moved one out (a change of status within the filter is both).
 */
export function countStatement(filter: TaskCountFilter): { sql: string; params: unknown[] } {
  const countsWhere: string[] = [];
  const countsParams: unknown[] = [];
  const changesWhere: string[] = [];
  const changesParams: unknown[] = [];
  if (filter.taskType !== undefined) {
    countsWhere.push('task_type = ?');
    countsParams.push(filter.taskType);
    changesWhere.push('task_type = ?');
    changesParams.push(filter.taskType);
  }
  let entering = '(to_status IS NOT NULL)';
  let leaving = '(from_status IS NOT NULL)';
  const statusParams: unknown[] = [];
  if (filter.status !== undefined) {
    countsWhere.push('status = ?');
    countsParams.push(filter.status);
    entering = '(to_status <=> ?)';
    leaving = '(from_status <=> ?)';
    statusParams.push(filter.status, filter.status);
    changesWhere.push('(to_status = ? OR from_status = ?)');
    changesParams.push(filter.status, filter.status);
  }
  const where = (clauses: string[]): string => (clauses.length === 0 ? '' : ` WHERE ${clauses.join(' AND ')}`);
  return {
    sql: `SELECT
        (SELECT COALESCE(SUM(n), 0) FROM ${TASK_COUNTS_TABLE}${where(countsWhere)})
      + (SELECT COALESCE(SUM(${entering} - ${leaving}), 0) FROM ${TASK_COUNT_CHANGES_TABLE}${where(changesWhere)})
      AS n`,
    params: [...countsParams, ...statusParams, ...changesParams],
  };
}

/**
 * Statements that recount every task from `background_tasks` (the migration's seed, and
 * `npm run db:recount` after a `TRUNCATE` or a write with the triggers off). They run with the
 * three tables locked, so no write happens between the recount and the journal it replaces.
 */
export const RECOUNT_STATEMENTS = [
  `LOCK TABLES background_tasks WRITE, ${TASK_COUNTS_TABLE} WRITE, ${TASK_COUNT_CHANGES_TABLE} WRITE`,
  `DELETE FROM ${TASK_COUNT_CHANGES_TABLE}`,
  `DELETE FROM ${TASK_COUNTS_TABLE}`,
  `INSERT INTO ${TASK_COUNTS_TABLE} (task_type, status, n)
     SELECT task_type, status, COUNT(*) FROM background_tasks GROUP BY task_type, status`,
] as const;
export const UNLOCK_TABLES = 'UNLOCK TABLES';

/**
 * Runs the recount on one connection (`query`) — after `whileLocked` (the migration creates the
 * triggers there) — unlocking the tables whatever happens.
 */
export async function recountTasks(
  query: (sql: string) => Promise<unknown>,
  whileLocked: readonly string[] = [],
): Promise<void> {
  const [lock, ...recount] = RECOUNT_STATEMENTS;
  try {
    for (const statement of [lock, ...whileLocked, ...recount]) {
      await query(statement);
    }
  } finally {
    await query(UNLOCK_TABLES);
  }
}
