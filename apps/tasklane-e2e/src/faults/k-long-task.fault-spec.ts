import { TaskType, taskQueueName } from '@tasklane/contracts';
import { CORE_APPS, FAULT_ENV, ScenarioContext, faultScenario, logLines } from '../support/fault-scenario';
import { lowerConsumerTimeout, sleep } from '../support/shared-services';
import { TasklaneSystem } from '../support/tasklane-system';

const CONSUMER_TIMEOUT_MS = 3_000;
const LEASE_MS = 1_500;
const LONG_TASK_MS = 8_000;
const PROBE_QUEUE = 'faults.consumer-timeout-probe';

/**
 * A control: a consumer that holds a delivery without acknowledging it is cut off by the broker
 * within a few seconds — proof that the lowered consumer_timeout is in force for this test.
 */
async function consumerTimeoutFires(system: TasklaneSystem): Promise<string> {
  const channel = await (await system.brokerConnection()).createChannel();
  const closed = new Promise<string>((resolve) => {
    channel.on('error', (error: Error) => resolve(error.message));
    channel.on('close', () => resolve('closed without an error'));
  });
  await channel.assertQueue(PROBE_QUEUE, { durable: false });
  channel.sendToQueue(PROBE_QUEUE, Buffer.from('hold me'));
  await channel.consume(PROBE_QUEUE, () => undefined, { noAck: false });
  const timeout = sleep(CONSUMER_TIMEOUT_MS * 4).then(() => 'still open');
  const outcome = await Promise.race([closed, timeout]);
  await channel.close().catch(() => undefined);
  return outcome;
}

interface LongTaskCase {
  label: string;
  /** The worker's WORKER_CONCURRENCY. */
  concurrency: number;
  /**
   * Enqueue the short tasks right after the long one started (with one slot, they wait behind
   * it, longer than the consumer timeout), instead of once the consumer timeout has passed.
   */
  queueBehind: boolean;
}

describe("fault: a task longer than its lease and than RabbitMQ's consumer_timeout", () => {
  const systems: TasklaneSystem[] = [];

  afterAll(async () => {
    await Promise.all(systems.map((system) => system.stop()));
  });

  const longTask = ({ label, concurrency, queueBehind }: LongTaskCase) =>
    async function (scenario: ScenarioContext): Promise<void> {
      // Channels read consumer_timeout when they open: lower it before the apps start.
      const broker = await lowerConsumerTimeout(CONSUMER_TIMEOUT_MS);
      let system: TasklaneSystem;
      let control: string;
      let longId: string;
      const short: string[] = [];
      try {
        system = await TasklaneSystem.start(label, {
          apps: [...CORE_APPS],
          // Deliveries waiting for the worker's slot go back to the broker before its timeout.
          env: { ...FAULT_ENV, TASK_LEASE_MS: String(LEASE_MS), DELIVERY_MAX_WAIT_MS: String(CONSUMER_TIMEOUT_MS / 2) },
        });
        systems.push(system);
        await system.startApp('worker-report', { WORKER_CONCURRENCY: String(concurrency) });
        const controlling = consumerTimeoutFires(system);
        const enqueue = async (ms: number): Promise<string> =>
          (await system.enqueue({ task_name: 'diagnostic.sleep', task_type: 'report', params: { ms } })).task_id;
        longId = await enqueue(LONG_TASK_MS);
        await system.waitForTask(longId, (task) => task.status === 'running');
        // Then three short tasks: past the consumer timeout (and several leases), or at once.
        await sleep(queueBehind ? 200 : CONSUMER_TIMEOUT_MS + 2_000);
        for (let i = 0; i < 3; i += 1) {
          short.push(await enqueue(100));
        }
        await system.waitForTask(longId, (task) => task.status === 'completed', LONG_TASK_MS * 3);
        control = await controlling;
      } finally {
        await broker.restore();
      }
      const figures = await scenario.check(system, { accepted: [longId, ...short], timeoutMs: 30_000 });
      const consumers = await system.consumers(taskQueueName(TaskType.Report));
      const channelErrors = logLines(system.apps.get('worker-report'), 'channel error');
      scenario.note(
        `${LONG_TASK_MS / 1000} s task, lease ${LEASE_MS} ms, consumer_timeout ${CONSUMER_TIMEOUT_MS} ms ` +
          `(control consumer cut off: ${/PRECONDITION_FAILED/.test(control) ? 'yes' : control}), ` +
          `WORKER_CONCURRENCY ${concurrency}, 3 short tasks ${queueBehind ? 'queued behind it' : 'enqueued after the timeout'}; ` +
          `long task executed ${figures.executions.get(longId)?.length ?? 0}×, ${figures.rows.get(longId)?.status} ` +
          `at attempt ${figures.rows.get(longId)?.attempt}; worker channel errors: ${channelErrors.length}` +
          `${channelErrors.length > 0 ? ` (${/PRECONDITION_FAILED[^"\\]*/.exec(channelErrors[0])?.[0] ?? 'see log'})` : ''}; ` +
          `consumers on its queue afterwards: ${consumers}`,
      );
      expect(control).toMatch(/PRECONDITION_FAILED - delivery acknowledgement on channel \d+ timed out/);
      expect(figures.rows.get(longId)).toMatchObject({ status: 'completed', attempt: 1 });
      expect(channelErrors).toEqual([]);
      expect(consumers).toBe(1);
    };

  faultScenario(
    'k. task longer than the lease and the consumer_timeout',
    longTask({ label: 'fault-k', concurrency: 4, queueBehind: false }),
  );

  faultScenario(
    'k2. same, with tasks queued behind it for its only worker slot',
    longTask({ label: 'fault-k2', concurrency: 1, queueBehind: true }),
  );
});
