import { GetMessage } from 'amqplib';
import { TaskCommand, TaskName, TaskStatus, TaskType, brokerPriorityOf, taskQueueName } from '@tasklane/contracts';
import { TaskRepositories, NewTask } from '@tasklane/persistence';
import { takeAll, waitFor } from '@tasklane/testing';
import { TrackerFixture, commandOf, newTask, startTrackerFixture } from '../testing/tracker.fixture';

// Real services (rabbitmqctl, vhost and database set-up) need more than Jest's default 5 s.
jest.setTimeout(60_000);

const ENV = {
  DATABASE_POOL_SIZE: '3',
  SHUTDOWN_GRACE_MS: '2000',
  OUTBOX_RELAY_INTERVAL_MS: '100',
  OUTBOX_RELAY_MIN_AGE_MS: '200',
  RECONCILE_INTERVAL_MS: '100',
  LEASE_EXPIRY_GRACE_MS: '100',
};
const REPORT_QUEUE = taskQueueName(TaskType.Report);
const LEASE_MS = 600_000;

describe('OutboxRelayService (status tracker, RabbitMQ + MariaDB)', () => {
  let tracker: TrackerFixture;
  let tasks: TaskRepositories;
  /** Every command taken off the report queue so far. */
  const commands: GetMessage[] = [];

  async function takeCommands(): Promise<void> {
    commands.push(...(await takeAll(tracker.channel, REPORT_QUEUE)));
  }

  function commandsOf(taskId: string): GetMessage[] {
    return commands.filter((message) => (JSON.parse(message.content.toString()) as TaskCommand).task_id === taskId);
  }

  /** Waits until the relay published (at least) one command of the task; returns it. */
  function relayed(task: NewTask, timeoutMs = 5_000): Promise<GetMessage> {
    return waitFor(
      `the command of task ${task.taskId} in ${REPORT_QUEUE}`,
      async () => {
        await takeCommands();
        return commandsOf(task.taskId)[0];
      },
      { timeoutMs, intervalMs: 20 },
    );
  }

  async function dispatchedAt(taskId: string): Promise<Date | null> {
    const [found] = await tracker.query<{ dispatched_at: Date | null }>(
      'SELECT dispatched_at FROM background_tasks WHERE task_id = ?',
      [taskId],
    );
    return found.dispatched_at;
  }

  beforeAll(async () => {
    tracker = await startTrackerFixture('relay', ENV);
    tasks = tracker.tasks;
  });

  afterAll(async () => {
    await tracker?.close();
  });

  it('publishes a task the gateway never published to its queue within a second, once, and marks it dispatched', async () => {
    const task = newTask({ priority: 9 });
    const inserted = Date.now();
    await tasks.outbox.insertPending(task);

    const message = await relayed(task);
    const elapsed = Date.now() - inserted;
    expect(elapsed).toBeLessThan(1_000);
    // Not before OUTBOX_RELAY_MIN_AGE_MS: the gateway's own publish goes first.
    expect(elapsed).toBeGreaterThanOrEqual(150);

    expect(JSON.parse(message.content.toString())).toEqual(commandOf(task));
    expect(message.fields.routingKey).toBe(TaskType.Report);
    expect(message.properties).toMatchObject({
      messageId: `${task.taskId}.0`,
      priority: brokerPriorityOf(9),
      type: TaskName.DiagnosticSleep,
      deliveryMode: 2,
    });
    await waitFor('dispatched_at to be recorded', async () => (await dispatchedAt(task.taskId)) !== null);
    expect(await tasks.queries.findByTaskId(task.taskId)).toMatchObject({
      status: TaskStatus.Pending,
      startedAt: null,
    });

    // Later runs leave it alone: once a newer task has been relayed, the first still has one copy.
    const later = newTask();
    await tasks.outbox.insertPending(later);
    await relayed(later);
    await takeCommands();
    expect(commandsOf(task.taskId)).toHaveLength(1);
  });

  it('leaves alone tasks recorded as dispatched, cancelled or running', async () => {
    const dispatched = newTask();
    await tasks.outbox.insertPending(dispatched);
    await tasks.outbox.markDispatched([dispatched.taskId], new Date());
    const cancelled = newTask();
    await tasks.outbox.insertPending(cancelled);
    await tasks.control.cancel(cancelled.taskId, new Date());
    const running = newTask();
    await tasks.outbox.insertPending(running);
    expect(await tasks.claims.claim(running.taskId, 0, new Date(), LEASE_MS)).toBe(1);

    // Relays run in insertion order: by the time this one is out, the three above were considered.
    const sentinel = newTask();
    await tasks.outbox.insertPending(sentinel);
    await relayed(sentinel);

    await takeCommands();
    for (const task of [dispatched, cancelled, running]) {
      expect(commandsOf(task.taskId)).toEqual([]);
    }
    expect(await dispatchedAt(cancelled.taskId)).toBeNull();
    expect((await tasks.queries.findByTaskId(cancelled.taskId))?.status).toBe(TaskStatus.Cancelled);
  });

  it('publishes a released claim again, as the same retry', async () => {
    const task = newTask({ maxRetries: 3 });
    await tasks.outbox.insertPending(task);
    await tasks.outbox.markDispatched([task.taskId], new Date());
    const attempt = await tasks.claims.claim(task.taskId, 1, new Date(), LEASE_MS);
    expect(attempt).toBe(1);
    expect(await tasks.claims.releaseClaim(task.taskId, attempt as number)).toBe(true);

    const message = await relayed(task);
    expect(JSON.parse(message.content.toString())).toEqual(commandOf(task, 1));
    expect(message.properties.messageId).toBe(`${task.taskId}.1`);
    await waitFor('dispatched_at to be recorded', async () => (await dispatchedAt(task.taskId)) !== null);
  });
});
