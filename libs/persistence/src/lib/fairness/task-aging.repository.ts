import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TaskCommand, TaskHistoryEvent, TaskPriority, TaskStatus, TaskType } from '@tasklane/contracts';
import {
  OUTBOX_COLUMNS,
  OUT_AND_DUE_FOR,
  OutboxRow,
  TABLE,
  commandOfRow,
  placeholders,
} from '../background-task/task-sql';
import { DatabaseBoundary } from '../database/database-errors';
import { appendHistoryOfRows } from '../task-history/task-history.sql';

/** The priorities that can age: every one below the top (a priority-10 task has nothing to jump). */
export const AGING_PRIORITIES: readonly number[] = Array.from(
  { length: TaskPriority.Max - TaskPriority.Min },
  (_, index) => TaskPriority.Min + index,
);

/** Which pending tasks of one type an aging pass looks at. */
export interface AgingWindow {
  taskType: TaskType;
  /** A task whose command has been out — and, for a retry, due — this long (database clock) has waited too long. */
  waitedMs: number;
  /** Tasks aged per pass, at most. */
  limit: number;
}

/** Waiting since its command went out (or, for a retry, since it became due) for longer than the bound: two parameters. */
const STARVED = OUT_AND_DUE_FOR;

const PRIORITIES_IN = `priority IN (${AGING_PRIORITIES.join(', ')})`;

/**
 * Aging (ADR 0015): a pending task below the top priority whose command has been out longer than
 * the bound — behind a flood of higher priorities — has its command published again at the aged
 * broker priority, above every Tasklane priority. The copy left behind is dropped at the claim
 * (whichever copy comes second, as for a re-dispatch).
 */
@Injectable()
@DatabaseBoundary()
export class TaskAgingRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * Ages up to `limit` starved tasks of a type, oldest dispatch first, in one transaction: read
   * off the `(task_type, status, priority, dispatched_at)` index — one short range per priority,
   * however deep the priority-10 backlog is — locked by primary key `SKIP LOCKED` (a claim, a
   * cancel or another tracker's pass holding one leaves it to them), handed to `publish` (which
   * resolves once the broker confirmed every command), their `aged` history rows appended and
   * their `dispatched_at` set to now: a task is aged at most once per bound, by however many
   * trackers. Returns the commands aged.
   */
  async ageStarved(window: AgingWindow, publish: (commands: TaskCommand[]) => Promise<void>): Promise<TaskCommand[]> {
    const limit = Math.floor(window.limit);
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new RangeError(`invalid aging window: limit ${window.limit}`);
    }
    const waitedUs = Math.max(0, Math.floor(window.waitedMs * 1000));
    return this.dataSource.transaction(async (manager) => {
      const seen = (await manager.query(
        `SELECT id FROM ${TABLE} FORCE INDEX (idx_background_tasks_task_type_status_priority_dispatched)
          WHERE task_type = ? AND status = '${TaskStatus.Pending}' AND ${PRIORITIES_IN} AND ${STARVED}
          ORDER BY dispatched_at, id LIMIT ${limit}`,
        [window.taskType, waitedUs, waitedUs],
      )) as Array<{ id: string }>;
      if (seen.length === 0) {
        return [];
      }
      const rows = (await manager.query(
        `SELECT ${OUTBOX_COLUMNS} FROM ${TABLE} FORCE INDEX (PRIMARY)
          WHERE id IN (${placeholders(seen.length)}) AND status = '${TaskStatus.Pending}' AND ${STARVED}
          ORDER BY id FOR UPDATE SKIP LOCKED`,
        [...seen.map((row) => row.id), waitedUs, waitedUs],
      )) as OutboxRow[];
      if (rows.length === 0) {
        return [];
      }
      const commands = rows.map(commandOfRow);
      await publish(commands);
      const locked = { sql: `id IN (${placeholders(rows.length)})`, params: rows.map((row) => row.id) };
      await appendHistoryOfRows(
        manager,
        {
          event: TaskHistoryEvent.Aged,
          message: {
            sql: `CONCAT('waited more than ${waitedUs / 1000} ms at priority ', priority, ': published again above every priority')`,
          },
          occurredAt: new Date(),
        },
        locked,
      );
      await manager.query(`UPDATE ${TABLE} SET dispatched_at = UTC_TIMESTAMP(3) WHERE ${locked.sql}`, locked.params);
      return commands;
    });
  }
}
