import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TaskCommand, TaskHistoryEvent, TaskStatus, TaskType } from '@tasklane/contracts';
import {
  OUTBOX_COLUMNS,
  OUT_AND_DUE_FOR,
  OutboxRow,
  TABLE,
  commandOfRow,
  olderThan,
  placeholders,
} from '../background-task/task-sql';
import { DatabaseBoundary } from '../database/database-errors';
import { appendHistoryOfRows } from '../task-history/task-history.sql';

/** Which pending tasks of one type a re-dispatch pass looks at. */
export interface RedispatchWindow {
  taskType: TaskType;
  /**
   * Only tasks whose command went out — and, for a retry, became due — at least this long ago
   * (on the database clock) are published again.
   */
  idleForMs: number;
  /** Where the previous window of this pass ended (its `last`): the tasks after it, oldest dispatch first. */
  after?: string;
  /** How many pending tasks to look at, at most. */
  scan: number;
}

export interface RedispatchPass {
  /** Commands published again. */
  redispatched: number;
  /** Pending tasks looked at; fewer than the window's `scan` means the type's pending tasks are all seen. */
  scanned: number;
  /** Position of the last task looked at (the `after` of the next window), or null when none was. */
  last: string | null;
}

/** Keyset position before every task: (dispatched_at, id). */
const START = { dispatchedAt: '1000-01-01 00:00:00.000000', id: '0' };

function positionOf(after: string | undefined): { dispatchedAt: string; id: string } {
  if (after === undefined) {
    return START;
  }
  const [dispatchedAt, id] = after.split('|');
  return { dispatchedAt, id };
}

/** A pending task's command is out and due, both long enough ago (two parameters: the idle time twice). */
const IDLE = OUT_AND_DUE_FOR;

/**
 * Re-dispatch (ADR 0010): the broker confirmed a task's command once, and the task is still
 * pending — but the message may be gone (the queue purged or deleted, a node's data lost). The
 * database is the authority, so the command is published again; the workers' claim drops
 * whichever copy comes second.
 */
@Injectable()
@DatabaseBoundary()
export class RedispatchRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * Looks at up to `scan` pending tasks of a type, oldest first, and publishes the commands of
   * those that have been out and due for `idleForMs` again, in one transaction: the rows are
   * locked (`SKIP LOCKED`: a claim, a cancel or another tracker's pass holding one leaves it to
   * them), handed to `publish` (which resolves once the broker confirmed every command), their
   * `redispatched` history rows appended and their `dispatched_at` set to now — so a task is published again at most once per `idleForMs`, by
   * however many trackers.
   */
  async redispatchIdle(
    window: RedispatchWindow,
    publish: (commands: TaskCommand[]) => Promise<void>,
  ): Promise<RedispatchPass> {
    const scan = Math.floor(window.scan);
    if (!Number.isSafeInteger(scan) || scan < 1) {
      throw new RangeError(`invalid re-dispatch window: scan ${window.scan}`);
    }
    const idleUs = Math.max(0, Math.floor(window.idleForMs * 1000));
    return this.dataSource.transaction(async (manager) => {
      // Read without locks, off the (task_type, status, dispatched_at) index: only the pending
      // tasks whose command went out long enough ago — not those scheduled for later, which have
      // none (ADR 0012) — oldest dispatch first, a short range however many tasks the table holds.
      const after = positionOf(window.after);
      const seen = (await manager.query(
        `SELECT id, DATE_FORMAT(dispatched_at, '%Y-%m-%d %H:%i:%s.%f') AS dispatched, (${IDLE}) AS idle
           FROM ${TABLE} FORCE INDEX (idx_background_tasks_task_type_status_dispatched)
          WHERE task_type = ? AND status = '${TaskStatus.Pending}' AND ${olderThan('dispatched_at')}
            AND (dispatched_at > ? OR (dispatched_at = ? AND id > ?))
          ORDER BY dispatched_at, id LIMIT ${scan}`,
        [idleUs, idleUs, window.taskType, idleUs, after.dispatchedAt, after.dispatchedAt, after.id],
      )) as Array<{ id: string; dispatched: string; idle: number | string | null }>;
      const lastSeen = seen.length > 0 ? seen[seen.length - 1] : null;
      const last = lastSeen === null ? null : `${lastSeen.dispatched}|${lastSeen.id}`;
      const idle = seen.filter((row) => Number(row.idle) === 1).map((row) => row.id);
      if (idle.length === 0) {
        return { redispatched: 0, scanned: seen.length, last };
      }
      // Locked by primary key and checked again: a claim, a cancel or another pass may have come first.
      const rows = (await manager.query(
        `SELECT ${OUTBOX_COLUMNS} FROM ${TABLE} FORCE INDEX (PRIMARY)
          WHERE id IN (${placeholders(idle.length)}) AND status = '${TaskStatus.Pending}' AND ${IDLE}
          ORDER BY id FOR UPDATE SKIP LOCKED`,
        [...idle, idleUs, idleUs],
      )) as OutboxRow[];
      if (rows.length > 0) {
        await publish(rows.map(commandOfRow));
        const locked = { sql: `id IN (${placeholders(rows.length)})`, params: rows.map((row) => row.id) };
        await manager.query(`UPDATE ${TABLE} SET dispatched_at = UTC_TIMESTAMP(3) WHERE ${locked.sql}`, locked.params);
        await appendHistoryOfRows(
          manager,
          {
            event: TaskHistoryEvent.Redispatched,
            message: `pending and dispatched ${idleUs / 1000} ms ago, and not claimed: published again`,
            occurredAt: new Date(),
          },
          locked,
        );
      }
      return { redispatched: rows.length, scanned: seen.length, last };
    });
  }
}
