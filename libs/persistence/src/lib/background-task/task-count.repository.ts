import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { TaskStatus, TaskType } from '@tasklane/contracts';
import { placeholders } from './task-sql';
import {
  TASK_COUNT_CHANGES_TABLE,
  TASK_COUNTS_LOCK,
  TASK_COUNTS_TABLE,
  TaskCountChange,
  TaskCountFilter,
  countStatement,
  sumCountChanges,
} from './task-counts';
import { DatabaseBoundary } from '../database/database-errors';

/** The exact task counts (ADR 0009): read off the counts and their journal, folded by the tracker. */
@Injectable()
@DatabaseBoundary()
export class TaskCountRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  /**
   * Exact number of tasks matching `filter`, read off the per-(task_type, status) counts and the
   * changes not folded into them yet (`task-counts.ts`): its cost does not grow with the table.
   */
  async count(filter: TaskCountFilter): Promise<number> {
    const { sql, params } = countStatement(filter);
    const [row] = (await this.dataSource.query(sql, params)) as Array<{ n: string | number | null }>;
    return Number(row?.n ?? 0);
  }

  /**
   * Every (task type, status) with its exact number of tasks, in one statement: the folded counts
   * plus the changes not folded yet. Cells with no task are left out.
   */
  async countsByTypeAndStatus(): Promise<Array<{ taskType: TaskType; status: TaskStatus; count: number }>> {
    const rows = (await this.dataSource.query(
      `SELECT task_type, status, SUM(n) AS n FROM (
          SELECT task_type, status, n FROM ${TASK_COUNTS_TABLE}
          UNION ALL SELECT task_type, to_status, 1 FROM ${TASK_COUNT_CHANGES_TABLE} WHERE to_status IS NOT NULL
          UNION ALL SELECT task_type, from_status, -1 FROM ${TASK_COUNT_CHANGES_TABLE} WHERE from_status IS NOT NULL
        ) AS cells GROUP BY task_type, status HAVING SUM(n) <> 0 ORDER BY task_type, status`,
    )) as Array<{ task_type: TaskType; status: TaskStatus; n: string | number }>;
    return rows.map((row) => ({ taskType: row.task_type, status: row.status, count: Number(row.n) }));
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
}
