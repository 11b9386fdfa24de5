import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import {
  TASK_STATUSES,
  TaskEvent,
  TaskEventType,
  TaskName,
  TaskPage,
  TaskResource,
  TaskStatus,
  TaskType,
  statusRank,
} from '@tasklane/contracts';
import { BackgroundTask } from './background-task.entity';
import { toTaskResource } from './background-task.mapper';

export interface NewTask {
  taskId: string;
  taskName: TaskName;
  taskType: TaskType;
  priority: number;
  params: Record<string, unknown>;
  maxRetries: number;
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

function toJson(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

interface UpdateResult {
  affectedRows: number;
}

/** The only place that writes task state. Every transition is one guarded statement. */
@Injectable()
export class BackgroundTaskRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async insertPending(task: NewTask): Promise<TaskResource> {
    await this.dataSource.query(
      `INSERT INTO ${TABLE} (task_id, task_name, task_type, priority, status, params, retry_count, max_retries, created_at)
       VALUES (?, ?, ?, ?, '${TaskStatus.Pending}', ?, 0, ?, ?)`,
      [task.taskId, task.taskName, task.taskType, task.priority, toJson(task.params), task.maxRetries, task.createdAt],
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
      created_at: task.createdAt.toISOString(),
      started_at: null,
      completed_at: null,
    };
  }

  /** Undoes {@link insertPending} when the broker did not accept the task's command. */
  async deleteUnstarted(taskId: string): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM ${TABLE} WHERE task_id = ? AND status = '${TaskStatus.Pending}' AND retry_count = 0`,
      [taskId],
    );
  }

  /**
   * Claims attempt `retryCount` of a task for a worker: `pending → running`. Fails (returns
   * false) when the task is unknown, cancelled, finished, or already claimed for this attempt,
   * so that a duplicated or redelivered message never runs a task twice.
   */
  async claim(taskId: string, retryCount: number, startedAt: Date): Promise<boolean> {
    const result = await this.update(
      `UPDATE ${TABLE} SET status = '${TaskStatus.Running}', retry_count = ?, started_at = ?
       WHERE ${FORWARD_GUARD}`,
      [retryCount, startedAt, ...this.guardParams(taskId, retryCount, TaskStatus.Running)],
    );
    return result.affectedRows === 1;
  }

  /**
   * Gives a claimed attempt back (`running → pending`, same attempt) when its worker stops
   * before finishing it, so that the redelivered message can be claimed again.
   */
  async releaseClaim(taskId: string, retryCount: number): Promise<boolean> {
    const result = await this.update(
      `UPDATE ${TABLE} SET status = '${TaskStatus.Pending}', started_at = NULL
       WHERE task_id = ? AND status = '${TaskStatus.Running}' AND retry_count = ?`,
      [taskId, retryCount],
    );
    return result.affectedRows === 1;
  }

  /** `pending → cancelled`; false when the task is not pending (or unknown). */
  async cancelPending(taskId: string, at: Date): Promise<boolean> {
    const result = await this.update(
      `UPDATE ${TABLE} SET status = '${TaskStatus.Cancelled}', completed_at = ?
       WHERE task_id = ? AND status = '${TaskStatus.Pending}'`,
      [at, taskId],
    );
    return result.affectedRows === 1;
  }

  /** Ends a task whose message could not be processed at all (a poison message). */
  async failUnprocessable(taskId: string, reason: string, at: Date): Promise<boolean> {
    const result = await this.update(
      `UPDATE ${TABLE} SET status = '${TaskStatus.Failed}', error_message = ?, completed_at = ?
       WHERE task_id = ? AND status IN (${ACTIVE_SQL})`,
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
    let result: UpdateResult;
    switch (event.event) {
      case TaskEventType.Started:
        result = await this.update(
          `UPDATE ${TABLE} SET status = '${TaskStatus.Running}', retry_count = ?, started_at = ? WHERE ${FORWARD_GUARD}`,
          [m, at, ...this.guardParams(event.task_id, m, TaskStatus.Running)],
          manager,
        );
        break;
      case TaskEventType.Succeeded:
        result = await this.update(
          `UPDATE ${TABLE} SET status = '${TaskStatus.Completed}', retry_count = ?, result = ?, error_message = NULL,
             completed_at = ? WHERE ${FORWARD_GUARD}`,
          [m, toJson(event.result), at, ...this.guardParams(event.task_id, m, TaskStatus.Completed)],
          manager,
        );
        break;
      case TaskEventType.Failed:
        result = await this.update(
          `UPDATE ${TABLE} SET status = '${TaskStatus.Failed}', retry_count = ?, error_message = ?, completed_at = ?
           WHERE ${FORWARD_GUARD}`,
          [m, event.error_message, at, ...this.guardParams(event.task_id, m, TaskStatus.Failed)],
          manager,
        );
        break;
      case TaskEventType.Retrying:
        // Attempt m failed: the task is pending again, as attempt m + 1.
        result = await this.update(
          `UPDATE ${TABLE} SET status = '${TaskStatus.Pending}', retry_count = ?, error_message = ? WHERE ${FORWARD_GUARD}`,
          [m + 1, event.error_message, ...this.guardParams(event.task_id, m + 1, TaskStatus.Pending)],
          manager,
        );
        break;
      case TaskEventType.Cancelled:
        result = await this.update(
          `UPDATE ${TABLE} SET status = '${TaskStatus.Cancelled}', completed_at = ? WHERE ${FORWARD_GUARD}`,
          [at, ...this.guardParams(event.task_id, m, TaskStatus.Cancelled)],
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
