import { TaskResource, TaskType, taskQueueName } from '@tasklane/contracts';
import { CORE_APPS, FAULT_ENV, faultScenario } from '../support/fault-scenario';
import { HttpResponse, TasklaneSystem } from '../support/tasklane-system';

const KEY = 'fault-r-order-42';
const BODY = { task_name: 'diagnostic.sleep', task_type: TaskType.Cleanup, params: { ms: 200 } };

describe('fault: duplicate idempotent requests racing a gateway crash', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('fault-r', { apps: [...CORE_APPS, 'worker-cleanup'], env: FAULT_ENV });
  });

  afterAll(async () => {
    await system?.stop();
  });

  /** One client's request: its answer, or null when it got none (the connection died with the gateway). */
  const send = (): Promise<HttpResponse<TaskResource> | null> =>
    system.request<TaskResource>('POST', '/api/tasks/enqueue', BODY, { 'idempotency-key': KEY }).catch(() => null);

  faultScenario(
    'r. 8 duplicates of one keyed enqueue; the gateway SIGKILLed after its commit; 16 more after restart',
    async (scenario) => {
      // No worker: the queue shows whether anything was published.
      await system.stopApp('worker-cleanup');
      await system.stopApp('api-gateway');
      const crashing = await system.startApp('api-gateway', { TEST_CRASH_AFTER_INSERT: 'true' });
      const queued = (await system.queueState(taskQueueName(TaskType.Cleanup))).messageCount;
      const racing = await Promise.all(Array.from({ length: 8 }, send));
      await crashing.waitForExit();
      system.apps.delete('api-gateway');

      // The first commit killed the gateway: one task and its key, nothing published, no answer.
      const rows = await system.query<{ task_id: string; dispatched_at: Date | null }>(
        'SELECT task_id, dispatched_at FROM background_tasks',
      );
      const keys = await system.query<{ task_id: string }>('SELECT task_id FROM task_idempotency_keys');
      expect(rows).toHaveLength(1);
      // No answer (the gateway died), or — a duplicate that found the key in the moment before the
      // kill landed — 200 with the committed task; never a second task.
      const answered = racing.filter((answer): answer is HttpResponse<TaskResource> => answer !== null);
      expect(answered.map((answer) => [answer.status, answer.body.task_id])).toEqual(
        answered.map(() => [200, rows[0].task_id]),
      );
      expect(rows[0].dispatched_at).toBeNull();
      expect(keys).toEqual([{ task_id: rows[0].task_id }]);
      expect((await system.queueState(taskQueueName(TaskType.Cleanup))).messageCount).toBe(queued);
      const orphan = rows[0].task_id;

      // The clients retry against the restarted gateway: every one gets the committed task.
      await system.startApp('api-gateway');
      await system.startApp('worker-cleanup');
      const retries = await Promise.all(Array.from({ length: 16 }, send));
      const statuses = retries.map((answer) => answer?.status ?? 'no answer');
      expect(statuses).toEqual(Array(16).fill(200));
      const ids = new Set(retries.map((answer) => answer?.body.task_id));
      expect([...ids]).toEqual([orphan]);

      const figures = await scenario.check(system, { accepted: [], committed: [orphan] });
      expect(await system.query('SELECT task_id FROM background_tasks')).toHaveLength(1);
      scenario.note(
        `of the 8 racing requests ${racing.length - answered.length} got no answer (gateway SIGKILLed at its first commit) ` +
          `and ${answered.length} a 200 with the committed task; 1 task and 1 key committed; ` +
          `16 retries after the restart all answered 200 with it; it was relayed from the outbox and ended ` +
          `${figures.rows.get(orphan)?.status}`,
      );
      expect(figures.rows.get(orphan)?.status).toBe('completed');
    },
  );
});
