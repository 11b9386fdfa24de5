import { TasklaneError } from '@tasklane/concurrency';
import { placeholders } from '../background-task/task-sql';
import { Queryable } from '../background-task/task-guards';

/** One row per (caller, idempotency key) while it is retained (migration 010). */
export const IDEMPOTENCY_KEYS_TABLE = 'task_idempotency_keys';

/** An idempotency key a new task is enqueued under. */
export interface IdempotencyClaim {
  /** Whose key it is (the caller: `key:<id>` or `anonymous`): two callers' keys never meet. */
  scope: string;
  key: string;
  /** SHA-256 (hex) of the request as the caller wrote it, defaults applied: same key, other request → conflict. */
  fingerprint: string;
  /** Until when the key returns this task; after it, the same key enqueues anew. */
  expiresAt: Date;
}

/** The task a key already stands for. */
export interface ClaimedKey {
  scope: string;
  key: string;
  fingerprint: string;
  taskId: string;
}

const keyOf = (scope: string, key: string): string => `${scope}\u0000${key}`;

/** Looks up the live and the expired rows of these keys (no locks). */
export async function findKeys(
  runner: Queryable,
  claims: readonly IdempotencyClaim[],
): Promise<{ live: Map<string, ClaimedKey>; expired: IdempotencyClaim[] }> {
  const rows = (await runner.query(
    `SELECT scope, idempotency_key, request_hash, task_id, expires_at <= UTC_TIMESTAMP(3) AS expired
       FROM ${IDEMPOTENCY_KEYS_TABLE} WHERE (scope, idempotency_key) IN (${placeholders(claims.length, '(?, ?)')})`,
    claims.flatMap((claim) => [claim.scope, claim.key]),
  )) as Array<{
    scope: string;
    idempotency_key: string;
    request_hash: string;
    task_id: string;
    expired: number | string;
  }>;
  const live = new Map<string, ClaimedKey>();
  const expired: IdempotencyClaim[] = [];
  const byKey = new Map(claims.map((claim) => [keyOf(claim.scope, claim.key), claim]));
  for (const row of rows) {
    const claim = byKey.get(keyOf(row.scope, row.idempotency_key));
    if (Number(row.expired) === 1) {
      if (claim) {
        expired.push(claim);
      }
      continue;
    }
    live.set(keyOf(row.scope, row.idempotency_key), {
      scope: row.scope,
      key: row.idempotency_key,
      fingerprint: row.request_hash,
      taskId: row.task_id,
    });
  }
  return { live, expired };
}

/** The key's entry in a map returned by {@link findKeys}. */
export function claimedKeyOf(live: Map<string, ClaimedKey>, claim: IdempotencyClaim): ClaimedKey | undefined {
  return live.get(keyOf(claim.scope, claim.key));
}

/** Deletes expired keys by primary key (record locks only, no gap), so they can be claimed again. */
export async function deleteExpiredKeys(runner: Queryable, claims: readonly IdempotencyClaim[]): Promise<void> {
  if (claims.length === 0) {
    return;
  }
  await runner.query(
    `DELETE FROM ${IDEMPOTENCY_KEYS_TABLE}
      WHERE (scope, idempotency_key) IN (${placeholders(claims.length, '(?, ?)')}) AND expires_at <= UTC_TIMESTAMP(3)`,
    claims.flatMap((claim) => [claim.scope, claim.key]),
  );
}

/**
 * Inserts the keys of new tasks. A key inserted meanwhile by a concurrent request makes this fail
 * with a duplicate key (after waiting for that transaction's commit): the caller looks again.
 */
export async function insertKeys(
  runner: Queryable,
  entries: ReadonlyArray<{ claim: IdempotencyClaim; taskId: string; createdAt: Date }>,
): Promise<void> {
  if (entries.length === 0) {
    return;
  }
  await runner.query(
    `INSERT INTO ${IDEMPOTENCY_KEYS_TABLE} (scope, idempotency_key, request_hash, task_id, created_at, expires_at)
     VALUES ${placeholders(entries.length, '(?, ?, ?, ?, ?, ?)')}`,
    entries.flatMap(({ claim, taskId, createdAt }) => [
      claim.scope,
      claim.key,
      claim.fingerprint,
      taskId,
      createdAt,
      claim.expiresAt,
    ]),
  );
}

/**
 * A task was enqueued under a key that already stands for a different request: nothing of the
 * enqueue was written. `index` is the task's position in the enqueue (0 for a single one).
 */
export class IdempotencyKeyMismatch extends TasklaneError {
  readonly transient = false;

  constructor(
    readonly index: number,
    readonly existing: ClaimedKey,
  ) {
    super(`idempotency key ${JSON.stringify(existing.key)} was used for a different request (task ${existing.taskId})`);
  }
}
