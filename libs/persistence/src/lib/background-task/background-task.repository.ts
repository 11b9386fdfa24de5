import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { retryWithBackoff } from '@tasklane/concurrency';
import {
  TASK_STATUSES,
  TaskRunResource,
  TaskCommand,
  TaskEvent,
  TaskFailedEvent,
  TaskSucceededEvent,
  TaskEventType,
  TaskListPosition,
  TaskName,
  TaskPage,
  TaskResource,
  TaskStatus,
  TaskType,
  decodeTaskCursor,
  encodeTaskCursor,
  statusRank,
} from '@tasklane/contracts';
import { BackgroundTask } from './background-task.entity';
import { BackgroundTaskRun } from './background-task-run.entity';
import { toTaskResource } from './background-task.mapper';
import { isDeadlock } from '../database/database-errors';
import { OUTBOX_COLUMNS, OutboxRow, TABLE, commandOfRow, placeholders } from './task-sql';
import { GuardedRow, eventMayApply, eventTarget, movesForward } from './event-guard';
import {
  TASK_COUNT_CHANGES_TABLE,
  TASK_COUNTS_LOCK,
  TASK_COUNTS_TABLE,
  TaskCountChange,
  countStatement,
  sumCountChanges,
} from './task-counts';

export interface NewTask {
  taskId: string;
  taskName: TaskName;
  taskType: TaskType;
  priority: number;
  params: Record<string, unknown>;
  maxRetries: number;
  timeoutMs: number;
  createdAt: Date;
}

export interface TaskFilter {
  status?: TaskStatus;
  taskType?: TaskType;
}

/** Which page of a list: `limit` tasks, after `cursor` (a `next_cursor`) or from `offset` on. */
export interface TaskPageRequest {
  limit: number;
  offset: number;
  cursor?: string;
}

/** The condition of a list on the columns of `background_tasks`, with named parameters. */
function matching(filter: TaskFilter, after?: TaskListPosition): { sql: string; parameters: Record<string, unknown> } {
  const clauses: string[] = [];
  const parameters: Record<string, unknown> = {};
  if (filter.status !== undefined) {
    clauses.push('status = :status');
    parameters['status'] = filter.status;
  }
  if (filter.taskType !== undefined) {
    clauses.push('task_type = :taskType');
    parameters['taskType'] = filter.taskType;
  }
  if (after !== undefined) {
    // (created_at, id) < (:afterCreatedAt, :afterId), spelled out: two ranges of the index.
    clauses.push('(created_at < :afterCreatedAt OR (created_at = :afterCreatedAt AND id < :afterId))');
    parameters['afterCreatedAt'] = new Date(after.createdAtMs);
    parameters['afterId'] = after.id;
  }
  return { sql: clauses.length === 0 ? 'TRUE' : clauses.join(' AND '), parameters };
}

/**
 * The index that yields the tasks matching `filter` newest first, in (created_at, id) order —
 * `created_at` is the order clients see (assigned by the gateway that accepted the task, it need
 * not follow the row ids of concurrent inserts), and InnoDB appends the primary key to every
 * secondary index, so `(status, created_at)` is in effect `(status, created_at, id)` (migration
 * 008). Named in the query because MariaDB, left to itself with `ORDER BY … LIMIT n`, may scan
 * another index filtering every row, or read a `ref` on the prefix without using the cursor's
 * range. Forced, every page is a range of at most `offset + limit` index entries.
 */
function listIndex(filter: TaskFilter): string {
  if (filter.status !== undefined && filter.taskType !== undefined) {
    return 'idx_background_tasks_task_type_status_created_at';
  }
  if (filter.status !== undefined) {
    return 'idx_background_tasks_status_created_at';
  }
  return filter.taskType !== undefined
    ? 'idx_background_tasks_task_type_created_at'
    : 'idx_background_tasks_created_at';
}

export interface EventsApplied {
  applied: number;
  /** Duplicate, late or out-of-order events that would have moved a task backwards. */
  stale: number;
}

const ACTIVE_STATUSES = TASK_STATUSES.filter((status) => statusRank(status) < statusRank(TaskStatus.Completed));
const ACTIVE_SQL = ACTIVE_STATUSES.map((status) => `'${status}'`).join(', ');
const RANK_SQL = `CASE status ${TASK_STATUSES.map((status) => `WHEN '${status}' THEN ${statusRank(status)}`).join(' ')} END`;

/**
 * Moves a task forward and never backwards. The version of a task is the pair
 * (retry_count, rank of status); a write applies only when it carries a higher version than the
 * row holds, and never to a task in a terminal status. Duplicate, late and reordered writes
 * therefore match no row and change nothing.
 */
const FORWARD_GUARD = `task_id = ? AND status IN (${ACTIVE_SQL}) AND ? <= max_retries
  AND (retry_count < ? OR (retry_count = ? AND ${RANK_SQL} < ?))`;

/**
 * An event also carries the `attempt` of the claim that produced it (a fencing token): once a
 * claim is released or reclaimed, the events of the worker that held it change nothing.
 */
const EVENT_GUARD = `${FORWARD_GUARD} AND attempt = ?`;

/** `now + ? microseconds` on the database's clock, the one clock all leases are compared on. */
const LEASE_UNTIL = 'DATE_ADD(UTC_TIMESTAMP(3), INTERVAL ? MICROSECOND)';

/** Hands a claimed task back to the queue: pending again, a new generation, back in the outbox. */
const HAND_BACK = `status = '${TaskStatus.Pending}', started_at = NULL, lease_expires_at = NULL,
  dispatched_at = NULL, due_at = NULL, attempt = attempt + 1`;

/** What a cancel did: the status the task left and the generation it now has. */
export interface CancelResult {
  from: TaskStatus.Pending | TaskStatus.Running;
  attempt: number;
}

/** A worker's request to claim retry `retryCount` of a task. */
export interface ClaimRequest {
  taskId: string;
  retryCount: number;
}

/** A claim won: its generation, and when it started (the group's time, on the worker's clock). */
export interface ClaimWon {
  attempt: number;
  startedAt: Date;
}

/** Times a group claim is tried again after the database chose it as a deadlock victim. */
const CLAIM_DEADLOCK_RETRIES = 3;

/** A claim held by a worker: the task and the generation it claimed. */
export interface Claim {
  taskId: string;
  attempt: number;
}

function toJson(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

interface UpdateResult {
  affectedRows: number;
}

/** `CASE task_id WHEN ? THEN ? … ELSE <otherwise> END` and its parameters (just `otherwise` for no pairs). */
function caseOf(pairs: Array<[string, unknown]>, otherwise: string): { sql: string; params: unknown[] } {
  if (pairs.length === 0) {
    return { sql: otherwise, params: [] };
  }
  return {
    sql: `CASE task_id ${pairs.map(() => 'WHEN ? THEN ?').join(' ')} ELSE ${otherwise} END`,
    params: pairs.flat(),
  };
}

const INSERT_PENDING = `INSERT INTO ${TABLE}
  (task_id, task_name, task_type, priority, status, params, retry_count, max_retries, timeout_ms, created_at)
  VALUES`;
const PENDING_ROW = `(?, ?, ?, ?, '${TaskStatus.Pending}', ?, 0, ?, ?, ?)`;

/**
 * Largest multi-row `INSERT` of a batch, estimated in bytes (params doubled for escaping). Below
 * MariaDB's default `max_allowed_packet` (16 MiB) and MySQL 8's (64 MiB) with room to spare; a
 * batch of 1,000 small tasks is about 200 KB, one statement.
 */
export const MAX_INSERT_STATEMENT_BYTES = 4 * 1_048_576;

function pendingRowParams(task: NewTask): unknown[] {
  return [
    task.taskId,
    task.taskName,
    task.taskType,
    task.priority,
    toJson(task.params),
    task.maxRetries,
    task.timeoutMs,
    task.createdAt,
  ];
}

/** A task as just inserted: pending, nothing run yet. */
function pendingResource(task: NewTask): TaskResource {
  return {
    task_id: task.taskId,
    task_name: task.taskName,
    task_type: task.taskType,
    priority: task.priority,
    status: TaskStatus.Pending,
    params: task.params,
    result: null,
    error_message: null,
    retry_count: 0,
    max_retries: task.maxRetries,
    timeout_ms: task.timeoutMs,
    run: 1,
    created_at: task.createdAt.toISOString(),
    started_at: null,
    completed_at: null,
  };
}

/** The only place that writes task state. Every transition is one guarded statement. */
@Injectable()
export class BackgroundTaskRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async insertPending(task: NewTask): Promise<TaskResource> {
    await this.dataSource.query(`${INSERT_PENDING} ${PENDING_ROW}`, pendingRowParams(task));
    return pendingResource(task);
  }

  /**
   * Inserts many pending tasks all or nothing: one transaction, normally one multi-row `INSERT`
   * (a batch whose statement would exceed {@link MAX_INSERT_STATEMENT_BYTES} — huge params — is
   * split into several statements in the same transaction, below any server's
   * `max_allowed_packet`). Every row is in the outbox once this resolves. Returns the tasks in
   * the order given.
   */
  async insertPendingBatch(tasks: readonly NewTask[]): Promise<TaskResource[]> {
    if (tasks.length === 0) {
      return [];
    }
    const rows = tasks.map(pendingRowParams);
    const chunks: unknown[][][] = [[]];
    let bytes = 0;
    for (const row of rows) {
      const rowBytes = 200 + Buffer.byteLength(row[4] as string) * 2;
      const current = chunks[chunks.length - 1];
      if (current.length > 0 && bytes + rowBytes > MAX_INSERT_STATEMENT_BYTES) {
        chunks.push([row]);
        bytes = rowBytes;
      } else {
        current.push(row);
        bytes += rowBytes;
      }
    }
    const insert = (runner: { query: DataSource['query'] }, chunk: unknown[][]) =>
      runner.query(
        `${INSERT_PENDING} ${placeholders(chunk.length, PENDING_ROW)}`,
        chunk.flatMap((row) => row),
      );
    if (chunks.length === 1) {
      // One statement is atomic on its own: no transaction round trips.
      await insert(this.dataSource, chunks[0]);
    } else {
      await this.dataSource.transaction(async (manager) => {
        for (const chunk of chunks) {
          await insert(manager, chunk);
        }
      });
    }
    return tasks.map(pendingResource);
  }

  /** Records that the broker confirmed the commands of these tasks: they leave the outbox. */
  async markDispatched(taskIds: readonly string[], at: Date): Promise<void> {
    if (taskIds.length === 0) {
      return;
    }
    await this.dataSource.query(
      `UPDATE ${TABLE} SET dispatched_at = ? WHERE task_id IN (${placeholders(taskIds.length)}) AND dispatched_at IS NULL`,
      [at, ...taskIds],
    );
  }

  /**
   * The outbox relay: in one transaction, locks up to `limit` pending tasks whose command was
   * never confirmed by the broker (older than `minAgeMs`, so the gateway's own publish goes
   * first), hands their commands to `publish` (which resolves once all are confirmed), and marks
   * them dispatched. Rows locked by another relay are skipped. Returns how many were relayed.
   */
  async relayOutbox(
    minAgeMs: number,
    limit: number,
    publish: (commands: TaskCommand[]) => Promise<void>,
  ): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
      // The candidates are found without locks, then locked by primary key. A locking scan would
      // also lock every row (and gap) it merely passes over — beyond the LIMIT (filesort), young
      // rows, the gateway's inserts — for as long as the publish takes, and under some plans
      // (index_merge) MariaDB waits for locked rows instead of skipping them.
      const candidates = (await manager.query(
        `SELECT id FROM ${TABLE}
          WHERE dispatched_at IS NULL AND status = '${TaskStatus.Pending}'
            AND created_at < DATE_SUB(UTC_TIMESTAMP(3), INTERVAL ? MICROSECOND)
          ORDER BY id LIMIT ${Math.max(1, Math.floor(limit))}`,
        [minAgeMs * 1000],
      )) as Array<{ id: string }>;
      if (candidates.length === 0) {
        return 0;
      }
      const rows = (await manager.query(
        `SELECT ${OUTBOX_COLUMNS} FROM ${TABLE} FORCE INDEX (PRIMARY)
          WHERE id IN (${placeholders(candidates.length)})
            AND dispatched_at IS NULL AND status = '${TaskStatus.Pending}'
          ORDER BY id FOR UPDATE SKIP LOCKED`,
        candidates.map((candidate) => candidate.id),
      )) as OutboxRow[];
      if (rows.length === 0) {
        return 0;
      }
      await publish(rows.map(commandOfRow));
      // By primary key, whose locks this transaction holds: a worker claiming a relayed task
      // meanwhile holds its task_id key and waits for the row, and taking the task_id key here
      // too would deadlock with it.
      await manager.query(
        `UPDATE ${TABLE} SET dispatched_at = UTC_TIMESTAMP(3) WHERE id IN (${placeholders(rows.length)})`,
        rows.map((row) => row.id),
      );
      return rows.length;
    });
  }

  /**
   * Claims retry `retryCount` of a task for a worker: `pending → running`, with a lease of
   * `leaseMs` on the database clock. Returns the claim's generation (`attempt`), or null when
   * the task is unknown, cancelled, finished or already claimed — so that a duplicated or
   * redelivered message never runs a task twice.
   */
  async claim(taskId: string, retryCount: number, startedAt: Date, leaseMs: number): Promise<number | null> {
    return this.updateGeneration(
      `UPDATE ${TABLE} SET status = '${TaskStatus.Running}', retry_count = ?, started_at = ?,
         attempt = LAST_INSERT_ID(attempt + 1), lease_expires_at = ${LEASE_UNTIL},
         dispatched_at = COALESCE(dispatched_at, UTC_TIMESTAMP(3))
       WHERE ${FORWARD_GUARD}`,
      [retryCount, startedAt, leaseMs * 1000, ...this.guardParams(taskId, retryCount, TaskStatus.Running)],
    );
  }

  /**
   * {@link claim} for several deliveries at once — in one transaction and one commit instead of
   * one per task. The rows are read and locked (`FOR UPDATE`, in `task_id` order like any other
   * claimer), the claimable ones decided by the same forward-only guard evaluated on the locked
   * rows, and claimed with one `UPDATE`. Answers, per request in order, the claim won or null (not
   * claimable: unknown, cancelled, finished, already claimed, or a second copy of a task in the
   * same group). A group chosen as a deadlock victim is tried again.
   */
  async claimMany(requests: readonly ClaimRequest[], leaseMs: number): Promise<Array<ClaimWon | null>> {
    if (requests.length === 1) {
      const [request] = requests;
      const startedAt = new Date();
      const attempt = await this.claim(request.taskId, request.retryCount, startedAt, leaseMs);
      return [attempt === null ? null : { attempt, startedAt }];
    }
    return retryWithBackoff(() => this.claimGroup(requests, leaseMs), {
      minDelayMs: 0,
      maxDelayMs: 0,
      maxAttempts: 1 + CLAIM_DEADLOCK_RETRIES,
      retryIf: isDeadlock,
    });
  }

  private claimGroup(requests: readonly ClaimRequest[], leaseMs: number): Promise<Array<ClaimWon | null>> {
    const ids = [...new Set(requests.map((request) => request.taskId))];
    return this.dataSource.transaction(async (manager) => {
      const rows = (await manager.query(
        `SELECT task_id, status, attempt, retry_count, max_retries FROM ${TABLE}
          WHERE task_id IN (${placeholders(ids.length)}) FOR UPDATE`,
        ids,
      )) as Array<GuardedRow & { task_id: string }>;
      const locked = new Map(rows.map((row) => [row.task_id, row]));
      const startedAt = new Date();
      const won = new Map<string, ClaimWon & { retryCount: number }>();
      const answers = requests.map((request): ClaimWon | null => {
        const row = locked.get(request.taskId);
        if (
          row === undefined ||
          won.has(request.taskId) ||
          !movesForward(row, { retryCount: request.retryCount, status: TaskStatus.Running })
        ) {
          return null;
        }
        const claim = { attempt: Number(row.attempt) + 1, startedAt, retryCount: request.retryCount };
        won.set(request.taskId, claim);
        return { attempt: claim.attempt, startedAt };
      });
      if (won.size > 0) {
        const claims = [...won.entries()];
        const retryCounts = caseOf(
          claims.map(([taskId, claim]) => [taskId, claim.retryCount]),
          'retry_count',
        );
        // The rows are locked since the read: each changes exactly as decided.
        await manager.query(
          `UPDATE ${TABLE} SET status = '${TaskStatus.Running}', retry_count = ${retryCounts.sql}, started_at = ?,
             attempt = attempt + 1, lease_expires_at = ${LEASE_UNTIL},
             dispatched_at = COALESCE(dispatched_at, UTC_TIMESTAMP(3))
           WHERE task_id IN (${placeholders(claims.length)})`,
          [...retryCounts.params, startedAt, leaseMs * 1000, ...claims.map(([taskId]) => taskId)],
        );
      }
      return answers;
    });
  }

  /**
   * Extends the leases of claims a worker still runs. Returns the claims it no longer holds
   * (released, reclaimed after an expired lease, or finished): their handlers must stop.
   */
  async heartbeat(claims: readonly Claim[], leaseMs: number): Promise<Claim[]> {
    if (claims.length === 0) {
      return [];
    }
    const pairs = claims.flatMap((claim) => [claim.taskId, claim.attempt]);
    const inClaims = `(task_id, attempt) IN (${placeholders(claims.length, '(?, ?)')})`;
    const result = await this.update(
      `UPDATE ${TABLE} SET lease_expires_at = ${LEASE_UNTIL} WHERE status = '${TaskStatus.Running}' AND ${inClaims}`,
      [leaseMs * 1000, ...pairs],
    );
    if (result.affectedRows === claims.length) {
      return [];
    }
    const held = (await this.dataSource.query(
      `SELECT task_id, attempt FROM ${TABLE} WHERE status = '${TaskStatus.Running}' AND ${inClaims}`,
      pairs,
    )) as Array<{ task_id: string; attempt: number }>;
    const holding = new Set(held.map((row) => `${row.task_id}/${row.attempt}`));
    return claims.filter((claim) => !holding.has(`${claim.taskId}/${claim.attempt}`));
  }

  /**
   * Gives a claim back (`running → pending`, same retry) when its worker stops before finishing:
   * a new generation, back in the outbox so the relay publishes it again.
   */
  async releaseClaim(taskId: string, attempt: number): Promise<boolean> {
    const result = await this.update(
      `UPDATE ${TABLE} SET ${HAND_BACK} WHERE task_id = ? AND status = '${TaskStatus.Running}' AND attempt = ?`,
      [taskId, attempt],
    );
    return result.affectedRows === 1;
  }

  /**
   * The reconciler: tasks whose lease expired more than `graceMs` ago — their worker died or
   * lost the database — are handed back like a released claim (the crash does not count as a
   * retry). Returns the task ids reclaimed.
   */
  async reclaimExpired(graceMs: number, limit: number): Promise<string[]> {
    return this.dataSource.transaction(async (manager) => {
      const rows = (await manager.query(
        `SELECT task_id FROM ${TABLE}
          WHERE status = '${TaskStatus.Running}' AND lease_expires_at < DATE_SUB(UTC_TIMESTAMP(3), INTERVAL ? MICROSECOND)
          ORDER BY id LIMIT ${Math.max(1, Math.floor(limit))} FOR UPDATE SKIP LOCKED`,
        [graceMs * 1000],
      )) as Array<{ task_id: string }>;
      if (rows.length === 0) {
        return [];
      }
      const ids = rows.map((row) => row.task_id);
      await manager.query(
        `UPDATE ${TABLE} SET ${HAND_BACK} WHERE task_id IN (${placeholders(ids.length)}) AND status = '${TaskStatus.Running}'`,
        ids,
      );
      return ids;
    });
  }

  /**
   * Cancels a pending or running task: `cancelled` at once, in a new generation, so that the
   * worker running it loses its claim (its heartbeat learns it; a broadcast only makes it faster)
   * and none of its events can change the task any more. Returns the status it was cancelled
   * from, or null when it was neither pending nor running (or unknown).
   */
  async cancel(taskId: string, at: Date): Promise<CancelResult | null> {
    for (const from of [TaskStatus.Pending, TaskStatus.Running] as const) {
      const attempt = await this.updateGeneration(
        `UPDATE ${TABLE} SET status = '${TaskStatus.Cancelled}', completed_at = ?, lease_expires_at = NULL,
           attempt = LAST_INSERT_ID(attempt + 1)
         WHERE task_id = ? AND status = '${from}'`,
        [at, taskId],
      );
      if (attempt !== null) {
        return { from, attempt };
      }
    }
    return null;
  }

  /**
   * Re-queues a failed or cancelled task as a new run: the run as it ended is archived in
   * `background_task_runs`, then the task is pending again (same task_id and retry_count, run + 1,
   * a new generation) and back in the outbox. Returns its command, or null when the task is not
   * failed or cancelled (or unknown).
   */
  async requeueFinished(taskId: string, at: Date): Promise<TaskCommand | null> {
    return this.dataSource.transaction(async (manager) => {
      const rows = (await manager.query(
        `SELECT ${OUTBOX_COLUMNS}, run FROM ${TABLE} WHERE task_id = ? AND status IN ('${TaskStatus.Failed}', '${TaskStatus.Cancelled}') FOR UPDATE`,
        [taskId],
      )) as Array<OutboxRow & { run: number }>;
      if (rows.length === 0) {
        return null;
      }
      const [row] = rows;
      await manager.query(
        `INSERT INTO background_task_runs
           (task_id, run, status, retry_count, result, error_message, started_at, completed_at, archived_at)
         SELECT task_id, run, status, retry_count, result, error_message, started_at, completed_at, ?
           FROM ${TABLE} WHERE task_id = ?`,
        [at, taskId],
      );
      await manager.query(
        `UPDATE ${TABLE} SET status = '${TaskStatus.Pending}', run = run + 1, attempt = attempt + 1, result = NULL,
           error_message = NULL, started_at = NULL, completed_at = NULL, lease_expires_at = NULL, dispatched_at = NULL,
           due_at = NULL
         WHERE task_id = ?`,
        [taskId],
      );
      return commandOfRow(row);
    });
  }

  /** The earlier runs of a task, oldest first (empty when it never was re-queued). */
  async listRuns(taskId: string): Promise<TaskRunResource[]> {
    const runs = await this.dataSource
      .getRepository(BackgroundTaskRun)
      .find({ where: { taskId }, order: { run: 'ASC' } });
    return runs.map((run) => ({
      run: run.run,
      status: run.status,
      retry_count: run.retryCount,
      result: run.result ?? null,
      error_message: run.errorMessage,
      started_at: run.startedAt?.toISOString() ?? null,
      completed_at: run.completedAt?.toISOString() ?? null,
      archived_at: run.archivedAt.toISOString(),
    }));
  }

  /**
   * Ends a pending task whose message could not be processed at all (a poison message). A task
   * running under a valid claim is left alone: a malformed copy must not fail a good attempt.
   */
  async failUnprocessable(taskId: string, reason: string, at: Date): Promise<boolean> {
    const result = await this.update(
      `UPDATE ${TABLE} SET status = '${TaskStatus.Failed}', error_message = ?, completed_at = ?
       WHERE task_id = ? AND status = '${TaskStatus.Pending}'`,
      [reason, at, taskId],
    );
    return result.affectedRows === 1;
  }

  /**
   * Applies lifecycle events in one transaction. Events that would not move their task forward
   * are counted as stale and change nothing, whatever order the batch arrives in.
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
        `SELECT task_id, status, attempt, retry_count, max_retries FROM ${TABLE}
          WHERE task_id IN (${placeholders(ids.length)})`,
        ids,
      )) as Array<GuardedRow & { task_id: string }>;
      const known = new Map(rows.map((row) => [row.task_id, row]));
      const written = new Set<string>();
      let applied = 0;
      for (const event of events) {
        // After a write in this batch the row read above is out of date: let the guard decide.
        if (written.has(event.task_id) || eventMayApply(known.get(event.task_id), event)) {
          const changed = await this.applyEvent(manager, event);
          applied += changed;
          if (changed > 0) {
            written.add(event.task_id);
          }
        }
      }
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
  async recordOutcome(event: TaskSucceededEvent | TaskFailedEvent): Promise<boolean> {
    return (await this.applyEvent(this.dataSource.manager, event)) === 1;
  }

  /**
   * {@link recordOutcome} for many claims at once, in one statement: each row changes only while
   * it is still `running` under that claim (same task, generation and retry — what the event
   * guard comes down to for a worker's own claim). Returns, per event, whether it was recorded;
   * when some were not (a cancel or a hand-back came first), one read tells which.
   */
  async recordOutcomes(events: ReadonlyArray<TaskSucceededEvent | TaskFailedEvent>): Promise<boolean[]> {
    if (events.length <= 1) {
      return Promise.all(events.map((event) => this.recordOutcome(event)));
    }
    const ids = events.map((event) => event.task_id);
    const succeeded = (event: TaskSucceededEvent | TaskFailedEvent): event is TaskSucceededEvent =>
      event.event === TaskEventType.Succeeded;
    const status = caseOf(
      events.map((event) => [event.task_id, succeeded(event) ? TaskStatus.Completed : TaskStatus.Failed]),
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
    const result = await this.update(
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
    if (result.affectedRows === events.length) {
      return events.map(() => true);
    }
    const rows = (await this.dataSource.query(
      `SELECT task_id, status, attempt FROM ${TABLE} WHERE task_id IN (${placeholders(ids.length)})`,
      ids,
    )) as Array<{ task_id: string; status: TaskStatus; attempt: number }>;
    const found = new Map(rows.map((row) => [row.task_id, row]));
    // Only this worker finishes its own claim: the row final under its generation is its write.
    return events.map((event) => {
      const row = found.get(event.task_id);
      const status = succeeded(event) ? TaskStatus.Completed : TaskStatus.Failed;
      return row !== undefined && row.status === status && Number(row.attempt) === event.attempt;
    });
  }

  /** Per task type, the age (ms, on the database clock) of the oldest task still pending. */
  async oldestPendingAges(): Promise<Array<{ taskType: TaskType; ageMs: number }>> {
    const rows = (await this.dataSource.query(
      `SELECT task_type, TIMESTAMPDIFF(MICROSECOND, MIN(created_at), UTC_TIMESTAMP(3)) AS age_us FROM ${TABLE}
        WHERE status = '${TaskStatus.Pending}' GROUP BY task_type`,
    )) as Array<{ task_type: TaskType; age_us: string | number }>;
    return rows.map((row) => ({ taskType: row.task_type, ageMs: Math.max(0, Number(row.age_us) / 1000) }));
  }

  async findByTaskId(taskId: string): Promise<TaskResource | null> {
    const row = await this.dataSource.getRepository(BackgroundTask).findOneBy({ taskId });
    return row === null ? null : toTaskResource(row);
  }

  /**
   * One page of tasks matching `filter`, newest first by `created_at` (ties: the later row first).
   * A `cursor` (a `next_cursor` of an earlier page) starts the page right after that page's last
   * task — a keyset query, `WHERE <filter> AND (created_at, id) < (?, ?) ORDER BY created_at DESC,
   * id DESC LIMIT n`, the same short index range however deep the page — and cannot be combined
   * with a non-zero `offset`. An `offset` skips that many
   * matching tasks off the index before any row is read: linear in the offset, but index-only.
   * `next_cursor` comes from reading one task more than the page. `total` (an offset page only,
   * as the original API has it) is an exact count, made concurrently on another connection; a
   * cursor page does not count — its cost must not grow with the number of matches.
   */
  async list(filter: TaskFilter, page: TaskPageRequest): Promise<TaskPage> {
    const after = page.cursor === undefined ? undefined : decodeTaskCursor(page.cursor);
    if (after === null) {
      throw new RangeError('not a task list cursor');
    }
    if (after !== undefined && page.offset > 0) {
      throw new RangeError('a cursor cannot be combined with a non-zero offset');
    }
    const [rows, total] = await Promise.all([
      this.pageRows(filter, after, page.limit + 1, page.offset),
      after === undefined ? this.count(filter) : Promise.resolve(null),
    ]);
    const items = rows.slice(0, page.limit);
    const last = items[items.length - 1];
    return {
      items: items.map(toTaskResource),
      total,
      limit: page.limit,
      offset: page.offset,
      next_cursor:
        rows.length > page.limit ? encodeTaskCursor({ createdAtMs: last.createdAt.getTime(), id: last.id }) : null,
    };
  }

  /**
   * Exact number of tasks matching `filter`, read off the per-(task_type, status) counts and the
   * changes not folded into them yet (`task-counts.ts`): its cost does not grow with the table.
   */
  async count(filter: TaskFilter): Promise<number> {
    const { sql, params } = countStatement(filter);
    const [row] = (await this.dataSource.query(sql, params)) as Array<{ n: string | number | null }>;
    return Number(row?.n ?? 0);
  }

  /**
   * Folds up to `limit` of the oldest count changes into the counts, in one transaction: the
   * journal rows read `FOR UPDATE` are exactly the ones deleted and added up, so a concurrent
   * count never sees a change twice or not at all. A writer's uncommitted journal row is waited
   * for, not skipped: skipping makes InnoDB turn the implicit lock of every uncommitted row the
   * scan passes into a lock object, and a million-row write then fails with "the total number of
   * locks exceeds the lock table size". Writers never wait for a fold (READ COMMITTED: no gap
   * locks; they only append). Under the counts lock (`TASK_COUNTS_LOCK`): while another tracker
   * folds, or a recount runs, this one skips its turn.
   * Returns how many changes were folded.
   */
  async foldCountChanges(limit: number): Promise<number> {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new RangeError(`invalid fold limit ${limit}`);
    }
    const runner = this.dataSource.createQueryRunner();
    try {
      const [lock] = (await runner.query('SELECT GET_LOCK(?, 0) AS held', [TASK_COUNTS_LOCK])) as Array<{
        held: number | string | null;
      }>;
      if (Number(lock?.held) !== 1) {
        return 0;
      }
      try {
        await runner.startTransaction('READ COMMITTED');
        try {
          const folded = await this.foldLocked(runner.manager, limit);
          await runner.commitTransaction();
          return folded;
        } catch (error) {
          await runner.rollbackTransaction();
          throw error;
        }
      } finally {
        await runner.query('SELECT RELEASE_LOCK(?)', [TASK_COUNTS_LOCK]);
      }
    } finally {
      await runner.release();
    }
  }

  private async foldLocked(manager: EntityManager, limit: number): Promise<number> {
    const changes = (await manager.query(
      `SELECT id, task_type, from_status, to_status FROM ${TASK_COUNT_CHANGES_TABLE}
        ORDER BY id LIMIT ${limit} FOR UPDATE`,
    )) as Array<TaskCountChange & { id: string | number }>;
    if (changes.length === 0) {
      return 0;
    }
    await manager.query(
      `DELETE FROM ${TASK_COUNT_CHANGES_TABLE} WHERE id IN (${placeholders(changes.length)})`,
      changes.map((change) => change.id),
    );
    const deltas = sumCountChanges(changes);
    if (deltas.length > 0) {
      await manager.query(
        `INSERT INTO ${TASK_COUNTS_TABLE} (task_type, status, n) VALUES ${placeholders(deltas.length, '(?, ?, ?)')}
         ON DUPLICATE KEY UPDATE n = n + VALUES(n)`,
        deltas.flatMap((delta) => [delta.taskType, delta.status, delta.delta]),
      );
    }
    return changes.length;
  }

  /** How many count changes wait to be folded (what makes a count slower when it grows). */
  async pendingCountChanges(): Promise<number> {
    const [row] = (await this.dataSource.query(`SELECT COUNT(*) AS n FROM ${TASK_COUNT_CHANGES_TABLE}`)) as Array<{
      n: string | number;
    }>;
    return Number(row.n);
  }

  /**
   * Up to `limit` tasks matching `filter` after `after`, newest first, from the `offset`-th on, in
   * one statement: the ids of the page — and of the tasks an offset skips — come off the index of
   * the filter in (created_at, id) order (index-only, no sort), then only the page's rows are read.
   */
  private pageRows(
    filter: TaskFilter,
    after: TaskListPosition | undefined,
    limit: number,
    offset: number,
  ): Promise<BackgroundTask[]> {
    if (!Number.isSafeInteger(limit) || limit < 1 || !Number.isSafeInteger(offset) || offset < 0) {
      throw new RangeError(`invalid page: limit ${limit}, offset ${offset}`);
    }
    const where = matching(filter, after);
    const ids = `(SELECT id FROM ${TABLE} FORCE INDEX (${listIndex(filter)}) WHERE ${where.sql}
      ORDER BY created_at DESC, id DESC LIMIT ${limit} OFFSET ${offset})`;
    return this.dataSource
      .getRepository(BackgroundTask)
      .createQueryBuilder('task')
      .innerJoin(ids, 'page', 'page.id = task.id', where.parameters)
      .orderBy('task.createdAt', 'DESC')
      .addOrderBy('task.id', 'DESC')
      .getMany();
  }

  private async applyEvent(manager: EntityManager, event: TaskEvent): Promise<number> {
    const at = new Date(event.occurred_at);
    // Where the event moves the task (retry m failing makes it pending as retry m + 1): the same
    // target the tracker's read-ahead (eventMayApply) checks.
    const target = eventTarget(event);
    const m = target.retryCount;
    const guard = [...this.guardParams(event.task_id, m, target.status), event.attempt];
    let result: UpdateResult;
    switch (event.event) {
      case TaskEventType.Started:
        result = await this.update(
          `UPDATE ${TABLE} SET status = '${TaskStatus.Running}', retry_count = ?, started_at = ? WHERE ${EVENT_GUARD}`,
          [m, at, ...guard],
          manager,
        );
        break;
      case TaskEventType.Succeeded:
        result = await this.update(
          `UPDATE ${TABLE} SET status = '${TaskStatus.Completed}', retry_count = ?, result = ?, error_message = NULL,
             completed_at = ?, lease_expires_at = NULL WHERE ${EVENT_GUARD}`,
          [m, toJson(event.result), at, ...guard],
          manager,
        );
        break;
      case TaskEventType.Failed:
        result = await this.update(
          `UPDATE ${TABLE} SET status = '${TaskStatus.Failed}', retry_count = ?, error_message = ?, completed_at = ?,
             lease_expires_at = NULL WHERE ${EVENT_GUARD}`,
          [m, event.error_message, at, ...guard],
          manager,
        );
        break;
      case TaskEventType.Retrying:
        // Pending again as the next retry: its message waits in a delay queue until `due_at`.
        result = await this.update(
          `UPDATE ${TABLE} SET status = '${TaskStatus.Pending}', retry_count = ?, error_message = ?,
             lease_expires_at = NULL, due_at = ? WHERE ${EVENT_GUARD}`,
          [m, event.error_message, new Date(at.getTime() + event.delay_ms), ...guard],
          manager,
        );
        break;
      case TaskEventType.Cancelled:
        result = await this.update(
          `UPDATE ${TABLE} SET status = '${TaskStatus.Cancelled}', completed_at = ?, lease_expires_at = NULL
           WHERE ${EVENT_GUARD}`,
          [at, ...guard],
          manager,
        );
        break;
    }
    return result.affectedRows;
  }

  private guardParams(taskId: string, retryCount: number, status: TaskStatus): unknown[] {
    return [taskId, retryCount, retryCount, retryCount, statusRank(status)];
  }

  /**
   * Runs a one-row `UPDATE` that sets `attempt = LAST_INSERT_ID(attempt + 1)` and returns the new
   * generation, or null when no row matched. The generation is read back with
   * `SELECT LAST_INSERT_ID()` on the same connection: on a table with triggers (the count journal,
   * migration 006) MariaDB reports insert id 0 to the `UPDATE` itself.
   */
  private async updateGeneration(sql: string, params: unknown[]): Promise<number | null> {
    const runner = this.dataSource.createQueryRunner();
    try {
      const result = (await runner.query(sql, params)) as UpdateResult;
      if (result.affectedRows !== 1) {
        return null;
      }
      const [row] = (await runner.query('SELECT LAST_INSERT_ID() AS attempt')) as Array<{ attempt: string | number }>;
      return Number(row.attempt);
    } finally {
      await runner.release();
    }
  }

  private async update(sql: string, params: unknown[], manager?: EntityManager): Promise<UpdateResult> {
    const runner = manager ?? this.dataSource;
    return (await runner.query(sql, params)) as UpdateResult;
  }
}
