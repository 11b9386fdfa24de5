import { Registry } from 'prom-client';
import { TaskCommand, TaskType, taskQueueName } from '@tasklane/contracts';
import { NewTask } from '@tasklane/persistence';
import { jsonBodies, takeAll, waitFor } from '@tasklane/testing';
import { TrackerFixture, newTask, startTrackerFixture } from '../testing/tracker.fixture';
import { RedispatchService } from './redispatch.service';

jest.setTimeout(60_000);

const ENV = {
  DATABASE_POOL_SIZE: '3',
  SHUTDOWN_GRACE_MS: '2000',
  // The test runs the sweeps itself (RedispatchService.sweep), so that each sees a known state.
  REDISPATCH_INTERVAL_MS: '600000',
  REDISPATCH_EMPTY_QUEUE_AFTER_MS: '1000',
  REDISPATCH_AFTER_MS: '10000',
};
const TYPE = TaskType.Email;
const QUEUE = taskQueueName(TYPE);

describe('RedispatchService (status tracker, RabbitMQ + MariaDB)', () => {
  let tracker: TrackerFixture;

  /** Commands taken off the email queue (acked) until it is empty. */
  async function drain(): Promise<TaskCommand[]> {
    return jsonBodies<TaskCommand>(await takeAll(tracker.channel, QUEUE));
  }

  /** Pending tasks whose command the broker confirmed a minute ago (their message is not in the queue). */
  async function confirmedLongAgo(count: number): Promise<NewTask[]> {
    const created = Array.from({ length: count }, () => newTask({ taskType: TYPE, priority: 6 }));
    await tracker.tasks.outbox.insertPendingBatch(created);
    await tracker.query(
      `UPDATE background_tasks SET dispatched_at = DATE_SUB(UTC_TIMESTAMP(3), INTERVAL 1 MINUTE)
          WHERE task_id IN (${created.map(() => '?').join(', ')})`,
      created.map((task) => task.taskId),
    );
    return created;
  }

  async function metric(reason: string): Promise<number> {
    const values =
      (await tracker.app.get(Registry).getSingleMetric('tasklane_tasks_redispatched_total')?.get())?.values ?? [];
    return values
      .filter((value) => value.labels['task_type'] === TYPE && value.labels['reason'] === reason)
      .reduce((sum, value) => sum + value.value, 0);
  }

  function sweep(): Promise<void> {
    return tracker.app.get(RedispatchService).sweep();
  }

  beforeAll(async () => {
    tracker = await startTrackerFixture('redispatch', ENV, ['error']);
  });

  afterEach(async () => {
    // No pending task left for the next test to see published again.
    await tracker.query('DELETE FROM background_tasks');
    await drain();
  });

  afterAll(async () => {
    await tracker?.close();
  });

  it('publishes again, once, the commands of pending tasks confirmed long ago when their queue is empty', async () => {
    const before = await metric('queue_empty');
    const stranded = await confirmedLongAgo(30);
    await sweep();
    expect((await tracker.channel.checkQueue(QUEUE)).messageCount).toBe(30);
    // Left in the queue: not published a second time (the queue is not empty any more).
    await sweep();
    await sweep();
    const commands = await drain();
    expect(commands.map((command) => command.task_id).sort()).toEqual(stranded.map((task) => task.taskId).sort());
    expect(commands.every((command) => command.priority === 6 && command.retry_count === 0)).toBe(true);
    expect((await metric('queue_empty')) - before).toBe(30);
  });

  it('leaves tasks alone while their messages wait in the queue (a backlog with no consumer)', async () => {
    const backlog = await confirmedLongAgo(5);
    // Their commands are in the queue, as after a normal enqueue.
    for (const task of backlog) {
      tracker.channel.sendToQueue(QUEUE, Buffer.from(JSON.stringify({ task_id: task.taskId })), { persistent: true });
    }
    await waitFor('the backlog to be queued', async () => (await tracker.channel.checkQueue(QUEUE)).messageCount === 5);
    await sweep();
    await sweep();
    expect((await tracker.channel.checkQueue(QUEUE)).messageCount).toBe(5);
    await drain();
    // Once the queue is found empty, they go out again.
    await sweep();
    expect((await tracker.channel.checkQueue(QUEUE)).messageCount).toBe(5);
  });

  it('declares a deleted task queue again and fills it with the commands it held', async () => {
    const stranded = await confirmedLongAgo(3);
    await tracker.channel.deleteQueue(QUEUE);
    await waitFor(
      'the queue to be back with the stranded commands',
      async () => {
        await sweep();
        const probe = await tracker.broker.createChannel();
        probe.on('error', () => undefined);
        try {
          return (await probe.checkQueue(QUEUE)).messageCount === 3;
        } catch {
          return false;
        } finally {
          await probe.close().catch(() => undefined);
        }
      },
      { timeoutMs: 15_000 },
    );
    expect((await drain()).map((command) => command.task_id).sort()).toEqual(
      stranded.map((task) => task.taskId).sort(),
    );
  });
});
