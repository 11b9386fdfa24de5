import {
  ScheduleMissedPolicy,
  ScheduleOverlapPolicy,
  SchedulePage,
  ScheduleResource,
  TaskStatus,
} from '@tasklane/contracts';
import { TasklaneSystem } from './support/tasklane-system';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const GRACE_MS = 1_500;
const quick = { task_name: 'diagnostic.sleep', task_type: 'cleanup', params: { ms: 5 } };
type Errors = { errors: Array<{ field: string }>; field?: string };
const fieldsOf = (body: Errors) => [...new Set((body.errors ?? []).map((error) => error.field))].sort();

interface FiredTask {
  task_id: string;
  status: string;
  run_at: Date;
  created_at: Date;
  started_at: Date | null;
}

/**
 * Cron schedules (issue #13): the gateway keeps them, two status trackers (each running the
 * scheduler) fire their ticks, a worker runs the tasks — separate processes, real RabbitMQ and
 * MariaDB.
 */
describe('cron schedules, end to end', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('schedules', {
      apps: ['api-gateway', 'status-tracker', 'worker-cleanup'],
      env: { SCHEDULER_INTERVAL_MS: '200', SCHEDULE_MISFIRE_GRACE_MS: String(GRACE_MS) },
    });
    await system.startApp('status-tracker', {}, 'b');
  });

  afterAll(async () => {
    await system?.stop();
  });

  const create = (body: Record<string, unknown>) => system.post<ScheduleResource & Errors>('/api/schedules', body);
  const patch = (id: string, body: unknown) =>
    system.request<ScheduleResource & Errors>('PATCH', `/api/schedules/${id}`, body);
  const scheduleRows = async () =>
    Number((await system.query<{ n: number }>('SELECT COUNT(*) AS n FROM task_schedules'))[0].n);
  /** The tasks a schedule enqueued, by tick: its history's `enqueued` event names the schedule. */
  const firedBy = (schedule: ScheduleResource) =>
    system.query<FiredTask>(
      `SELECT t.task_id, t.status, t.run_at, t.created_at, t.started_at FROM background_tasks t
         JOIN background_task_events e ON e.task_id = t.task_id AND e.event = 'enqueued'
        WHERE e.actor = ? ORDER BY t.run_at`,
      [`schedule:${schedule.schedule_id}`],
    );
  const allFinished = async (schedule: ScheduleResource) => {
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const tasks = await firedBy(schedule);
      if (tasks.every((task) => task.status === TaskStatus.Completed)) {
        return tasks;
      }
      await sleep(200);
    }
    throw new Error(`tasks of ${schedule.name} did not all complete`);
  };

  describe('the API', () => {
    it('creates, reads, lists, changes, pauses and deletes a schedule', async () => {
      const created = await create({
        name: 'nightly-stats',
        cron: '0 2 * * *',
        timezone: 'Europe/Paris',
        task_name: 'analytics.task_stats',
        priority: 3,
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        schedule_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        name: 'nightly-stats',
        cron: '0 2 * * *',
        timezone: 'Europe/Paris',
        missed: ScheduleMissedPolicy.FireOnce,
        overlap: ScheduleOverlapPolicy.Allow,
        enabled: true,
        task_name: 'analytics.task_stats',
        task_type: 'analytics',
        params: {},
        priority: 3,
        max_retries: 3,
        last_run_at: null,
        last_task_id: null,
      });
      // 02:00 in Paris is 01:00 UTC in December.
      expect(created.body.next_run_at).toMatch(/T01:00:00\.000Z$/);
      const id = created.body.schedule_id;

      expect(await system.get(`/api/schedules/${id}`)).toMatchObject({ status: 200, body: created.body });
      const upper = await system.get(`/api/schedules/${id.toUpperCase()}`);
      expect(upper.status).toBe(200);

      const paused = await patch(id, { enabled: false });
      expect(paused.status).toBe(200);
      expect(paused.body).toMatchObject({ enabled: false, next_run_at: null, cron: '0 2 * * *', priority: 3 });

      const changed = await patch(id, { enabled: true, cron: '30 6 * * MON', params: { task_type: 'email' } });
      expect(changed.status).toBe(200);
      expect(changed.body).toMatchObject({ enabled: true, cron: '30 6 * * MON', params: { task_type: 'email' } });
      expect(new Date(changed.body.next_run_at as string).getUTCDay()).toBe(1);

      expect((await system.request('DELETE', `/api/schedules/${id}`)).status).toBe(204);
      expect((await system.get(`/api/schedules/${id}`)).status).toBe(404);
      expect((await system.request('DELETE', `/api/schedules/${id}`)).status).toBe(404);
      expect((await patch(id, { enabled: false })).status).toBe(404);
    });

    it('lists by name, a page at a time, the default retention schedule among them', async () => {
      for (const name of ['list-a', 'list-b', 'list-c']) {
        expect((await create({ name, cron: '0 0 1 1 *', ...quick })).status).toBe(201);
      }
      const names: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
        const page = await system.get<SchedulePage>(`/api/schedules?limit=2${query}`);
        expect(page.status).toBe(200);
        expect(page.body.items.length).toBeLessThanOrEqual(2);
        names.push(...page.body.items.map((item) => item.name));
        cursor = page.body.next_cursor;
      } while (cursor !== null);
      expect(names).toEqual([...names].sort());
      expect(names).toEqual(expect.arrayContaining(['cleanup-retention', 'list-a', 'list-b', 'list-c']));
      expect((await system.get<Errors>('/api/schedules?limit=0')).status).toBe(400);
    });

    it('the cleanup retention job is a default schedule an operator can change', async () => {
      const page = await system.get<SchedulePage>('/api/schedules?limit=500');
      const retention = page.body.items.find((item) => item.name === 'cleanup-retention') as ScheduleResource;
      // Test systems pause it (a run crossing 03:00 UTC sees no task it did not enqueue).
      expect(retention).toMatchObject({
        cron: '0 3 * * *',
        timezone: 'UTC',
        task_name: 'cleanup.purge_tasks',
        params: {},
        enabled: false,
      });
      const changed = await patch(retention.schedule_id, {
        cron: '15 4 * * *',
        params: { older_than_days: 7 },
        enabled: true,
      });
      expect(changed.status).toBe(200);
      expect(changed.body).toMatchObject({ cron: '15 4 * * *', params: { older_than_days: 7 }, enabled: true });
      expect(changed.body.next_run_at).toMatch(/T04:15:00\.000Z$/);
      const refused = await patch(retention.schedule_id, { params: { older_than_days: -1 } });
      expect(refused.status).toBe(400);
      expect(fieldsOf(refused.body)).toEqual(['params.older_than_days']);
      expect((await patch(retention.schedule_id, { enabled: false })).status).toBe(200);
    });

    it('refuses bad input with a 400 naming each field, a taken name with a 409, and writes nothing', async () => {
      const before = await scheduleRows();
      const cases: Array<[Record<string, unknown>, string[]]> = [
        [{ name: 'x', cron: '0 25 * * *', ...quick }, ['cron']],
        [{ name: 'x', cron: '', ...quick }, ['cron']],
        [{ name: 'x', cron: '0 3 * * *', timezone: 'Mars/Olympus', ...quick }, ['timezone']],
        [{ name: 'bad name!', cron: '0 3 * * *', ...quick }, ['name']],
        [{ name: 'x', cron: '0 3 * * *', ...quick, params: { ms: 'long' } }, ['params.ms']],
        [{ name: 'x', cron: '0 3 * * *', ...quick, run_at: '2027-01-01T00:00:00Z' }, ['run_at']],
        [{ name: 'x', cron: '0 3 * * *', ...quick, missed: 'later', priority: 0 }, ['missed', 'priority']],
        [{ cron: '0 3 * * *', task_name: 'no.such_task' }, ['name', 'task_name']],
      ];
      for (const [body, fields] of cases) {
        const response = await create(body);
        expect({ body, status: response.status, fields: fieldsOf(response.body) }).toEqual({
          body,
          status: 400,
          fields,
        });
      }
      expect((await create({ name: 'taken', cron: '0 3 * * *', ...quick })).status).toBe(201);
      const taken = await create({ name: 'TAKEN', cron: '0 4 * * *', ...quick });
      expect(taken.status).toBe(409);
      expect(taken.body.field).toBe('name');
      expect(await scheduleRows()).toBe(before + 1);

      const bad = await system.get<Errors>('/api/schedules/not-a-uuid');
      expect(bad.status).toBe(400);
      expect(fieldsOf(bad.body)).toEqual(['schedule_id']);
      const empty = await system.request<Errors>('PATCH', '/api/schedules/0190a0b0-0000-7000-8000-000000000001', {});
      expect(empty.status).toBe(404);
    });

    it('a PATCH that breaks the schedule is a 400 and changes nothing', async () => {
      const created = await create({ name: 'patch-me', cron: '0 5 * * *', ...quick });
      const before = (await system.get<ScheduleResource>(`/api/schedules/${created.body.schedule_id}`)).body;
      for (const [body, fields] of [
        [{ cron: 'every day' }, ['cron']],
        [{}, ['(body)']],
        [{ delay_ms: 10 }, ['delay_ms']],
        [{ enabled: 'no' }, ['enabled']],
        [{ overlap: 'queue' }, ['overlap']],
      ] as const) {
        const response = await patch(created.body.schedule_id, body);
        expect({ body, status: response.status, fields: fieldsOf(response.body) }).toEqual({
          body,
          status: 400,
          fields,
        });
      }
      expect((await system.get(`/api/schedules/${created.body.schedule_id}`)).body).toEqual(before);
    });
  });

  describe('firing', () => {
    it('with two trackers, each tick fires exactly one task, which starts within a second of its tick', async () => {
      const schedule = (await create({ name: 'every-second', cron: '* * * * * *', ...quick })).body;
      await sleep(5_000);
      const paused = await patch(schedule.schedule_id, { enabled: false });
      expect(paused.body.next_run_at).toBeNull();
      await sleep(1_000);
      const tasks = await allFinished(schedule);
      const ticks = tasks.map((task) => task.run_at.getTime());
      expect(tasks.length).toBeGreaterThanOrEqual(4);
      expect(new Set(ticks).size).toBe(ticks.length);
      // One per second, none missing.
      expect(ticks).toEqual(ticks.map((_, index) => ticks[0] + index * 1_000));
      for (const task of tasks) {
        const lag = (task.started_at as Date).getTime() - task.run_at.getTime();
        expect(lag).toBeGreaterThanOrEqual(0);
        expect(lag).toBeLessThan(1_000);
      }
      const after = (await system.get<ScheduleResource>(`/api/schedules/${schedule.schedule_id}`)).body;
      expect(after.last_task_id).toBe(tasks[tasks.length - 1].task_id);
      expect(after.last_run_at).toBe(tasks[tasks.length - 1].run_at.toISOString());
      // Paused: nothing more fires.
      await sleep(1_500);
      expect(await firedBy(schedule)).toHaveLength(tasks.length);
    });

    it('overlap skip: a tick fires nothing while the previous task runs — the tasks never overlap', async () => {
      const slow = { ...quick, params: { ms: 2_200 } };
      const skip = (await create({ name: 'one-at-a-time', cron: '* * * * * *', overlap: 'skip', ...slow })).body;
      const allow = (await create({ name: 'overlapping', cron: '* * * * * *', ...slow })).body;
      await sleep(6_500);
      for (const schedule of [skip, allow]) {
        await patch(schedule.schedule_id, { enabled: false });
      }
      const runs = async (schedule: ScheduleResource) =>
        (
          await system.query<{ started_at: Date; completed_at: Date }>(
            `SELECT t.started_at, t.completed_at FROM background_tasks t
               JOIN background_task_events e ON e.task_id = t.task_id AND e.event = 'enqueued'
              WHERE e.actor = ? ORDER BY t.started_at`,
            [`schedule:${schedule.schedule_id}`],
          )
        ).map((row) => [row.started_at.getTime(), row.completed_at.getTime()]);
      await allFinished(skip);
      await allFinished(allow);
      const one = await runs(skip);
      // About one task per 2.2 s task plus the tick it waits for: 2 or 3 in 6.5 s, never two at once.
      expect(one.length).toBeGreaterThanOrEqual(2);
      expect(one.length).toBeLessThanOrEqual(4);
      for (let index = 1; index < one.length; index += 1) {
        expect(one[index][0]).toBeGreaterThanOrEqual(one[index - 1][1]);
      }
      // The same schedule without it: a task per tick, overlapping.
      const many = await runs(allow);
      expect(many.length).toBeGreaterThanOrEqual(5);
      expect(many.some((run, index) => index > 0 && run[0] < many[index - 1][1])).toBe(true);
      const metrics = await system.opsGet('status-tracker', '/metrics');
      const tracker = await system.opsGet(TasklaneSystem.appKey('status-tracker', 'b'), '/metrics');
      const overlapped = [metrics.body, tracker.body]
        .map((text) => /tasklane_schedule_ticks_total\{outcome="overlapped"[^}]*\} (\d+)/.exec(text)?.[1] ?? '0')
        .reduce((sum, value) => sum + Number(value), 0);
      expect(overlapped).toBeGreaterThanOrEqual(2);
    });

    it('across a restart of every tracker, missed ticks fire once (fire_once) or not at all (skip)', async () => {
      const once = (await create({ name: 'restart-once', cron: '* * * * * *', ...quick })).body;
      const skip = (await create({ name: 'restart-skip', cron: '* * * * * *', missed: 'skip', ...quick })).body;
      await sleep(2_500);
      await Promise.all([system.stopApp('status-tracker'), system.stopApp('status-tracker', 'b')]);
      const down = Date.now();
      await sleep(4_000);
      const up = Date.now();
      await Promise.all([system.startApp('status-tracker'), system.startApp('status-tracker', {}, 'b')]);
      await sleep(2_500);
      for (const schedule of [once, skip]) {
        await patch(schedule.schedule_id, { enabled: false });
      }
      await sleep(500);

      const late = (tasks: FiredTask[]) =>
        tasks.filter((task) => task.created_at.getTime() - task.run_at.getTime() > GRACE_MS);
      const onceTasks = await allFinished(once);
      const skipTasks = await allFinished(skip);
      for (const tasks of [onceTasks, skipTasks]) {
        const ticks = tasks.map((task) => task.run_at.getTime());
        expect(new Set(ticks).size).toBe(ticks.length);
        // Ticks before the outage and after the recovery fired.
        expect(ticks.some((tick) => tick < down)).toBe(true);
        expect(ticks.some((tick) => tick > up)).toBe(true);
      }
      // fire_once: the whole outage is one task, enqueued on recovery for the first missed tick.
      const recovered = late(onceTasks);
      expect(recovered).toHaveLength(1);
      expect(recovered[0].created_at.getTime()).toBeGreaterThanOrEqual(up - 1_000);
      expect(recovered[0].run_at.getTime()).toBeLessThan(up - GRACE_MS);
      // skip: none, and a gap where the outage was.
      expect(late(skipTasks)).toEqual([]);
      const skipTicks = skipTasks.map((task) => task.run_at.getTime());
      const gaps = skipTicks.slice(1).map((tick, index) => tick - skipTicks[index]);
      expect(Math.max(...gaps)).toBeGreaterThan(GRACE_MS + 1_000);
    });
  });
});
