import { TaskType, taskQueueName } from '@tasklane/contracts';
import { waitFor } from '@tasklane/testing';
import { CORE_APPS, FAULT_ENV, REDISPATCHED, faultScenario, logLines } from '../support/fault-scenario';
import { startLoad } from '../support/load-generator';
import { TasklaneSystem } from '../support/tasklane-system';

const BACKLOG = 200;
const QUEUE = taskQueueName(TaskType.Email);

describe('fault: the task queue purged with a confirmed backlog', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    // No worker yet: the backlog stays in the queue.
    system = await TasklaneSystem.start('fault-l', { apps: [...CORE_APPS], env: FAULT_ENV });
  });

  afterAll(async () => {
    await system?.stop();
  });

  faultScenario('l. task queue purged with a confirmed backlog, then the workers start', async (scenario) => {
    const load = startLoad(system, { count: BACKLOG, concurrency: 8, taskType: TaskType.Email, sleepMs: [20, 80] });
    await load.done;
    // Every command confirmed by RabbitMQ and recorded as dispatched: the database thinks they are queued.
    await waitFor(
      'every task to be recorded as dispatched',
      async () =>
        Number(
          (
            await system.query<{ n: number }>(
              `SELECT COUNT(*) AS n FROM background_tasks WHERE status = 'pending' AND dispatched_at IS NOT NULL`,
            )
          )[0].n,
        ) === BACKLOG,
      { timeoutMs: 20_000 },
    );
    expect((await system.queueState(QUEUE)).messageCount).toBe(BACKLOG);

    // As `rabbitmqctl purge_queue` does: every queued command is gone.
    const channel = await (await system.brokerConnection()).createChannel();
    const { messageCount: purged } = await channel.purgeQueue(QUEUE);
    await channel.close();
    expect(purged).toBe(BACKLOG);

    await system.startApp('worker-email');
    await scenario.check(system, { accepted: load.accepted });
    const redispatched = logLines(system.apps.get('status-tracker'), REDISPATCHED).length;
    scenario.note(`${purged} confirmed commands purged; ${redispatched} published again by the tracker`);
    scenario.note(load.summary());
    expect(redispatched).toBeGreaterThanOrEqual(BACKLOG);
  });
});
