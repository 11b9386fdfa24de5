import { TaskEventPage, TaskHistoryEvent, TaskResource, TaskStatus } from '@tasklane/contracts';
import { waitFor } from '@tasklane/testing';
import { TasklaneSystem } from './support/tasklane-system';

const AGING_AFTER_MS = 1_500;
const AGING_INTERVAL_MS = 250;

type Row = { task_id: string; priority: number; started: string | null; completed: string | null; attempt: number };

const sleepTask = (taskType: string, ms: number, priority = 5) => ({
  task_name: 'diagnostic.sleep',
  task_type: taskType,
  params: { ms },
  priority,
});

/**
 * Fairness (issue #13, ADR 0015): aging under a priority-10 backlog, and per-type concurrency and
 * rate limits holding across two worker replicas — the apps as processes of their own, against the
 * real RabbitMQ and MariaDB.
 */
describe('fairness, end to end', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('fairness', {
      apps: ['api-gateway', 'status-tracker'],
      env: { TASK_AGING_AFTER_MS: String(AGING_AFTER_MS), TASK_AGING_INTERVAL_MS: String(AGING_INTERVAL_MS) },
    });
  });

  afterAll(async () => {
    await system?.stop();
  });

  async function enqueueBatch(tasks: Array<Record<string, unknown>>): Promise<TaskResource[]> {
    const response = await system.post<{ tasks: TaskResource[] }>('/api/tasks/enqueue/batch', { tasks });
    if (response.status !== 201) {
      throw new Error(`batch enqueue answered ${response.status}: ${JSON.stringify(response.body)}`);
    }
    return response.body.tasks;
  }

  async function rowsOf(taskType: string): Promise<Row[]> {
    return system.query<Row>(
      `SELECT task_id, priority, attempt,
              DATE_FORMAT(started_at, '%Y-%m-%dT%H:%i:%s.%fZ') AS started,
              DATE_FORMAT(completed_at, '%Y-%m-%dT%H:%i:%s.%fZ') AS completed
         FROM background_tasks WHERE task_type = ? ORDER BY started_at, id`,
      [taskType],
    );
  }

  async function allCompleted(taskType: string, count: number, timeoutMs = 60_000): Promise<Row[]> {
    return waitFor(
      `${count} ${taskType} tasks to complete`,
      async () => {
        const rows = await rowsOf(taskType);
        return rows.length === count && rows.every((row) => row.completed !== null) ? rows : undefined;
      },
      { timeoutMs, intervalMs: 200 },
    );
  }

  const ms = (iso: string | null): number => Date.parse(iso ?? '');

  /** The most tasks whose [started, completed] intervals overlap at one instant. */
  function maxOverlap(rows: Row[]): number {
    const edges = rows.flatMap((row) => [
      { at: ms(row.started), delta: 1 },
      { at: ms(row.completed), delta: -1 },
    ]);
    edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
    let now = 0;
    let most = 0;
    for (const edge of edges) {
      now += edge.delta;
      most = Math.max(most, now);
    }
    return most;
  }

  it('a priority-1 task behind a priority-10 backlog starts within the aging bound, the backlog still waiting', async () => {
    await system.startApp('worker-report', { WORKER_CONCURRENCY: '1' });
    // 150 priority-10 tasks of 50 ms for one slot: 7.5 s of work queued ahead, far past the bound.
    const flood = await enqueueBatch(Array.from({ length: 150 }, () => sleepTask('report', 50, 10)));
    const low = await enqueueBatch([1, 2, 3].map(() => sleepTask('report', 10, 1)));
    const rows = await allCompleted('report', flood.length + low.length);

    const byId = new Map(rows.map((row) => [row.task_id, row]));
    const floodStarts = flood.map((task) => ms(byId.get(task.task_id)?.started ?? null));
    for (const task of low) {
      const row = byId.get(task.task_id);
      // Ran once, by its first claim: the copy left at priority 1 was dropped when it came.
      expect(row).toMatchObject({ attempt: 1 });
      const waited = ms(row?.started ?? null) - Date.parse(task.created_at);
      // The bound, one aging pass, and the prefetch ahead of it (2 × 50 ms), with room for a busy machine.
      expect(waited).toBeGreaterThanOrEqual(AGING_AFTER_MS);
      expect(waited).toBeLessThan(AGING_AFTER_MS + AGING_INTERVAL_MS + 1_500);
      // Most of the flood was still waiting when it started.
      expect(floodStarts.filter((start) => start > ms(row?.started ?? null)).length).toBeGreaterThan(flood.length / 2);
      const history = await system.get<TaskEventPage>(`/api/tasks/${task.task_id}/events`);
      expect(history.body.items.map((entry) => entry.event)).toEqual([
        TaskHistoryEvent.Enqueued,
        TaskHistoryEvent.Aged,
        TaskHistoryEvent.Started,
        TaskHistoryEvent.Succeeded,
      ]);
    }
    // The top priority never ages.
    const [{ aged }] = await system.query<{ aged: number }>(
      `SELECT COUNT(*) AS aged FROM background_task_events e JOIN background_tasks t ON t.task_id = e.task_id
        WHERE e.event = 'aged' AND t.priority = 10`,
    );
    expect(Number(aged)).toBe(0);
    const metrics = await system.opsGet('status-tracker', '/metrics');
    expect(metrics.body).toMatch(/tasklane_tasks_aged_total\{task_type="report",app="status-tracker"\} 3\b/);
  });

  it('TASK_TYPE_MAX_RUNNING holds across two replicas: never more running at once, and reached', async () => {
    const env = { WORKER_CONCURRENCY: '4', TASK_TYPE_MAX_RUNNING: '2' };
    await system.startApp('worker-analytics', env, 'one');
    await system.startApp('worker-analytics', env, 'two');
    const tasks = await enqueueBatch(Array.from({ length: 16 }, () => sleepTask('analytics', 300)));
    const rows = await allCompleted('analytics', tasks.length);
    expect(maxOverlap(rows)).toBe(2);
    const workers = await system.query<{ worker_id: string }>(
      `SELECT DISTINCT e.worker_id FROM background_task_events e JOIN background_tasks t ON t.task_id = e.task_id
        WHERE t.task_type = 'analytics' AND e.event = '${TaskHistoryEvent.Started}'`,
    );
    expect(workers.length).toBe(2);
    // 16 tasks of 300 ms, two at a time: about 2.4 s, not the 0.6 s eight slots would take.
    const span = ms(rows[rows.length - 1].completed) - ms(rows[0].started);
    expect(span).toBeGreaterThanOrEqual(2_300);
  });

  it('TASK_TYPE_MAX_PER_SECOND holds across two replicas: no second starts more than a burst plus the rate', async () => {
    const env = { WORKER_CONCURRENCY: '4', TASK_TYPE_MAX_PER_SECOND: '4' };
    await system.startApp('worker-cleanup', env, 'one');
    await system.startApp('worker-cleanup', env, 'two');
    const tasks = await enqueueBatch(Array.from({ length: 20 }, () => sleepTask('cleanup', 0)));
    const rows = await allCompleted('cleanup', tasks.length);
    expect(rows.every((row) => row.attempt === 1)).toBe(true);
    const starts = rows.map((row) => ms(row.started)).sort((a, b) => a - b);
    for (const start of starts) {
      // A bucket of 4 and 4 more per second: at most 8 in any second.
      expect(starts.filter((other) => other >= start && other < start + 1_000).length).toBeLessThanOrEqual(8);
    }
    // 20 starts: 4 at once, then 16 at 4 per second — about 4 s, and not much more.
    const span = starts[starts.length - 1] - starts[0];
    expect(span).toBeGreaterThanOrEqual(3_700);
    expect(span).toBeLessThan(8_000);
    const done = await system.get<TaskResource>(`/api/tasks/${tasks[0].task_id}`);
    expect(done.body.status).toBe(TaskStatus.Completed);
  });
});
