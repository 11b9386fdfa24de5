import { TaskStatus, TaskType } from '@tasklane/contracts';
import { Queryable } from '../background-task/task-guards';
import { TABLE } from '../background-task/task-sql';

/** One row per task type whose claims are limited: the lock they take, and the rate limit's token bucket. */
export const TASK_TYPE_LIMITS_TABLE = 'task_type_limits';

/** How long a claim held back by the concurrency limit waits before it asks again. */
export const CONCURRENCY_LIMIT_RETRY_MS = 100;

/**
 * Limits on the tasks of one type across every worker replica (ADR 0015), each null for none:
 * how many may run at once, and how many may start per second (a token bucket holding up to one
 * second's worth, at least one).
 */
export interface TypeLimits {
  taskType: TaskType;
  maxRunning: number | null;
  perSecond: number | null;
}

/** How many claims of the type may start now. */
export interface Allowance {
  allowed: number;
  /**
   * Records that `count` (≤ `allowed`) claims start — their tokens are taken — and answers when
   * the claims held back should ask again (ms).
   */
  take(count: number): Promise<number>;
}

/** The bucket's size: one second's worth of tokens, at least one. */
function burstOf(perSecond: number): number {
  return Math.max(1, Math.ceil(perSecond));
}

/**
 * Locks the type's limit row — every claim of a limited type takes it first, so claims of the
 * type from every replica are decided one after the other — and works out the allowance: the
 * room under `maxRunning` (the type's running rows, counted off `(task_type, status)`) and the
 * whole tokens in the bucket, refilled for the time since it was last used.
 */
export async function lockAllowance(runner: Queryable, limits: TypeLimits): Promise<Allowance> {
  const { taskType, maxRunning, perSecond } = limits;
  const burst = perSecond === null ? 0 : burstOf(perSecond);
  const lockBucket = async () =>
    (await runner.query(
      `SELECT tokens, DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%d %H:%i:%s.%f') AS now,
              GREATEST(0, TIMESTAMPDIFF(MICROSECOND, refilled_at, UTC_TIMESTAMP(6))) AS elapsed_us
         FROM ${TASK_TYPE_LIMITS_TABLE} WHERE task_type = ? FOR UPDATE`,
      [taskType],
    )) as Array<{ tokens: number | string; now: string; elapsed_us: number | string }>;
  let [bucket] = await lockBucket();
  if (bucket === undefined) {
    // The type's first limited claim creates its row (a full bucket); a concurrent one may have.
    await runner.query(
      `INSERT IGNORE INTO ${TASK_TYPE_LIMITS_TABLE} (task_type, tokens, refilled_at) VALUES (?, ?, UTC_TIMESTAMP(6))`,
      [taskType, burst],
    );
    [bucket] = await lockBucket();
  }
  let room = Number.POSITIVE_INFINITY;
  if (maxRunning !== null) {
    const [running] = (await runner.query(
      `SELECT COUNT(*) AS n FROM ${TABLE} FORCE INDEX (idx_background_tasks_task_type_status)
        WHERE task_type = ? AND status = '${TaskStatus.Running}'`,
      [taskType],
    )) as Array<{ n: number | string }>;
    room = Math.max(0, maxRunning - Number(running.n));
  }
  const tokens =
    perSecond === null
      ? Number.POSITIVE_INFINITY
      : Math.min(burst, Number(bucket.tokens) + (Number(bucket.elapsed_us) / 1e6) * perSecond);
  return {
    allowed: Math.min(room, Math.floor(tokens)),
    take: async (count) => {
      // Held back by the concurrency limit: a slot frees when a task of the type ends.
      let retryAfterMs = count >= room ? CONCURRENCY_LIMIT_RETRY_MS : 0;
      if (perSecond !== null) {
        const left = tokens - count;
        if (left < 1) {
          // The next token comes after this long.
          retryAfterMs = Math.max(retryAfterMs, Math.ceil(((1 - left) / perSecond) * 1000));
        }
        await runner.query(`UPDATE ${TASK_TYPE_LIMITS_TABLE} SET tokens = ?, refilled_at = ? WHERE task_type = ?`, [
          left,
          bucket.now,
          taskType,
        ]);
      }
      return retryAfterMs;
    },
  };
}
