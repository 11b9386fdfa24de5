import { TaskType, taskQueueName } from '@tasklane/contracts';
import { waitFor } from '@tasklane/testing';
import type { ConsumeMessage } from 'amqplib';
import { CORE_APPS, FAULT_ENV, REDISPATCHED, faultScenario, logLines } from '../support/fault-scenario';
import { startLoad } from '../support/load-generator';
import { TasklaneSystem } from '../support/tasklane-system';

const TASKS = 100;
const QUEUE = taskQueueName(TaskType.Report);
const DROPPED = 'task not claimable (cancelled, finished or already claimed); dropped';

describe('fault: commands held back (delayed, not lost) while the tracker publishes them again', () => {
  let system: TasklaneSystem;

  beforeAll(async () => {
    system = await TasklaneSystem.start('fault-m', { apps: [...CORE_APPS], env: FAULT_ENV });
  });

  afterAll(async () => {
    await system?.stop();
  });

  faultScenario('m. originals held unacked, copies published again: each task runs once', async (scenario) => {
    const load = startLoad(system, { count: TASKS, concurrency: 8, taskType: TaskType.Report, sleepMs: [20, 80] });
    await load.done;
    await waitFor('every command to be queued', async () => (await system.queueState(QUEUE)).messageCount === TASKS, {
      timeoutMs: 20_000,
    });
    // Every command out for longer than the empty-queue bound: the tracker's next pass with an
    // empty queue sends all of them again at once (while the queue holds them, it sends none).
    await new Promise((resolve) => setTimeout(resolve, Number(FAULT_ENV.REDISPATCH_EMPTY_QUEUE_AFTER_MS) + 500));

    // A stuck consumer takes every original and never acks: the queue looks empty, nothing is lost.
    // Its prefetch is the number of tasks, and it stops consuming once it holds them all, so no
    // copy reaches it.
    const channel = await (await system.brokerConnection()).createChannel();
    await channel.prefetch(TASKS);
    const held: ConsumeMessage[] = [];
    await channel.consume(
      QUEUE,
      (message) => {
        if (message && held.push(message) === TASKS) {
          channel.cancel(message.fields.consumerTag).catch(() => undefined);
        }
      },
      { noAck: false },
    );
    await waitFor('the originals to be held', () => held.length === TASKS, { timeoutMs: 10_000 });

    // The tracker sees the empty queue and publishes copies of every command.
    await waitFor('the copies to be queued', async () => (await system.queueState(QUEUE)).messageCount >= TASKS, {
      timeoutMs: 20_000,
    });
    const worker = await system.startApp('worker-report');
    await waitFor(
      'the copies to run',
      async () =>
        Number(
          (
            await system.query<{ n: number }>(`SELECT COUNT(*) AS n FROM background_tasks WHERE status = 'completed'`)
          )[0].n,
        ) === TASKS,
      { timeoutMs: 60_000 },
    );
    // The originals come back (their consumer goes away) and reach the worker: dropped at the claim.
    await channel.close();
    await waitFor('the originals to be dropped', () => logLines(worker, DROPPED).length >= TASKS, {
      timeoutMs: 30_000,
    });
    await scenario.check(system, { accepted: load.accepted });
    const redispatched = logLines(system.apps.get('status-tracker'), REDISPATCHED).length;
    scenario.note(
      `${held.length} originals held unacked, ${redispatched} copies published; ${logLines(worker, DROPPED).length} deliveries dropped at the claim`,
    );
    expect(redispatched).toBeGreaterThanOrEqual(TASKS);
  });
});
