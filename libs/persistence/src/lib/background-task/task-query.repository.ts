import { Inject, Injectable } from '@nestjs/common';
import { DataSource, In } from 'typeorm';
import { TaskName, TaskStatus, TaskType, isTerminalStatus } from '@tasklane/contracts';
import { BackgroundTask } from './background-task.entity';
import { BackgroundTaskRun } from './background-task-run.entity';
import { TABLE, placeholders } from './task-sql';

/** Task ids per statement of a read by many ids. */
const IDS_PER_STATEMENT = 1_000;
import { TaskCountFilter } from './task-counts';
import { TaskCountRepository } from './task-count.repository';
import { DatabaseBoundary } from '../database/database-errors';

/** Which tasks a list or a count is about: any combination of status and task type. */
export type TaskFilter = TaskCountFilter;

/** Which tasks a list is about: a {@link TaskFilter}, narrowed further (such lists are not counted). */
export interface TaskListFilter extends TaskFilter {
  taskName?: TaskName;
  priority?: number;
  /** Created at or after. */
  createdFrom?: Date;
  /** Created before. */
  createdBefore?: Date;
  /** Text found in the JSON of `params` or `result`, case-insensitive (a scan of the rows the other filters leave). */
  search?: string;
}

/** Whether a list filter narrows beyond status and type, so that the counts cannot say how many match. */
export function narrowsBeyondCounts(filter: TaskListFilter): boolean {
  return (
    filter.taskName !== undefined ||
    filter.priority !== undefined ||
    filter.createdFrom !== undefined ||
    filter.createdBefore !== undefined ||
    filter.search !== undefined
  );
}

/** `%text%` for `LIKE … ESCAPE '!'`, lower-cased, with the pattern characters of `text` escaped. */
export function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[!%_]/g, '!$&')}%`;
}

/**
 * A keyset position in a list, newest first: right after the task created at `createdAt` with row
 * `id` (`background_tasks.id`, a positive decimal). Lists are ordered by the pair.
 */
export interface TaskKeysetPosition {
  createdAt: Date;
  id: string;
}

/** Which page of a list: `limit` tasks, right `after` a keyset position or from `offset` on. */
export interface TaskPageRequest {
  limit: number;
  offset: number;
  after?: TaskKeysetPosition;
}

/** A page of a list: its rows, newest first, the count of all matches, and where the next page starts. */
export interface TaskRowPage {
  rows: BackgroundTask[];
  /** How many tasks match the filter (all pages): counted for a page without `after` only, else null. */
  total: number | null;
  /** The position of the page's last row when more rows follow; null on the last page. */
  next: TaskKeysetPosition | null;
}

/** The condition of a list on the columns of `background_tasks`, with named parameters. */
function matching(
  filter: TaskListFilter,
  after?: TaskKeysetPosition,
): { sql: string; parameters: Record<string, unknown> } {
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
  if (filter.taskName !== undefined) {
    clauses.push('task_name = :taskName');
    parameters['taskName'] = filter.taskName;
  }
  if (filter.priority !== undefined) {
    clauses.push('priority = :priority');
    parameters['priority'] = filter.priority;
  }
  if (filter.createdFrom !== undefined) {
    clauses.push('created_at >= :createdFrom');
    parameters['createdFrom'] = filter.createdFrom;
  }
  if (filter.createdBefore !== undefined) {
    clauses.push('created_at < :createdBefore');
    parameters['createdBefore'] = filter.createdBefore;
  }
  if (filter.search !== undefined) {
    // JSON columns compare as binary strings on MariaDB: both sides lower-cased.
    clauses.push(
      "(LOWER(CAST(params AS CHAR)) LIKE :search ESCAPE '!' OR LOWER(CAST(result AS CHAR)) LIKE :search ESCAPE '!')",
    );
    parameters['search'] = containsPattern(filter.search);
  }
  if (after !== undefined) {
    // (created_at, id) < (:afterCreatedAt, :afterId), spelled out: two ranges of the index.
    clauses.push('(created_at < :afterCreatedAt OR (created_at = :afterCreatedAt AND id < :afterId))');
    parameters['afterCreatedAt'] = after.createdAt;
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
 * another index filtering every row, or read a `ref` on the prefix without using the keyset's
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

/** Reads of tasks for the API and the metrics: one task, a page of tasks, its earlier runs. */
@Injectable()
@DatabaseBoundary()
export class TaskQueryRepository {
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(TaskCountRepository) private readonly counts: TaskCountRepository,
  ) {}

  findByTaskId(taskId: string): Promise<BackgroundTask | null> {
    return this.dataSource.getRepository(BackgroundTask).findOneBy({ taskId });
  }

  /** The tasks of these ids that exist, in no particular order (statements of 1,000 ids). */
  async findByTaskIds(taskIds: readonly string[]): Promise<BackgroundTask[]> {
    const found: BackgroundTask[] = [];
    for (let start = 0; start < taskIds.length; start += IDS_PER_STATEMENT) {
      found.push(
        ...(await this.dataSource
          .getRepository(BackgroundTask)
          .findBy({ taskId: In(taskIds.slice(start, start + IDS_PER_STATEMENT)) })),
      );
    }
    return found;
  }

  /**
   * Which of these tasks are finished (completed, failed, cancelled) or gone: one read of the
   * unique task_id index for all of them, as many as asked (in statements of 1,000 ids) — what the
   * gateway's waiters poll, once for every client waiting.
   */
  async finishedAmong(taskIds: readonly string[]): Promise<Set<string>> {
    const finished = new Set<string>();
    for (let start = 0; start < taskIds.length; start += IDS_PER_STATEMENT) {
      const chunk = taskIds.slice(start, start + IDS_PER_STATEMENT);
      const rows = (await this.dataSource.query(
        `SELECT task_id, status FROM ${TABLE} WHERE task_id IN (${placeholders(chunk.length)})`,
        chunk,
      )) as Array<{ task_id: string; status: TaskStatus }>;
      const present = new Set(rows.map((row) => row.task_id));
      for (const row of rows) {
        if (isTerminalStatus(row.status)) {
          finished.add(row.task_id);
        }
      }
      // A task deleted meanwhile (retention) will not finish: its waiters are answered too.
      chunk.filter((taskId) => !present.has(taskId)).forEach((taskId) => finished.add(taskId));
    }
    return finished;
  }

  /**
   * One page of tasks matching `filter`, newest first by `created_at` (ties: the later row first).
   * A position `after` (the `next` of an earlier page) starts the page right after that page's
   * last task — a keyset query, `WHERE <filter> AND (created_at, id) < (?, ?) ORDER BY created_at
   * DESC, id DESC LIMIT n`, the same short index range however deep the page — and cannot be
   * combined with a non-zero `offset`. An `offset` skips that many
   * matching tasks off the index before any row is read: linear in the offset, but index-only.
   * `next` comes from reading one task more than the page. `total` (a page without `after` only,
   * as the original API has it) is an exact count, made concurrently on another connection; a
   * keyset page does not count — its cost must not grow with the number of matches — and neither
   * does a list narrowed beyond status and type ({@link narrowsBeyondCounts}).
   */
  async list(filter: TaskListFilter, page: TaskPageRequest): Promise<TaskRowPage> {
    const after = page.after;
    if (after !== undefined && page.offset > 0) {
      throw new RangeError('a keyset position cannot be combined with a non-zero offset');
    }
    const [rows, total] = await Promise.all([
      this.pageRows(filter, after, page.limit + 1, page.offset),
      after === undefined && !narrowsBeyondCounts(filter) ? this.counts.count(filter) : Promise.resolve(null),
    ]);
    const items = rows.slice(0, page.limit);
    const last = items[items.length - 1];
    return {
      rows: items,
      total,
      next: rows.length > page.limit ? { createdAt: last.createdAt, id: last.id } : null,
    };
  }

  /**
   * Up to `limit` tasks matching `filter` after `after`, newest first, from the `offset`-th on, in
   * one statement: the ids of the page — and of the tasks an offset skips — come off the index of
   * the filter in (created_at, id) order (index-only, no sort), then only the page's rows are read.
   */
  private pageRows(
    filter: TaskListFilter,
    after: TaskKeysetPosition | undefined,
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

  /** The earlier runs of a task, oldest first (empty when it never was re-queued). */
  listRuns(taskId: string): Promise<BackgroundTaskRun[]> {
    return this.dataSource.getRepository(BackgroundTaskRun).find({ where: { taskId }, order: { run: 'ASC' } });
  }

  /**
   * Per task type, how long (ms, on the database clock) the longest-waiting pending task has
   * waited: since its creation, or since its `run_at` for one scheduled for later — a task whose
   * time has not come is not waiting. (Reads every pending row of the type: one scan per scrape.)
   */
  async oldestPendingAges(): Promise<Array<{ taskType: TaskType; ageMs: number }>> {
    const rows = (await this.dataSource.query(
      `SELECT task_type,
              TIMESTAMPDIFF(MICROSECOND, MIN(GREATEST(created_at, COALESCE(run_at, created_at))), UTC_TIMESTAMP(3)) AS age_us
         FROM ${TABLE}
        WHERE status = '${TaskStatus.Pending}' AND (run_at IS NULL OR run_at <= UTC_TIMESTAMP(3))
        GROUP BY task_type`,
    )) as Array<{ task_type: TaskType; age_us: string | number }>;
    return rows.map((row) => ({ taskType: row.task_type, ageMs: Math.max(0, Number(row.age_us) / 1000) }));
  }
}
