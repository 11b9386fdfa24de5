import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TasklaneError } from '@tasklane/concurrency';
import {
  ScheduleMissedPolicy,
  ScheduleOverlapPolicy,
  TaskStatus,
  TaskName,
  TaskType,
  TickPlan,
  TickWindow,
  ValidSchedule,
  newTaskId,
  planTicks,
  scheduleActor,
} from '@tasklane/contracts';
import { TABLE, placeholders, parseJson } from '../background-task/task-sql';
import { Queryable, toJson } from '../background-task/task-guards';
import { NewTask, insertPendingRows } from '../background-task/task-outbox.repository';
import { DatabaseBoundary, isDuplicateEntry } from '../database/database-errors';
import { SCHEDULES_TABLE } from './task-schedule.sql';

/** A schedule as stored: what was validated, and where it stands. */
export interface StoredSchedule extends ValidSchedule {
  scheduleId: string;
  /** The tick claimed next; null while paused. */
  nextRunAt: Date | null;
  lastRunAt: Date | null;
  lastTaskId: string | null;
  createdBy: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A schedule's new content, and its next tick (null: paused). */
export interface ScheduleWrite {
  schedule: ValidSchedule;
  nextRunAt: Date | null;
}

/** Another schedule has this name (names are unique, case-insensitively). */
export class ScheduleNameTaken extends TasklaneError {
  readonly transient = false;

  constructor(readonly scheduleName: string) {
    super(`a schedule named "${scheduleName}" already exists`);
  }
}

/** What one scheduler pass did with one schedule. */
export interface ScheduleFiring {
  scheduleId: string;
  name: string;
  plan: TickPlan;
  /** The tasks enqueued, one per tick of `plan.fire`. */
  taskIds: string[];
  /**
   * Ticks that fired nothing because the previous tick's task was still pending or running
   * (overlap `skip`); `plan.fire` is empty then.
   */
  overlapped: number;
  /** The task still pending or running that made them fire nothing, or null. */
  overlappedBy: string | null;
}

interface ScheduleRow {
  id: string;
  schedule_id: string;
  name: string;
  cron: string;
  timezone: string;
  missed_policy: ScheduleMissedPolicy;
  overlap_policy: ScheduleOverlapPolicy;
  enabled: number | string;
  task_name: TaskName;
  task_type: TaskType;
  params: string | Record<string, unknown> | null;
  priority: number;
  max_retries: number;
  timeout_ms: number;
  next_run_at: Date | null;
  last_run_at: Date | null;
  last_task_id: string | null;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `id, schedule_id, name, cron, timezone, missed_policy, overlap_policy, enabled, task_name, task_type, params, priority,
  max_retries, timeout_ms, next_run_at, last_run_at, last_task_id, created_by, created_at, updated_at`;

function scheduleOfRow(row: ScheduleRow): StoredSchedule {
  return {
    scheduleId: row.schedule_id,
    name: row.name,
    cron: row.cron,
    timezone: row.timezone,
    missed: row.missed_policy,
    overlap: row.overlap_policy,
    enabled: Number(row.enabled) === 1,
    task: {
      task_name: row.task_name,
      task_type: row.task_type,
      params: parseJson(row.params),
      priority: row.priority,
      max_retries: row.max_retries,
      timeout_ms: row.timeout_ms,
    },
    nextRunAt: row.next_run_at,
    lastRunAt: row.last_run_at,
    lastTaskId: row.last_task_id,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function writeParams(write: ScheduleWrite): unknown[] {
  const { schedule } = write;
  return [
    schedule.name,
    schedule.cron,
    schedule.timezone,
    schedule.missed,
    schedule.overlap,
    schedule.enabled ? 1 : 0,
    schedule.task.task_name,
    schedule.task.task_type,
    toJson(schedule.task.params),
    schedule.task.priority,
    schedule.task.max_retries,
    schedule.task.timeout_ms,
    write.nextRunAt,
  ];
}

async function selectSchedule(runner: Queryable, scheduleId: string, forUpdate = false): Promise<ScheduleRow | null> {
  const rows = (await runner.query(
    `SELECT ${COLUMNS} FROM ${SCHEDULES_TABLE} WHERE schedule_id = ?${forUpdate ? ' FOR UPDATE' : ''}`,
    [scheduleId],
  )) as ScheduleRow[];
  return rows[0] ?? null;
}

/**
 * The ticks a schedule with overlap `skip` fires: none while its previous tick's task
 * (`last_task_id`) is pending or running, else the oldest one only — the others would run beside it.
 */
async function oneAtATime(
  runner: Queryable,
  due: Date[],
  lastTaskId: string | null,
): Promise<{ ticks: Date[]; overlappedBy: string | null }> {
  if (due.length === 0) {
    return { ticks: [], overlappedBy: null };
  }
  if (lastTaskId !== null) {
    const [previous] = (await runner.query(`SELECT status FROM ${TABLE} WHERE task_id = ?`, [lastTaskId])) as Array<{
      status: TaskStatus;
    }>;
    if (previous !== undefined && (previous.status === TaskStatus.Pending || previous.status === TaskStatus.Running)) {
      return { ticks: [], overlappedBy: lastTaskId };
    }
  }
  return { ticks: due.slice(0, 1), overlappedBy: null };
}

/** A unique-key violation on the name becomes {@link ScheduleNameTaken}. */
async function nameUnique<T>(name: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    throw isDuplicateEntry(error) ? new ScheduleNameTaken(name) : error;
  }
}

/**
 * `task_schedules` (ADR 0013): the API's create, read, change and delete, and the scheduler's
 * {@link fireDue} — which claims each due tick by moving `next_run_at` past it in the transaction
 * that inserts the tick's task, so a tick fires once whatever the number of schedulers.
 */
@DatabaseBoundary()
@Injectable()
export class TaskScheduleRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async create(write: ScheduleWrite, createdBy: string | null, now: Date): Promise<StoredSchedule> {
    const scheduleId = newTaskId(now.getTime());
    await nameUnique(write.schedule.name, () =>
      this.dataSource.query(
        `INSERT INTO ${SCHEDULES_TABLE}
          (name, cron, timezone, missed_policy, overlap_policy, enabled, task_name, task_type, params, priority,
           max_retries, timeout_ms, next_run_at, schedule_id, created_by, created_at, updated_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [...writeParams(write), scheduleId, createdBy, now, now],
      ),
    );
    const created = await this.get(scheduleId);
    if (created === null) {
      throw new Error(`schedule ${scheduleId} vanished right after its insert`);
    }
    return created;
  }

  async get(scheduleId: string): Promise<StoredSchedule | null> {
    const row = await selectSchedule(this.dataSource, scheduleId);
    return row === null ? null : scheduleOfRow(row);
  }

  /** Schedules by name, `limit` after the name `after` (a keyset: stable however many change meanwhile). */
  async list(limit: number, after: string | null): Promise<StoredSchedule[]> {
    const rows = (await this.dataSource.query(
      `SELECT ${COLUMNS} FROM ${SCHEDULES_TABLE} ${after === null ? '' : 'WHERE name > ?'}
        ORDER BY name LIMIT ${Math.max(1, Math.floor(limit))}`,
      after === null ? [] : [after],
    )) as ScheduleRow[];
    return rows.map(scheduleOfRow);
  }

  /**
   * Changes a schedule: `change` gets it locked (no scheduler fires it meanwhile) and returns its
   * new content, or throws to change nothing. Null when there is no such schedule.
   */
  async update(
    scheduleId: string,
    change: (current: StoredSchedule) => ScheduleWrite,
    now: Date,
  ): Promise<StoredSchedule | null> {
    const found = await this.dataSource.transaction(async (manager) => {
      const row = await selectSchedule(manager, scheduleId, true);
      if (row === null) {
        return false;
      }
      const write = change(scheduleOfRow(row));
      await nameUnique(write.schedule.name, () =>
        manager.query(
          `UPDATE ${SCHEDULES_TABLE} SET name = ?, cron = ?, timezone = ?, missed_policy = ?, overlap_policy = ?, enabled = ?,
             task_name = ?, task_type = ?, params = ?, priority = ?, max_retries = ?, timeout_ms = ?,
             next_run_at = ?, updated_at = ?
            WHERE id = ?`,
          [...writeParams(write), now, row.id],
        ),
      );
      return true;
    });
    return found ? this.get(scheduleId) : null;
  }

  /** Deletes a schedule (the tasks it enqueued stay); false when there was none. */
  async delete(scheduleId: string): Promise<boolean> {
    const result = (await this.dataSource.query(`DELETE FROM ${SCHEDULES_TABLE} WHERE schedule_id = ?`, [
      scheduleId,
    ])) as { affectedRows: number };
    return result.affectedRows > 0;
  }

  /**
   * One scheduler pass: in one transaction, on the database's clock, locks up to `limit`
   * schedules whose next tick is at most `lookaheadMs` ahead (`SKIP LOCKED`: another scheduler's
   * are left to it), plans their ticks ({@link planTicks}), inserts one pending task per tick to
   * fire — due at its tick, so the due relay publishes it then — and moves each schedule's
   * `next_run_at` past them, only where it still is the tick read (a compare-and-set on top of
   * the lock). A crash before the commit fires nothing; the next pass fires the same ticks.
   */
  async fireDue(
    options: Omit<TickWindow, 'now' | 'horizon'> & { lookaheadMs: number; limit: number },
  ): Promise<ScheduleFiring[]> {
    return this.dataSource.transaction(async (manager) => {
      const [{ now }] = (await manager.query('SELECT UTC_TIMESTAMP(3) AS now')) as Array<{ now: Date }>;
      const horizon = new Date(now.getTime() + options.lookaheadMs);
      const candidates = (await manager.query(
        `SELECT id FROM ${SCHEDULES_TABLE} WHERE next_run_at <= ? ORDER BY next_run_at
          LIMIT ${Math.max(1, Math.floor(options.limit))}`,
        [horizon],
      )) as Array<{ id: string }>;
      if (candidates.length === 0) {
        return [];
      }
      const rows = (await manager.query(
        `SELECT ${COLUMNS} FROM ${SCHEDULES_TABLE} WHERE id IN (${placeholders(candidates.length)})
            AND next_run_at <= ? ORDER BY id FOR UPDATE SKIP LOCKED`,
        [...candidates.map((candidate) => candidate.id), horizon],
      )) as ScheduleRow[];
      const firings: ScheduleFiring[] = [];
      const tasks: NewTask[] = [];
      for (const row of rows) {
        const schedule = scheduleOfRow(row);
        const dueTick = row.next_run_at as Date;
        // Overlap `skip` decides at the tick whether the previous task is done: no tick ahead.
        const atItsTime = schedule.overlap === ScheduleOverlapPolicy.Skip;
        if (atItsTime && dueTick > now) {
          continue;
        }
        const plan = planTicks(schedule, dueTick, { ...options, now, horizon: atItsTime ? now : horizon });
        const { ticks, overlappedBy } = atItsTime
          ? await oneAtATime(manager, plan.fire, row.last_task_id)
          : { ticks: plan.fire, overlappedBy: null };
        const fired = ticks.map(
          (tick): NewTask => ({
            taskId: newTaskId(now.getTime()),
            taskName: schedule.task.task_name,
            taskType: schedule.task.task_type,
            priority: schedule.task.priority,
            params: schedule.task.params,
            maxRetries: schedule.task.max_retries,
            timeoutMs: schedule.task.timeout_ms,
            createdAt: now,
            actor: scheduleActor(schedule.scheduleId),
            runAt: tick,
            dueAt: tick,
          }),
        );
        tasks.push(...fired);
        const last = fired[fired.length - 1];
        const claimed = (await manager.query(
          `UPDATE ${SCHEDULES_TABLE} SET next_run_at = ?, last_run_at = COALESCE(?, last_run_at),
              last_task_id = COALESCE(?, last_task_id)
            WHERE id = ? AND next_run_at = ?`,
          [plan.next, last?.runAt ?? null, last?.taskId ?? null, row.id, dueTick],
        )) as { affectedRows: number };
        if (claimed.affectedRows !== 1) {
          // Cannot happen under the row lock; if it ever did, nothing of this pass is kept.
          throw new Error(`schedule ${schedule.scheduleId}: tick ${dueTick.toISOString()} was claimed meanwhile`);
        }
        firings.push({
          scheduleId: schedule.scheduleId,
          name: schedule.name,
          plan: { ...plan, fire: ticks },
          taskIds: fired.map((task) => task.taskId),
          overlapped: plan.fire.length - ticks.length,
          overlappedBy: overlappedBy ?? (ticks.length < plan.fire.length ? (fired[0]?.taskId ?? null) : null),
        });
      }
      if (tasks.length > 0) {
        await insertPendingRows(manager, tasks);
      }
      return firings;
    });
  }
}
