import { TaskType, taskQueueName } from '@tasklane/contracts';
import { waitFor } from '@tasklane/testing';
import { TasklaneSystem } from './support/tasklane-system';

const LOW = 200;
const HIGH = 10;
const PREFETCH = 2;

describe('priority under a backlog', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('priority', { apps: ['api-gateway', 'status-tracker'] });
  });

  afterAll(async () => {
    await system?.stop();
  });

  it(`runs ${HIGH} priority-10 tasks enqueued after ${LOW} priority-1 tasks within the first ${HIGH} + prefetch completions`, async () => {
    const enqueue = (priority: number) =>
      system.enqueue({ task_name: 'diagnostic.sleep', task_type: 'email', params: { ms: 5 }, priority });
    const low: string[] = [];
    for (let i = 0; i < LOW; i += 20) {
      low.push(...(await Promise.all(Array.from({ length: 20 }, () => enqueue(1)))).map((task) => task.task_id));
    }
    const high = (await Promise.all(Array.from({ length: HIGH }, () => enqueue(10)))).map((task) => task.task_id);
    expect((await system.queueState(taskQueueName(TaskType.Email))).messageCount).toBe(LOW + HIGH);

    await system.startApp('worker-email', { WORKER_CONCURRENCY: String(PREFETCH) });
    await waitFor(
      'every task to complete',
      async () => {
        const [{ n }] = await system.query<{ n: number }>(
          "SELECT COUNT(*) AS n FROM background_tasks WHERE status = 'completed'",
        );
        return Number(n) === LOW + HIGH;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );

    const order = await system.query<{ task_id: string }>(
      'SELECT task_id FROM background_tasks ORDER BY completed_at, id',
    );
    const rankOf = new Map(order.map((row, index) => [row.task_id, index + 1]));
    const highRanks = high.map((taskId) => rankOf.get(taskId) ?? Infinity);
    expect(Math.max(...highRanks)).toBeLessThanOrEqual(HIGH + PREFETCH);
    const lastLow = Math.max(...low.map((taskId) => rankOf.get(taskId) ?? 0));
    expect(lastLow).toBe(LOW + HIGH);
  });
});
