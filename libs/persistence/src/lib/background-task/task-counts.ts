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
 * count reads both in one statement: the folded counts of its filter plus the journal since the
 * last fold — a few rows and one fold interval of changes, however many tasks the table holds.
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
 * (the counts rows are then always locked in one order).
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
 * The named lock (`GET_LOCK`) a fold or a recount holds: one at a time, so a recount never
 * overwrites counts a fold updated after the recount's snapshot, and two trackers never fold
 * the same journal rows (one skips its turn).
 */
export const TASK_COUNTS_LOCK = 'tasklane.task_counts';

/** Longest wait of a recount for a fold in progress, seconds. */
const RECOUNT_LOCK_WAIT_SECONDS = 60;

/** Journal rows deleted per statement by a recount. */
const RECOUNT_DELETE_CHUNK = 5_000;

/** Runs one statement on the connection a recount holds and answers its rows. */
export type CountsQuery = (sql: string, params?: unknown[]) => Promise<unknown>;

/**
 * Recounts every task from `background_tasks` (the seed of migration 006, and `npm run
 * db:recount` after a `TRUNCATE` or a write made with the triggers dropped), without locking the
 * table: under the counts lock, in one REPEATABLE READ snapshot S, the counts become what S
 * shows and the journal rows S shows are deleted. A change committed before S is in both the
 * table and the journal as S sees them: counted once, its journal row gone. A change committed
 * after S (or not at all) is in neither: its journal row stays for the next fold. Every
 * statement runs on one connection (`query`), which must not be in a transaction.
 */
export async function recountTasks(query: CountsQuery): Promise<void> {
  const [lock] = (await query('SELECT GET_LOCK(?, ?) AS held', [
    TASK_COUNTS_LOCK,
    RECOUNT_LOCK_WAIT_SECONDS,
  ])) as Array<{ held: number | string | null }>;
  if (Number(lock?.held) !== 1) {
    throw new Error(
      `the task counts lock is held elsewhere (a fold or a recount) for over ${RECOUNT_LOCK_WAIT_SECONDS} s`,
    );
  }
  try {
    await query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    await query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
    try {
      const counts = (await query(
        'SELECT task_type, status, COUNT(*) AS n FROM background_tasks GROUP BY task_type, status',
      )) as Array<{ task_type: string; status: string; n: number | string }>;
      const journaled = (await query(`SELECT id FROM ${TASK_COUNT_CHANGES_TABLE}`)) as Array<{ id: string | number }>;
      for (let start = 0; start < journaled.length; start += RECOUNT_DELETE_CHUNK) {
        const ids = journaled.slice(start, start + RECOUNT_DELETE_CHUNK).map((row) => row.id);
        await query(`DELETE FROM ${TASK_COUNT_CHANGES_TABLE} WHERE id IN (${ids.map(() => '?').join(', ')})`, ids);
      }
      await query(`DELETE FROM ${TASK_COUNTS_TABLE}`);
      if (counts.length > 0) {
        await query(
          `INSERT INTO ${TASK_COUNTS_TABLE} (task_type, status, n) VALUES ${counts.map(() => '(?, ?, ?)').join(', ')}`,
          counts.flatMap((row) => [row.task_type, row.status, Number(row.n)]),
        );
      }
      await query('COMMIT');
    } catch (error) {
      await query('ROLLBACK');
      throw error;
    }
  } finally {
    await query('SELECT RELEASE_LOCK(?)', [TASK_COUNTS_LOCK]);
  }
}
