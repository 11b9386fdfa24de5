import { DataSource } from 'typeorm';
import { newTaskId, TaskName, TaskStatus, TaskType } from '@tasklane/contracts';
import { TestDatabase } from '@tasklane/testing';
import { dataSourceOptions } from '../database/data-source.options';
import { BackgroundTask } from './background-task.entity';
import { NewTask } from './task-outbox.repository';
import { TaskFilter, TaskKeysetPosition, TaskRowPage } from './task-query.repository';
import { TaskRepositories, createTaskRepositories } from './task-repositories';
import { T0, at, succeeded, failed, useTaskRepositories } from './task-repositories.fixture';

// Real services (database set-up, migrations) need more than Jest's default 5 s.
jest.setTimeout(30_000);

describe('TaskQueryRepository (MariaDB)', () => {
  const fixture = useTaskRepositories('repository_queries');
  const { inserted, claimed } = fixture;
  let db: TestDatabase;
  let dataSource: DataSource;
  let tasks: TaskRepositories;

  beforeAll(() => {
    ({ db, dataSource, tasks } = fixture);
  });

  describe('findByTaskIds / finishedAmong (reads by many ids)', () => {
    it('finds the tasks that exist, and tells which are finished or gone, in statements of 1,000 ids', async () => {
      const pending = await inserted();
      const running = await inserted();
      const cancelled = await inserted();
      await claimed(running);
      await tasks.control.cancel(cancelled.taskId, at(5));
      const unknown = newTaskId();
      const many = [pending, running, cancelled].map((task) => task.taskId);
      const found = await tasks.queries.findByTaskIds([...many, unknown]);
      expect(found.map((row) => row.taskId).sort()).toEqual([...many].sort());

      // 2,500 ids: three statements; the unknown ones count as gone, only the cancelled one as finished.
      const padding = Array.from({ length: 2_497 }, () => newTaskId());
      const finished = await tasks.queries.finishedAmong([...many, ...padding]);
      expect(finished.has(cancelled.taskId)).toBe(true);
      expect(finished.has(pending.taskId)).toBe(false);
      expect(finished.has(running.taskId)).toBe(false);
      expect(finished.size).toBe(1 + padding.length);
      expect(await tasks.queries.finishedAmong([])).toEqual(new Set());
    });
  });

  describe('list / count', () => {
    let created: NewTask[];

    beforeAll(async () => {
      await dataSource.query('DELETE FROM background_tasks');
      // Inserted oldest first; ids grow with insertion order.
      const specs: Array<Partial<NewTask>> = [
        { taskType: TaskType.Email, taskName: TaskName.EmailSend },
        { taskType: TaskType.Report, taskName: TaskName.ReportTasksSummary },
        { taskType: TaskType.Email, taskName: TaskName.EmailSend },
        { taskType: TaskType.Cleanup, taskName: TaskName.CleanupPurgeTasks },
        { taskType: TaskType.Email, taskName: TaskName.DiagnosticFail },
        { taskType: TaskType.Report, taskName: TaskName.DiagnosticSleep },
      ];
      created = [];
      for (const [index, spec] of specs.entries()) {
        created.push(await inserted({ ...spec, createdAt: at(index) }));
      }
      // Statuses: 0 completed, 1 running, 2 failed, 3 pending, 4 pending, 5 cancelled.
      const attempts = [await claimed(created[0]), await claimed(created[1]), await claimed(created[2])];
      await tasks.events.applyEvents([
        succeeded(created[0], null, { attempt: attempts[0] }),
        failed(created[2], 'e', { attempt: attempts[2] }),
      ]);
      await tasks.control.cancel(created[5].taskId, at(99));
    });

    const ids = (rows: BackgroundTask[]) => rows.map((row) => row.taskId);
    const newestFirst = (...indexes: number[]) => indexes.map((index) => created[index].taskId);

    it('lists newest first with the total', async () => {
      const page = await tasks.queries.list({}, { limit: 50, offset: 0 });
      expect(page.total).toBe(6);
      expect(page.next).toBeNull();
      expect(ids(page.rows)).toEqual(newestFirst(5, 4, 3, 2, 1, 0));
      expect(page.rows[5]).toBeInstanceOf(BackgroundTask);
      expect(page.rows[5]).toMatchObject({ status: TaskStatus.Completed, taskName: TaskName.EmailSend });
    });

    it('honours limit and offset, with the total of all matches', async () => {
      const first = await tasks.queries.list({}, { limit: 2, offset: 0 });
      const second = await tasks.queries.list({}, { limit: 2, offset: 2 });
      const last = await tasks.queries.list({}, { limit: 2, offset: 4 });
      const beyond = await tasks.queries.list({}, { limit: 2, offset: 10 });
      expect(ids(first.rows)).toEqual(newestFirst(5, 4));
      expect(ids(second.rows)).toEqual(newestFirst(3, 2));
      expect(ids(last.rows)).toEqual(newestFirst(1, 0));
      expect(beyond.rows).toEqual([]);
      for (const page of [first, second, last, beyond]) {
        expect(page.total).toBe(6);
      }
      // An offset page also tells where the next page starts (its last row); the last one says there is none.
      expect(second.next).toEqual({ createdAt: second.rows[1].createdAt, id: second.rows[1].id });
      expect(
        ids((await tasks.queries.list({}, { limit: 2, offset: 0, after: second.next ?? undefined })).rows),
      ).toEqual(newestFirst(1, 0));
      expect(last.next).toBeNull();
      expect(beyond.next).toBeNull();
    });

    it('filters by status, by task type, and by both', async () => {
      const pending = await tasks.queries.list({ status: TaskStatus.Pending }, { limit: 50, offset: 0 });
      expect(ids(pending.rows)).toEqual(newestFirst(4, 3));
      expect(pending.total).toBe(2);

      const email = await tasks.queries.list({ taskType: TaskType.Email }, { limit: 50, offset: 0 });
      expect(ids(email.rows)).toEqual(newestFirst(4, 2, 0));
      expect(email.total).toBe(3);

      const emailPending = await tasks.queries.list(
        { status: TaskStatus.Pending, taskType: TaskType.Email },
        { limit: 1, offset: 0 },
      );
      expect(ids(emailPending.rows)).toEqual(newestFirst(4));
      expect(emailPending.total).toBe(1);
      expect(emailPending.next).toBeNull();

      const none = await tasks.queries.list(
        { status: TaskStatus.Running, taskType: TaskType.Analytics },
        { limit: 50, offset: 0 },
      );
      expect(none).toEqual({ rows: [], total: 0, next: null });
    });

    it('refuses a keyset position with a non-zero offset', async () => {
      await expect(
        tasks.queries.list({}, { limit: 2, offset: 1, after: { createdAt: new Date(T0), id: '5' } }),
      ).rejects.toThrow(/offset/);
    });

    it('counts with and without filters', async () => {
      expect(await tasks.counts.count({})).toBe(6);
      expect(await tasks.counts.count({ status: TaskStatus.Pending })).toBe(2);
      expect(await tasks.counts.count({ status: TaskStatus.Completed })).toBe(1);
      expect(await tasks.counts.count({ taskType: TaskType.Report })).toBe(2);
      expect(await tasks.counts.count({ taskType: TaskType.Report, status: TaskStatus.Cancelled })).toBe(1);
      expect(await tasks.counts.count({ taskType: TaskType.Analytics })).toBe(0);
    });
  });

  describe('list with a cursor (keyset pagination) and the total of offset pages', () => {
    const TYPES = [TaskType.Email, TaskType.Report, TaskType.Cleanup, TaskType.Email, TaskType.Report];
    const STATUSES = [TaskStatus.Completed, TaskStatus.Pending, TaskStatus.Completed, TaskStatus.Failed];
    const ids = (rows: BackgroundTask[]) => rows.map((row) => row.taskId);
    /** Tasks of the fixture, oldest first, with the type and status each was given. */
    let fixture: Array<{ taskId: string; taskType: TaskType; status: TaskStatus }>;

    beforeAll(async () => {
      await dataSource.query('DELETE FROM background_tasks');
      fixture = [];
      for (let i = 0; i < 41; i += 1) {
        const task = await inserted({ taskType: TYPES[i % TYPES.length], createdAt: at(i) });
        fixture.push({ taskId: task.taskId, taskType: task.taskType, status: STATUSES[i % STATUSES.length] });
      }
      for (const status of new Set(STATUSES)) {
        const taskIds = fixture.filter((task) => task.status === status).map((task) => task.taskId);
        await dataSource.query(`UPDATE background_tasks SET status = ? WHERE task_id IN (?)`, [status, taskIds]);
      }
    });

    afterAll(async () => {
      await dataSource.query('DELETE FROM background_tasks');
    });

    /** The fixture's tasks matching `filter`, newest first. */
    const expected = (filter: TaskFilter): string[] =>
      fixture
        .filter(
          (task) =>
            (filter.status === undefined || task.status === filter.status) &&
            (filter.taskType === undefined || task.taskType === filter.taskType),
        )
        .map((task) => task.taskId)
        .reverse();

    /** Follows `next` from the first page to the last; returns the task ids seen and the pages. */
    async function walk(filter: TaskFilter, limit: number): Promise<{ seen: string[]; pages: TaskRowPage[] }> {
      const pages = [await tasks.queries.list(filter, { limit, offset: 0 })];
      while (pages[pages.length - 1].next !== null && pages.length <= 100) {
        pages.push(
          await tasks.queries.list(filter, { limit, offset: 0, after: pages[pages.length - 1].next ?? undefined }),
        );
      }
      return { seen: pages.flatMap((page) => ids(page.rows)), pages };
    }

    const filters: TaskFilter[] = [
      {},
      { status: TaskStatus.Completed },
      { status: TaskStatus.Failed },
      { taskType: TaskType.Email },
      { taskType: TaskType.Report, status: TaskStatus.Completed },
      { taskType: TaskType.Analytics },
    ];

    it.each(filters.flatMap((filter) => [1, 3, 5, 50].map((limit) => ({ filter, limit }))))(
      'chains the pages of $filter by $limit, every matching task exactly once, newest first',
      async ({ filter, limit }) => {
        const want = expected(filter);
        const { seen, pages } = await walk(filter, limit);
        expect(seen).toEqual(want);
        // Full pages but the last, and no empty page after a full last one (n a multiple of limit).
        expect(pages).toHaveLength(Math.max(1, Math.ceil(want.length / limit)));
        for (const [index, page] of pages.entries()) {
          // The first page (no position) counts exactly; keyset pages do not count.
          expect(page.total).toBe(index === 0 ? want.length : null);
          expect(page.rows.length).toBeLessThanOrEqual(limit);
          expect(page.rows.every((row) => filter.status === undefined || row.status === filter.status)).toBe(true);
        }
        expect(pages[pages.length - 1].next).toBeNull();
      },
    );

    it('starts a page right after its cursor even when tasks were added or its last task deleted meanwhile', async () => {
      const filter = { taskType: TaskType.Email };
      const want = expected(filter);
      const first = await tasks.queries.list(filter, { limit: 4, offset: 0 });
      expect(ids(first.rows)).toEqual(want.slice(0, 4));

      // Two newer matching tasks arrive, and the task the position points at is purged.
      const newer = [
        await inserted({ taskType: TaskType.Email, createdAt: at(1_000) }),
        await inserted({ taskType: TaskType.Email, createdAt: at(1_001) }),
      ];
      await dataSource.query('DELETE FROM background_tasks WHERE task_id = ?', [want[3]]);

      const second = await tasks.queries.list(filter, { limit: 4, offset: 0, after: first.next ?? undefined });
      expect(ids(second.rows)).toEqual(want.slice(4, 8));
      // The same page by offset shifts by the two arrivals less the purged task
      const byOffset = await tasks.queries.list(filter, { limit: 4, offset: 4 });
      // (it repeats the task before the purged one, which the first page showed already).
      expect(ids(byOffset.rows)).toEqual([want[2], ...want.slice(4, 7)]);
      expect(second.total).toBeNull();

      await dataSource.query('DELETE FROM background_tasks WHERE task_id IN (?)', [newer.map((task) => task.taskId)]);
      fixture = fixture.filter((task) => task.taskId !== want[3]);
    });

    it('reads each page off the index of its filter in (created_at, id) order (no filesort) and counts off the task counts', async () => {
      const statements: Array<{ sql: string; parameters: unknown[] }> = [];
      const logged = new DataSource({
        ...dataSourceOptions({ url: db.url, poolSize: 2 }),
        logging: ['query'],
        logger: {
          logQuery: (sql, parameters) => statements.push({ sql, parameters: (parameters ?? []) as unknown[] }),
          logQueryError: () => undefined,
          logQuerySlow: () => undefined,
          logSchemaBuild: () => undefined,
          logMigration: () => undefined,
          log: () => undefined,
        },
      });
      await logged.initialize();
      try {
        const repository = createTaskRepositories(logged);
        const [tenth] = (await dataSource.query(
          'SELECT id, created_at AS createdAt FROM background_tasks ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET 10',
        )) as [{ id: string; createdAt: Date }];
        const middle: TaskKeysetPosition = { createdAt: tenth.createdAt, id: String(tenth.id) };
        const cases: Array<[TaskFilter, string]> = [
          [{}, 'idx_background_tasks_created_at'],
          [{ status: TaskStatus.Completed }, 'idx_background_tasks_status_created_at'],
          [{ taskType: TaskType.Email }, 'idx_background_tasks_task_type_created_at'],
          [
            { taskType: TaskType.Email, status: TaskStatus.Completed },
            'idx_background_tasks_task_type_status_created_at',
          ],
        ];
        type Plan = Array<{
          select_type: string;
          table: string | null;
          type: string;
          key: string | null;
          Extra: string | null;
        }>;
        const explain = async (pick: (sql: string) => boolean): Promise<Plan> => {
          const statement = statements.find(({ sql }) => pick(sql));
          expect(statement).toBeDefined();
          return (await dataSource.query(`EXPLAIN ${statement?.sql ?? ''}`, statement?.parameters)) as Plan;
        };
        for (const [filter, index] of cases) {
          for (const page of [
            { limit: 5, offset: 0 },
            { limit: 5, offset: 3 },
            { limit: 5, offset: 0, after: middle },
          ]) {
            statements.length = 0;
            await repository.queries.list(filter, page);
            const scan = (await explain((sql) => sql.includes('FORCE INDEX'))).find(
              (step) => step.select_type === 'DERIVED',
            );
            const where = { filter, page };
            expect({ where, key: scan?.key, type: scan?.type, extra: scan?.Extra }).toEqual({
              where,
              key: index,
              // On a table this small the optimizer picks `ref` or `range` on the forced index by
              // sampled statistics, run to run (at 200,000 rows a keyset page is a `range` reading
              // `limit` entries: checked by hand with Handler_read_prev; the bench times it at 1M).
              type: expect.stringMatching(/^(ref|index|range)$/),
              extra: expect.stringMatching(/Using index/),
            });
            expect(scan?.Extra).not.toMatch(/filesort/);
            const counting = ({ sql }: { sql: string }) => sql.includes('background_task_counts');
            if (page.after === undefined) {
              // The offset page's exact total: read off the counts and their journal, never a
              // scan of background_tasks.
              // (A lookup of the counts by their primary key is read while planning: no step.)
              const counted = await explain((sql) => counting({ sql }));
              const tables = counted.map((step) => step.table);
              expect(tables).toContain('background_task_count_changes');
              expect(tables).not.toContain('background_tasks');
            } else {
              // A keyset page never counts.
              expect(statements.some(counting)).toBe(false);
            }
          }
        }
      } finally {
        await logged.destroy();
      }
    });

    it('answers an empty last page for a position past the oldest task', async () => {
      const page = await tasks.queries.list({}, { limit: 10, offset: 0, after: { createdAt: new Date(0), id: '1' } });
      expect(page).toEqual({ rows: [], total: null, next: null });
    });

    it('gives the exact total on offset pages (with a deep offset too) and none on keyset pages', async () => {
      const digits =
        'SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 ' +
        'UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9';
      await dataSource.query(
        `INSERT INTO background_tasks (task_id, task_name, task_type, priority, status, params, retry_count, max_retries, created_at)
         SELECT UUID(), ?, ?, 5, ?, '{}', 0, 3, UTC_TIMESTAMP(3)
           FROM (${digits}) a, (${digits}) b, (${digits}) c, (${digits}) d LIMIT 2500`,
        [TaskName.AnalyticsTaskStats, TaskType.Analytics, TaskStatus.Completed],
      );
      const analytics = { taskType: TaskType.Analytics };
      const matching = await tasks.counts.count(analytics);
      expect(matching).toBe(2_500 + expected(analytics).length);
      const first = await tasks.queries.list(analytics, { limit: 5, offset: 0 });
      expect(first.total).toBe(matching);
      const deep = await tasks.queries.list(analytics, { limit: 5, offset: 2_000 });
      expect(deep.total).toBe(matching);
      expect(deep.rows).toHaveLength(5);
      expect(deep.next).not.toBeNull();
      expect((await tasks.queries.list({}, { limit: 5, offset: 0 })).total).toBe(await tasks.counts.count({}));
      // The deep offset page and the keyset walk agree; keyset pages carry no total.
      const tail = await tasks.queries.list(analytics, { limit: 1_000, offset: 0, after: deep.next ?? undefined });
      expect(tail.total).toBeNull();
      expect(tail.rows).toHaveLength(matching - 2_005);
      expect(tail.next).toBeNull();
    });
  });

  describe('list order: created_at, the field clients see, not the row id', () => {
    // Inserted in this order (ids grow), created at these offsets from T0: concurrent enqueues
    // commit out of their created_at order, and several share a millisecond.
    const OFFSETS = [5, 1, 9, 1, 7, 3, 9, 0, 2, 1];
    let rows: Array<{ taskId: string; createdAtMs: number; insertedAt: number; taskType: TaskType }>;

    beforeAll(async () => {
      await dataSource.query('DELETE FROM background_tasks');
      rows = [];
      for (const [insertedAt, offset] of OFFSETS.entries()) {
        const taskType = insertedAt % 2 === 0 ? TaskType.Email : TaskType.Report;
        const task = await inserted({ createdAt: at(offset), taskType });
        rows.push({ taskId: task.taskId, createdAtMs: T0 + offset, insertedAt, taskType });
      }
      // Half of them completed, so the status indexes are walked too.
      const completed = rows.filter((row) => row.insertedAt % 3 === 0).map((row) => row.taskId);
      await dataSource.query(`UPDATE background_tasks SET status = ? WHERE task_id IN (?)`, [
        TaskStatus.Completed,
        completed,
      ]);
    });

    afterAll(async () => {
      await dataSource.query('DELETE FROM background_tasks');
    });

    /** Newest created first; among equal created_at, the later insert first. */
    const want = (keep: (row: (typeof rows)[number]) => boolean) =>
      rows
        .filter(keep)
        .sort((a, b) => b.createdAtMs - a.createdAtMs || b.insertedAt - a.insertedAt)
        .map((row) => row.taskId);

    const filters: Array<[TaskFilter, (row: (typeof rows)[number]) => boolean]> = [
      [{}, () => true],
      [{ taskType: TaskType.Email }, (row) => row.taskType === TaskType.Email],
      [{ status: TaskStatus.Pending }, (row) => row.insertedAt % 3 !== 0],
      [
        { status: TaskStatus.Pending, taskType: TaskType.Report },
        (row) => row.insertedAt % 3 !== 0 && row.taskType === TaskType.Report,
      ],
    ];

    it.each(filters)(
      'lists %j newest created first, by offset pages and by keyset pages alike',
      async (filter, keep) => {
        const expected = want(keep);
        const all = await tasks.queries.list(filter, { limit: 50, offset: 0 });
        expect(all.rows.map((row) => row.taskId)).toEqual(expected);
        const createdAt = all.rows.map((row) => row.createdAt.getTime());
        expect(createdAt).toEqual([...createdAt].sort((a, b) => b - a));
        for (const limit of [1, 2, 3]) {
          const seen: string[] = [];
          let after: TaskKeysetPosition | null = null;
          let offset = 0;
          const byOffset: string[] = [];
          do {
            const page: TaskRowPage = await tasks.queries.list(filter, {
              limit,
              offset: 0,
              ...(after === null ? {} : { after }),
            });
            seen.push(...page.rows.map((row) => row.taskId));
            after = page.next;
          } while (after !== null && seen.length <= rows.length);
          for (; offset < expected.length; offset += limit) {
            byOffset.push(...(await tasks.queries.list(filter, { limit, offset })).rows.map((row) => row.taskId));
          }
          // Every task once, in order, however the pages fall across tasks created in the same millisecond.
          expect({ limit, seen }).toEqual({ limit, seen: expected });
          expect({ limit, byOffset }).toEqual({ limit, byOffset: expected });
        }
      },
    );
  });

  describe('list narrowed beyond status and type: name, priority, time window, text in params or result', () => {
    let rows: NewTask[];

    beforeAll(async () => {
      await dataSource.query('DELETE FROM background_tasks');
      rows = [];
      const specs: Array<Partial<NewTask>> = [
        { priority: 1, params: { to: 'ada@example.com', note: '100% sure' } },
        { priority: 9, params: { to: 'Grace@Example.com' }, taskName: TaskName.EmailSend },
        { priority: 9, params: { to: 'linus@example.org', note: 'under_score' } },
        { priority: 5, params: { ms: 1 } },
      ];
      for (const [index, spec] of specs.entries()) {
        rows.push(await inserted({ ...spec, createdAt: at(index * 1_000) }));
      }
      const attempt = await claimed(rows[3]);
      await tasks.events.applyEvents([succeeded(rows[3], { report: 'Quarterly NUMBERS' }, { attempt })]);
    });

    const ids = async (filter: Parameters<TaskRepositories['queries']['list']>[0]) =>
      (await tasks.queries.list(filter, { limit: 50, offset: 0 })).rows.map((row) => row.taskId);
    const idsOf = (...indexes: number[]) => indexes.map((index) => rows[index].taskId);

    it('filters by priority and task name, newest first, and does not count (total null)', async () => {
      expect(await ids({ priority: 9 })).toEqual(idsOf(2, 1));
      expect(await ids({ priority: 9, taskName: TaskName.EmailSend })).toEqual(idsOf(1));
      expect((await tasks.queries.list({ priority: 9 }, { limit: 50, offset: 0 })).total).toBeNull();
      expect((await tasks.queries.list({}, { limit: 50, offset: 0 })).total).toBe(4);
    });

    it('filters by a time window: from inclusive, before exclusive', async () => {
      expect(await ids({ createdFrom: at(1_000), createdBefore: at(3_000) })).toEqual(idsOf(2, 1));
      expect(await ids({ createdFrom: at(3_000) })).toEqual(idsOf(3));
    });

    it('finds text in params or result, case-insensitively, with %, _ and ! taken literally', async () => {
      expect(await ids({ search: 'EXAMPLE.COM' })).toEqual(idsOf(1, 0));
      expect(await ids({ search: 'quarterly numbers' })).toEqual(idsOf(3));
      expect(await ids({ search: '100%' })).toEqual(idsOf(0));
      expect(await ids({ search: '%' })).toEqual(idsOf(0));
      // As a pattern, a_a would match "ada".
      expect(await ids({ search: 'a_a' })).toEqual([]);
      expect(await ids({ search: 'under_score' })).toEqual(idsOf(2));
      expect(await ids({ search: '!' })).toEqual([]);
      expect(await ids({ search: 'nowhere' })).toEqual([]);
    });

    it('pages a narrowed list by keyset like any other', async () => {
      const first = await tasks.queries.list({ search: 'example' }, { limit: 2, offset: 0 });
      expect(first.rows.map((row) => row.taskId)).toEqual(idsOf(2, 1));
      const next = await tasks.queries.list(
        { search: 'example' },
        { limit: 2, offset: 0, after: first.next ?? undefined },
      );
      expect(next.rows.map((row) => row.taskId)).toEqual(idsOf(0));
      expect(next.next).toBeNull();
    });
  });
});
