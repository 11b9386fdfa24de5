import { DataSource } from 'typeorm';
import {
  DEFAULT_RETENTION_SCHEDULE,
  ScheduleMissedPolicy,
  ScheduleOverlapPolicy,
  TaskName,
  TaskStatus,
  TaskType,
  ValidSchedule,
  scheduleActor,
} from '@tasklane/contracts';
import { TestDatabase, createTestDatabase } from '@tasklane/testing';
import { dataSourceOptions } from '../database/data-source.options';
import { migrateUp } from '../database/migrator';
import { ScheduleNameTaken, StoredSchedule, TaskScheduleRepository } from './task-schedule.repository';
import { SCHEDULES_TABLE } from './task-schedule.sql';

jest.setTimeout(60_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function schedule(overrides: Partial<ValidSchedule> = {}): ValidSchedule {
  return {
    name: 'every-second',
    cron: '* * * * * *',
    timezone: 'UTC',
    missed: ScheduleMissedPolicy.FireOnce,
    overlap: ScheduleOverlapPolicy.Allow,
    enabled: true,
    task: {
      task_name: TaskName.DiagnosticSleep,
      task_type: TaskType.Cleanup,
      params: { ms: 1 },
      priority: 4,
      max_retries: 2,
      timeout_ms: 30_000,
    },
    ...overrides,
  };
}

const PASS = { lookaheadMs: 400, graceMs: 5_000, maxTicks: 100, limit: 100 };

describe('TaskScheduleRepository (MariaDB)', () => {
  let db: TestDatabase;
  let sources: DataSource[];
  let repo: TaskScheduleRepository;
  let other: TaskScheduleRepository;
  let counter = 0;

  beforeAll(async () => {
    db = await createTestDatabase('repository_schedules');
    await migrateUp(db.url);
    sources = await Promise.all(
      [0, 1].map(() => new DataSource(dataSourceOptions({ url: db.url, poolSize: 4 })).initialize()),
    );
    [repo, other] = sources.map((source) => new TaskScheduleRepository(source));
  });

  afterAll(async () => {
    await Promise.all((sources ?? []).map((source) => source.destroy()));
    await db?.drop();
  });

  const dbNow = async () => ((await sources[0].query('SELECT UTC_TIMESTAMP(3) AS now')) as Array<{ now: Date }>)[0].now;
  const unique = (prefix: string) => `${prefix}-${++counter}`;
  const tasksOf = async (stored: StoredSchedule) =>
    (await sources[0].query(
      `SELECT t.task_id, t.status, t.run_at, t.due_at, t.dispatched_at, t.priority, t.params, e.actor, e.message
         FROM background_tasks t JOIN background_task_events e ON e.task_id = t.task_id AND e.event = 'enqueued'
        WHERE e.actor = ? ORDER BY t.run_at`,
      [scheduleActor(stored.scheduleId)],
    )) as Array<{
      task_id: string;
      status: string;
      run_at: Date;
      due_at: Date;
      dispatched_at: Date | null;
      priority: number;
      params: string;
      actor: string;
      message: string;
    }>;
  /** Creates a schedule whose next tick is `offsetMs` from the database's now (whole seconds). */
  const createDue = async (overrides: Partial<ValidSchedule>, offsetMs: number) => {
    const now = await dbNow();
    const tick = new Date(Math.floor((now.getTime() + offsetMs) / 1_000) * 1_000);
    return repo.create({ schedule: schedule({ name: unique('due'), ...overrides }), nextRunAt: tick }, 'test', now);
  };

  it('every database starts with the cleanup retention schedule, daily at 03:00 UTC', async () => {
    const [retention] = (await repo.list(10, null)).filter((item) => item.name === DEFAULT_RETENTION_SCHEDULE.name);
    expect(retention).toMatchObject({
      cron: '0 3 * * *',
      timezone: 'UTC',
      enabled: true,
      missed: ScheduleMissedPolicy.FireOnce,
      task: { task_name: TaskName.CleanupPurgeTasks, task_type: TaskType.Cleanup, params: {} },
      createdBy: 'migration',
    });
    const next = retention.nextRunAt as Date;
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(86_400_000);
    expect(next.toISOString()).toMatch(/T03:00:00\.000Z$/);
  });

  describe('create / get / list / update / delete', () => {
    it('round-trips a schedule and its task', async () => {
      const next = new Date('2030-01-01T02:00:00.000Z');
      const created = await repo.create(
        {
          schedule: schedule({
            name: 'round-trip',
            timezone: 'Europe/Paris',
            missed: ScheduleMissedPolicy.Skip,
            overlap: ScheduleOverlapPolicy.Skip,
          }),
          nextRunAt: next,
        },
        'key:ops',
        new Date('2026-12-07T10:00:00.123Z'),
      );
      expect(created).toEqual({
        scheduleId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        name: 'round-trip',
        cron: '* * * * * *',
        timezone: 'Europe/Paris',
        missed: ScheduleMissedPolicy.Skip,
        overlap: ScheduleOverlapPolicy.Skip,
        enabled: true,
        task: schedule().task,
        nextRunAt: next,
        lastRunAt: null,
        lastTaskId: null,
        createdBy: 'key:ops',
        createdAt: new Date('2026-12-07T10:00:00.123Z'),
        updatedAt: new Date('2026-12-07T10:00:00.123Z'),
      });
      expect(await other.get(created.scheduleId)).toEqual(created);
      expect(await repo.get('00000000-0000-7000-8000-000000000000')).toBeNull();
    });

    it('names are unique whatever their case, on create and on rename', async () => {
      await repo.create({ schedule: schedule({ name: 'Unique-Name' }), nextRunAt: null }, null, new Date());
      await expect(
        repo.create({ schedule: schedule({ name: 'unique-name' }), nextRunAt: null }, null, new Date()),
      ).rejects.toBeInstanceOf(ScheduleNameTaken);
      const second = await repo.create(
        { schedule: schedule({ name: 'second-name' }), nextRunAt: null },
        null,
        new Date(),
      );
      await expect(
        repo.update(
          second.scheduleId,
          () => ({ schedule: schedule({ name: 'UNIQUE-NAME' }), nextRunAt: null }),
          new Date(),
        ),
      ).rejects.toBeInstanceOf(ScheduleNameTaken);
      expect((await repo.get(second.scheduleId))?.name).toBe('second-name');
    });

    it('lists by name, a page at a time after the last name', async () => {
      for (const name of ['page-c', 'page-a', 'page-b']) {
        await repo.create({ schedule: schedule({ name }), nextRunAt: null }, null, new Date());
      }
      const names = async (after: string | null) =>
        (await repo.list(2, after)).map((item) => item.name).filter((name) => name.startsWith('page-'));
      expect(await names('page')).toEqual(['page-a', 'page-b']);
      expect(await names('page-b')).toEqual(['page-c']);
    });

    it('update hands the locked schedule to the change and writes what it returns; a throw changes nothing', async () => {
      const created = await repo.create(
        { schedule: schedule({ name: unique('upd') }), nextRunAt: null },
        null,
        new Date(),
      );
      const seen: StoredSchedule[] = [];
      const updated = await repo.update(
        created.scheduleId,
        (current) => {
          seen.push(current);
          return { schedule: schedule({ name: current.name, cron: '0 4 * * *', enabled: false }), nextRunAt: null };
        },
        new Date('2027-01-01T00:00:00Z'),
      );
      expect(seen).toEqual([created]);
      expect(updated).toMatchObject({ cron: '0 4 * * *', enabled: false, nextRunAt: null });
      expect(updated?.updatedAt).toEqual(new Date('2027-01-01T00:00:00Z'));

      await expect(
        repo.update(
          created.scheduleId,
          () => {
            throw new Error('refused');
          },
          new Date(),
        ),
      ).rejects.toThrow('refused');
      expect(await repo.get(created.scheduleId)).toEqual(updated);
      expect(
        await repo.update(
          '00000000-0000-7000-8000-000000000000',
          () => ({ schedule: schedule(), nextRunAt: null }),
          new Date(),
        ),
      ).toBeNull();
    });

    it('delete removes it once', async () => {
      const created = await repo.create(
        { schedule: schedule({ name: unique('del') }), nextRunAt: null },
        null,
        new Date(),
      );
      expect(await repo.delete(created.scheduleId)).toBe(true);
      expect(await repo.delete(created.scheduleId)).toBe(false);
      expect(await repo.get(created.scheduleId)).toBeNull();
    });
  });

  describe('fireDue', () => {
    afterEach(async () => {
      // Each test's schedules stop firing once it is over.
      await sources[0].query(`UPDATE ${SCHEDULES_TABLE} SET next_run_at = NULL`);
    });

    it('inserts one pending task per due tick, due at its tick, and moves the schedule past them', async () => {
      const created = await createDue({ cron: '* * * * * *' }, -1_000);
      const firings = await repo.fireDue(PASS);
      const mine = firings.filter((firing) => firing.scheduleId === created.scheduleId);
      expect(mine).toHaveLength(1);
      const tasks = await tasksOf(created);
      expect(tasks.map((task) => task.task_id)).toEqual(mine[0].taskIds);
      expect(tasks.length).toBeGreaterThanOrEqual(2);
      tasks.forEach((task, index) => {
        expect(task).toMatchObject({ status: TaskStatus.Pending, dispatched_at: null, priority: 4 });
        expect(task.due_at).toEqual(task.run_at);
        expect(task.message).toBe(`scheduled for ${task.run_at.toISOString()}`);
        expect(task.run_at.getTime()).toBe((created.nextRunAt as Date).getTime() + index * 1_000);
      });
      const after = await repo.get(created.scheduleId);
      expect(after?.nextRunAt?.getTime()).toBe(tasks[tasks.length - 1].run_at.getTime() + 1_000);
      expect(after?.lastRunAt).toEqual(tasks[tasks.length - 1].run_at);
      expect(after?.lastTaskId).toBe(tasks[tasks.length - 1].task_id);
      // Nothing more is due until the next tick comes within the lookahead.
      expect((await repo.fireDue(PASS)).filter((firing) => firing.scheduleId === created.scheduleId)).toEqual([]);
    });

    it('two schedulers racing for ~3 s fire every tick of every schedule exactly once', async () => {
      const racing = await Promise.all([0, 1, 2, 3, 4].map((index) => createDue({ name: unique(`race-${index}`) }, 0)));
      const stopAt = Date.now() + 3_000;
      const loop = async (scheduler: TaskScheduleRepository) => {
        let passes = 0;
        while (Date.now() < stopAt) {
          await scheduler.fireDue({ ...PASS, lookaheadMs: 0 });
          passes += 1;
          await sleep(5);
        }
        return passes;
      };
      const passes = await Promise.all([loop(repo), loop(other), loop(repo), loop(other)]);
      expect(Math.min(...passes)).toBeGreaterThan(10);
      for (const created of racing) {
        const ticks = (await tasksOf(created)).map((task) => task.run_at.getTime());
        expect(new Set(ticks).size).toBe(ticks.length);
        expect(ticks.length).toBeGreaterThanOrEqual(3);
        // Contiguous: one task per second from the first tick on, none missing.
        expect(ticks).toEqual(ticks.map((_, index) => (created.nextRunAt as Date).getTime() + index * 1_000));
      }
    });

    it('a tick missed by more than the grace fires once (fire_once) or not at all (skip)', async () => {
      const once = await createDue({ cron: '* * * * * *', missed: ScheduleMissedPolicy.FireOnce }, -600_000);
      const skip = await createDue({ cron: '* * * * * *', missed: ScheduleMissedPolicy.Skip }, -600_000);
      const now = await dbNow();
      const firings = await repo.fireDue(PASS);
      expect(firings.find((firing) => firing.scheduleId === once.scheduleId)?.plan).toMatchObject({
        missed: true,
        fire: [once.nextRunAt],
      });
      expect(firings.find((firing) => firing.scheduleId === skip.scheduleId)?.plan).toMatchObject({
        missed: true,
        fire: [],
      });
      expect((await tasksOf(once)).map((task) => task.run_at)).toEqual([once.nextRunAt]);
      expect(await tasksOf(skip)).toEqual([]);
      for (const created of [once, skip]) {
        const next = (await repo.get(created.scheduleId))?.nextRunAt as Date;
        expect(next.getTime()).toBeGreaterThan(now.getTime());
        expect(next.getTime()).toBeLessThanOrEqual(now.getTime() + 1_000);
      }
    });

    it('overlap skip: no task while the previous one is pending or running, none ahead of its tick, and only one of several due ticks', async () => {
      const created = await createDue({ cron: '* * * * * *', overlap: ScheduleOverlapPolicy.Skip }, -3_000);
      // Four ticks are due (−3 s … now): one task, the oldest; the three others would run beside it.
      const [first] = (await repo.fireDue(PASS)).filter((firing) => firing.scheduleId === created.scheduleId);
      expect(first.taskIds).toHaveLength(1);
      expect(first.plan.fire).toEqual([created.nextRunAt]);
      expect(first.overlapped).toBeGreaterThanOrEqual(3);
      expect(first.overlappedBy).toBe(first.taskIds[0]);
      const [task] = await tasksOf(created);
      // Not ahead of its tick: the next one is in the future, so a pass now fires nothing for it.
      const next = (await repo.get(created.scheduleId))?.nextRunAt as Date;
      expect(next.getTime()).toBeGreaterThan((await dbNow()).getTime());
      expect((await repo.fireDue(PASS)).filter((firing) => firing.scheduleId === created.scheduleId)).toEqual([]);

      for (const status of [TaskStatus.Pending, TaskStatus.Running]) {
        await sources[0].query('UPDATE background_tasks SET status = ? WHERE task_id = ?', [status, task.task_id]);
        await sleep(Math.max(0, next.getTime() - (await dbNow()).getTime()) + 1_100);
        const [overlapped] = (await repo.fireDue(PASS)).filter((firing) => firing.scheduleId === created.scheduleId);
        expect(overlapped).toMatchObject({ taskIds: [], overlappedBy: task.task_id });
        expect(overlapped.overlapped).toBeGreaterThanOrEqual(1);
        expect(await tasksOf(created)).toHaveLength(1);
      }
      // Finished: the next due tick fires again.
      await sources[0].query(`UPDATE background_tasks SET status = '${TaskStatus.Completed}' WHERE task_id = ?`, [
        task.task_id,
      ]);
      const after = (await repo.get(created.scheduleId))?.nextRunAt as Date;
      await sleep(Math.max(0, after.getTime() - (await dbNow()).getTime()) + 100);
      const [again] = (await repo.fireDue(PASS)).filter((firing) => firing.scheduleId === created.scheduleId);
      expect(again.taskIds).toHaveLength(1);
      expect((await repo.get(created.scheduleId))?.lastTaskId).toBe(again.taskIds[0]);
    });

    it('a paused schedule fires nothing', async () => {
      const paused = await repo.create(
        { schedule: schedule({ name: unique('paused'), enabled: false }), nextRunAt: null },
        null,
        new Date(),
      );
      await repo.fireDue(PASS);
      expect(await tasksOf(paused)).toEqual([]);
    });

    it('a schedule locked by a scheduler that then dies is skipped meanwhile, and its tick fires once after', async () => {
      const created = await createDue({}, -200);
      const runner = sources[1].createQueryRunner();
      await runner.connect();
      await runner.startTransaction();
      await runner.query(`SELECT id FROM ${SCHEDULES_TABLE} WHERE schedule_id = ? FOR UPDATE`, [created.scheduleId]);
      // The other scheduler skips the locked row instead of waiting for it or firing it.
      const whileLocked = await repo.fireDue(PASS);
      expect(whileLocked.find((firing) => firing.scheduleId === created.scheduleId)).toBeUndefined();
      // The holder dies without committing: its connection is gone, its lock with it.
      const [{ id }] = (await runner.query('SELECT CONNECTION_ID() AS id')) as Array<{ id: number }>;
      await sources[0].query(`KILL ${Number(id)}`);
      await runner.release().catch(() => undefined);
      await sleep(100);
      await repo.fireDue(PASS);
      const ticks = (await tasksOf(created)).map((task) => task.run_at.getTime());
      expect(ticks[0]).toBe((created.nextRunAt as Date).getTime());
      expect(new Set(ticks).size).toBe(ticks.length);
    });
  });
});
