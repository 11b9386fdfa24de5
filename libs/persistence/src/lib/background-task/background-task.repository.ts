import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import {
  TASK_STATUSES,
  TaskRunResource,
  taskDefinition,
  TaskCommand,
  TaskEvent,
  TaskFailedEvent,
  TaskSucceededEvent,
  TaskEventType,
  TaskName,
  TaskPage,
  TaskResource,
  TaskStatus,
  TaskType,
  statusRank,
} from '@tasklane/contracts';
import { BackgroundTask } from './background-task.entity';
import { BackgroundTaskRun } from './background-task-run.entity';
import { toTaskResource } from './background-task.mapper';

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

export interface EventsApplied {
  applied: number;
  /** Duplicate, late or out-of-order events that would have moved a task backwards. */
  stale: number;
}

const TABLE = 'background_tasks';
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
  dispatched_at = NULL, attempt = attempt + 1`;

/** What a cancel did: the status the task left and the generation it now has. */
export interface CancelResult {
  from: TaskStatus.Pending | TaskStatus.Running;
  attempt: number;
}

/** A claim held by a worker: the task and the generation it claimed. */
export interface Claim {
  taskId: string;
  attempt: number;
}

interface OutboxRow {
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

function toJson(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

interface UpdateResult {
  affectedRows: number;
  insertId: number;
}

function placeholders(count: number, each = '?'): string {
  return Array.from({ length: count }, () => each).join(', ');
}

function parseJson(value: string | Record<string, unknown> | null): Record<string, unknown> {
  if (value === null) {
    return {};
  }
  return typeof value === 'string' ? (JSON.parse(value) as Record<string, unknown>) : value;
}

/** The only place that writes task state. Every transition is one guarded statement. */
@Injectable()
export class BackgroundTaskRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async insertPending(task: NewTask): Promise<TaskResource> {
    await this.dataSource.query(
      `INSERT INTO ${TABLE}
         (task_id, task_name, task_type, priority, status, params, retry_count, max_retries, timeout_ms, created_at)
       VALUES (?, ?, ?, ?, '${TaskStatus.Pending}', ?, 0, ?, ?, ?)`,
      [
        task.taskId,
        task.taskName,
        task.taskType,
        task.priority,
        toJson(task.params),
        task.maxRetries,
        task.timeoutMs,
        task.createdAt,
      ],
    );
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
        `SELECT id, task_id, task_name, task_type, params, priority, max_retries, retry_count, timeout_ms
           FROM ${TABLE} FORCE INDEX (PRIMARY)
          WHERE id IN (${placeholders(candidates.length)})
            AND dispatched_at IS NULL AND status = '${TaskStatus.Pending}'
          ORDER BY id FOR UPDATE SKIP LOCKED`,
        candidates.map((candidate) => candidate.id),
      )) as OutboxRow[];
      if (rows.length === 0) {
        return 0;
      }
      await publish(
        rows.map((row) => ({
          task_id: row.task_id,
          task_name: row.task_name,
          task_type: row.task_type,
          params: parseJson(row.params) as never,
          priority: row.priority,
          max_retries: row.max_retries,
          retry_count: row.retry_count,
          timeout_ms: row.timeout_ms ?? taskDefinition(row.task_name).defaultTimeoutMs,
        })),
      );
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
    const result = await this.update(
      `UPDATE ${TABLE} SET status = '${TaskStatus.Running}', retry_count = ?, started_at = ?,
         attempt = LAST_INSERT_ID(attempt + 1), lease_expires_at = ${LEASE_UNTIL},
         dispatched_at = COALESCE(dispatched_at, UTC_TIMESTAMP(3))
       WHERE ${FORWARD_GUARD}`,
      [retryCount, startedAt, leaseMs * 1000, ...this.guardParams(taskId, retryCount, TaskStatus.Running)],
    );
    return result.affectedRows === 1 ? Number(result.insertId) : null;
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
      const result = await this.update(
        `UPDATE ${TABLE} SET status = '${TaskStatus.Cancelled}', completed_at = ?, lease_expires_at = NULL,
           attempt = LAST_INSERT_ID(attempt + 1)
         WHERE task_id = ? AND status = '${from}'`,
        [at, taskId],
      );
      if (result.affectedRows === 1) {
        return { from, attempt: Number(result.insertId) };
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
        `SELECT task_id, task_name, task_type, params, priority, max_retries, retry_count, timeout_ms, run
           FROM ${TABLE} WHERE task_id = ? AND status IN ('${TaskStatus.Failed}', '${TaskStatus.Cancelled}') FOR UPDATE`,
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
           error_message = NULL, started_at = NULL, completed_at = NULL, lease_expires_at = NULL, dispatched_at = NULL
         WHERE task_id = ?`,
        [taskId],
      );
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
    return this.dataSource.transaction(async (manager) => {
      let applied = 0;
      for (const event of events) {
        applied += await this.applyEvent(manager, event);
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

  /** Newest first (by insertion order). */
  async list(filter: TaskFilter, limit: number, offset: number): Promise<TaskPage> {
    const [rows, total] = await this.dataSource
      .getRepository(BackgroundTask)
      .findAndCount({ where: this.where(filter), order: { id: 'DESC' }, take: limit, skip: offset });
    return { items: rows.map(toTaskResource), total, limit, offset };
  }

  async count(filter: TaskFilter): Promise<number> {
    return this.dataSource.getRepository(BackgroundTask).countBy(this.where(filter));
  }

  private where(filter: TaskFilter): Partial<Pick<BackgroundTask, 'status' | 'taskType'>> {
    return {
      ...(filter.status === undefined ? {} : { status: filter.status }),
      ...(filter.taskType === undefined ? {} : { taskType: filter.taskType }),
    };
  }

  private async applyEvent(manager: EntityManager, event: TaskEvent): Promise<number> {
    const at = new Date(event.occurred_at);
    const m = event.retry_count;
    const guard = (retryCount: number, status: TaskStatus) => [
      ...this.guardParams(event.task_id, retryCount, status),
      event.attempt,
    ];
    let result: UpdateResult;
    switch (event.event) {
      case TaskEventType.Started:
        result = await this.update(
          `UPDATE ${TABLE} SET status = '${TaskStatus.Running}', retry_count = ?, started_at = ? WHERE ${EVENT_GUARD}`,
          [m, at, ...guard(m, TaskStatus.Running)],
          manager,
        );
        break;
      case TaskEventType.Succeeded:
        result = await this.update(
          `UPDATE ${TABLE} SET status = '${TaskStatus.Completed}', retry_count = ?, result = ?, error_message = NULL,
             completed_at = ?, lease_expires_at = NULL WHERE ${EVENT_GUARD}`,
          [m, toJson(event.result), at, ...guard(m, TaskStatus.Completed)],
          manager,
        );
        break;
      case TaskEventType.Failed:
        result = await this.update(
          `UPDATE ${TABLE} SET status = '${TaskStatus.Failed}', retry_count = ?, error_message = ?, completed_at = ?,
             lease_expires_at = NULL WHERE ${EVENT_GUARD}`,
          [m, event.error_message, at, ...guard(m, TaskStatus.Failed)],
          manager,
        );
        break;
      case TaskEventType.Retrying:
        // Retry m failed: the task is pending again, as retry m + 1 (its message waits in a delay queue).
        result = await this.update(
          `UPDATE ${TABLE} SET status = '${TaskStatus.Pending}', retry_count = ?, error_message = ?,
             lease_expires_at = NULL WHERE ${EVENT_GUARD}`,
          [m + 1, event.error_message, ...guard(m + 1, TaskStatus.Pending)],
          manager,
        );
        break;
      case TaskEventType.Cancelled:
        result = await this.update(
          `UPDATE ${TABLE} SET status = '${TaskStatus.Cancelled}', completed_at = ?, lease_expires_at = NULL
           WHERE ${EVENT_GUARD}`,
          [at, ...guard(m, TaskStatus.Cancelled)],
          manager,
        );
        break;
    }
    return result.affectedRows;
  }

  private guardParams(taskId: string, retryCount: number, status: TaskStatus): unknown[] {
    return [taskId, retryCount, retryCount, retryCount, statusRank(status)];
  }

  private async update(sql: string, params: unknown[], manager?: EntityManager): Promise<UpdateResult> {
    const runner = manager ?? this.dataSource;
    return (await runner.query(sql, params)) as UpdateResult;
  }
}
