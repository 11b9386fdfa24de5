import { TaskType, taskQueueName } from '@tasklane/contracts';
import { waitFor } from '@tasklane/testing';
import { CORE_APPS, FAULT_ENV, REDISPATCHED, faultScenario, logLines } from '../support/fault-scenario';
import { startLoad } from '../support/load-generator';
import { restartRabbitMq, sleep } from '../support/shared-services';
import { TasklaneSystem } from '../support/tasklane-system';

describe("fault: the broker's data wiped (the vhost deleted, the node restarted, the vhost recreated empty)", () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('fault-o', {
      apps: [...CORE_APPS, 'worker-email', 'worker-report'],
      env: FAULT_ENV,
    });
  });

  afterAll(async () => {
    await system.vhost.recreate().catch(() => undefined);
    await system?.stop();
  });

  faultScenario(
    "o. RabbitMQ's data wiped under load (vhost deleted, node restarted, vhost empty)",
    async (scenario) => {
      const load = startLoad(system, {
        count: 240,
        concurrency: 4,
        ratePerSecond: 40,
        taskType: [TaskType.Email, TaskType.Report],
        sleepMs: [200, 600],
      });
      await sleep(2_500);
      await waitFor(
        'a backlog to build up',
        async () => (await system.queueState(taskQueueName(TaskType.Email))).messageCount > 5,
        { timeoutMs: 20_000, intervalMs: 50 },
      );
      const queued = (
        await Promise.all([TaskType.Email, TaskType.Report].map((type) => system.queueState(taskQueueName(type))))
      ).reduce((sum, queue) => sum + queue.messageCount, 0);
      // Everything of the vhost goes: queues, messages, exchanges, bindings.
      await system.vhost.delete();
      const outage = await restartRabbitMq(2_000);
      await system.vhost.recreate();
      await load.done;
      await scenario.check(system, { accepted: load.accepted });
      const redispatched = logLines(system.apps.get('status-tracker'), REDISPATCHED).length;
      scenario.note(
        `${queued} commands queued when the vhost was deleted; broker back after ${Math.round((outage.upAt - outage.downAt) / 1000)} s; ` +
          `${redispatched} commands published again`,
      );
      scenario.note(load.summary());
      expect(queued).toBeGreaterThan(0);
      expect(redispatched).toBeGreaterThanOrEqual(queued);
    },
  );
});
