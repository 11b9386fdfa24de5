import { TaskType, taskQueueName } from '@tasklane/contracts';
import { waitFor } from '@tasklane/testing';
import { CORE_APPS, FAULT_ENV, REDISPATCHED, faultScenario, logLines, tasksInFlight } from '../support/fault-scenario';
import { startLoad } from '../support/load-generator';
import { sleep } from '../support/shared-services';
import { TasklaneSystem } from '../support/tasklane-system';

const QUEUE = taskQueueName(TaskType.Analytics);

describe('fault: the task queue deleted while the workers consume it', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('fault-n', { apps: [...CORE_APPS, 'worker-analytics'], env: FAULT_ENV });
  });

  afterAll(async () => {
    await system?.stop();
  });

  faultScenario('n. task queue deleted under load while workers consume', async (scenario) => {
    const load = startLoad(system, {
      count: 240,
      concurrency: 4,
      ratePerSecond: 40,
      taskType: TaskType.Analytics,
      sleepMs: [200, 600],
    });
    const worker = system.apps.get('worker-analytics');
    await sleep(2_500);
    await waitFor('a backlog to build up', async () => (await system.queueState(QUEUE)).messageCount > 10, {
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    const inFlight = tasksInFlight(worker);
    // As an operator's `rabbitmqctl delete_queue` does: the queue and its messages go, its consumers are cancelled.
    const channel = await (await system.brokerConnection()).createChannel();
    const { messageCount: deleted } = await channel.deleteQueue(QUEUE);
    await channel.close();
    await load.done;
    await scenario.check(system, { accepted: load.accepted });
    const redispatched = logLines(system.apps.get('status-tracker'), REDISPATCHED).length;
    const cancelled = logLines(worker, 'consumer cancelled by the broker').length;
    scenario.note(
      `queue deleted with ${deleted} commands in it and ${inFlight} tasks running; worker consumer cancelled ${cancelled}×, ` +
        `${redispatched} commands published again`,
    );
    scenario.note(load.summary());
    expect(deleted).toBeGreaterThan(0);
    expect(cancelled).toBeGreaterThan(0);
    expect(redispatched).toBeGreaterThanOrEqual(deleted);
    // The worker consumes the queue declared again.
    expect(await system.consumers(QUEUE)).toBe(1);
  });
});
