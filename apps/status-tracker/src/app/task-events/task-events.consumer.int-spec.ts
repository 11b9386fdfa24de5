import { Channel, ChannelModel, GetMessage } from 'amqplib';
import { Connection as MysqlConnection, createConnection } from 'mysql2/promise';
import { DeadLetterHeader, Exchange, Queue, TaskEvent, TaskEventType, TaskStatus } from '@tasklane/contracts';
import { TaskMessagePublisher } from '@tasklane/messaging';
import { BackgroundTask, TaskRepositories, NewTask } from '@tasklane/persistence';
import { readTask } from '@tasklane/persistence/testing';
import { TestDatabase, TestVhost, takeAll, waitFor } from '@tasklane/testing';
import { TrackerFixture, newTask as fixtureTask, startTrackerFixture } from '../testing/tracker.fixture';

// Real services (rabbitmqctl, vhost and database set-up) need more than Jest's default 5 s.
jest.setTimeout(60_000);

const ENV = {
  DATABASE_POOL_SIZE: '2',
  SHUTDOWN_GRACE_MS: '5000',
  // Long enough that events published together land in one batch (one transaction).
  TRACKER_FLUSH_INTERVAL_MS: '100',
  // The outbox relay and the lease reconciler have their own spec (maintenance/).
  OUTBOX_RELAY_INTERVAL_MS: '600000',
  RECONCILE_INTERVAL_MS: '600000',
};

/** Claims here never expire while the file runs (the reconciler is kept out of the way anyway). */
const LEASE_MS = 600_000;

function newTask(): NewTask {
  return fixtureTask({
    priority: 4,
    maxRetries: 2,
    timeoutMs: 60_000,
    createdAt: new Date('2025-06-01T10:00:00.000Z'),
  });
}

/** An event of the claim `attempt` (as the worker that claimed the task would publish it). */
function event(
  task: NewTask,
  type: TaskEventType,
  attempt: number,
  extra: Record<string, unknown> = {},
  occurredAt = '2025-06-01T10:00:01.250Z',
): TaskEvent {
  return {
    event: type,
    task_id: task.taskId,
    task_name: task.taskName,
    task_type: task.taskType,
    retry_count: 0,
    attempt,
    occurred_at: occurredAt,
    ...extra,
  } as TaskEvent;
}

describe('TaskEventsConsumer (status tracker, RabbitMQ + MariaDB)', () => {
  let tracker: TrackerFixture;
  let vhost: TestVhost;
  let db: TestDatabase;
  let tasks: TaskRepositories;
  let messages: TaskMessagePublisher;
  let broker: ChannelModel;
  let channel: Channel;

  /** Every event published so far has been written (or dead-lettered) and acked. */
  async function drained(): Promise<void> {
    await waitFor(
      'the tracker queue to be drained',
      async () => {
        const counts = await vhost.queueCounts(Queue.StatusTracker);
        return counts.ready === 0 && counts.unacked === 0;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
  }

  function row(taskId: string): Promise<BackgroundTask> {
    return readTask(tasks.queries, taskId);
  }

  /** Claims retry `retryCount` as a worker would; returns the claim's generation (`attempt`). */
  async function claim(task: NewTask, retryCount = 0, startedAt = new Date('2025-06-01T10:00:01.000Z')) {
    const attempt = await tasks.claims.claim(task.taskId, retryCount, startedAt, LEASE_MS);
    if (attempt === null) {
      throw new Error(`task ${task.taskId} could not be claimed`);
    }
    return attempt;
  }

  /** Inserts a task and claims its first run. */
  async function claimedTask(startedAt?: Date): Promise<{ task: NewTask; attempt: number }> {
    const task = newTask();
    await tasks.outbox.insertPending(task);
    return { task, attempt: await claim(task, 0, startedAt) };
  }

  function rowWhere(
    task: NewTask,
    description: string,
    check: (row: BackgroundTask) => boolean,
  ): Promise<BackgroundTask> {
    return waitFor(`task ${task.taskId} ${description}`, async () => {
      const current = await row(task.taskId);
      return check(current) ? current : false;
    });
  }

  function deadLetters(): Promise<GetMessage[]> {
    return takeAll(channel, Queue.DeadLetter);
  }

  async function publishRaw(routingKey: string, body: string, messageId: string): Promise<void> {
    const confirm = await broker.createConfirmChannel();
    try {
      confirm.publish(Exchange.Events, routingKey, Buffer.from(body), { persistent: true, messageId });
      await confirm.waitForConfirms();
    } finally {
      await confirm.close();
    }
  }

  beforeAll(async () => {
    tracker = await startTrackerFixture('events', ENV);
    ({ vhost, db, tasks, broker, channel } = tracker);
    messages = tracker.app.get(TaskMessagePublisher);
  });

  afterAll(async () => {
    await tracker?.close();
  });

  it('completes a claimed task on started then succeeded, with its result', async () => {
    const { task, attempt } = await claimedTask(new Date('2025-06-01T10:00:01.250Z'));

    await messages.publishEvent(event(task, TaskEventType.Started, attempt, {}, '2025-06-01T10:00:01.250Z'));
    await messages.publishEvent(
      event(
        task,
        TaskEventType.Succeeded,
        attempt,
        { result: { rows: 3, file: 'out.csv' } },
        '2025-06-01T10:00:02.750Z',
      ),
    );

    const done = await rowWhere(task, 'completed', (current) => current.status === TaskStatus.Completed);
    expect(done).toMatchObject({
      status: TaskStatus.Completed,
      result: { rows: 3, file: 'out.csv' },
      errorMessage: null,
      retryCount: 0,
      startedAt: new Date('2025-06-01T10:00:01.250Z'),
      completedAt: new Date('2025-06-01T10:00:02.750Z'),
    });
  });

  it('ends completed, never moved backwards, when events arrive duplicated and reordered', async () => {
    // As in production, the worker claims the task before it publishes any event.
    const { task: claimed, attempt } = await claimedTask(new Date('2025-06-01T10:00:01.000Z'));
    // And one whose first claim was handed back (worker shut down) and claimed again: the events of
    // the lost claim are mixed in, and ignored.
    const reclaimed = newTask();
    await tasks.outbox.insertPending(reclaimed);
    const lost = await claim(reclaimed);
    expect(await tasks.claims.releaseClaim(reclaimed.taskId, lost)).toBe(true);
    const current = await claim(reclaimed, 0, new Date('2025-06-01T10:00:02.000Z'));

    const events = (task: NewTask, generation: number, result: unknown) => {
      const succeeded = event(task, TaskEventType.Succeeded, generation, { result }, '2025-06-01T10:00:03.000Z');
      const started = event(task, TaskEventType.Started, generation, {}, '2025-06-01T10:00:01.000Z');
      return [
        succeeded,
        started,
        started,
        succeeded,
        event(task, TaskEventType.Started, generation, {}, '2025-06-01T10:00:09.000Z'),
      ];
    };
    // Separate publishes, so most land in separate deliveries and likely separate batches.
    for (const message of [
      ...events(claimed, attempt, { ok: true }),
      ...events(reclaimed, lost, { from: 'the lost claim' }),
      ...events(reclaimed, current, { from: 'the current claim' }),
      event(reclaimed, TaskEventType.Failed, lost, { error_message: 'late' }),
    ]) {
      await messages.publishEvent(message);
    }

    await drained();
    expect(await row(claimed.taskId)).toMatchObject({
      status: TaskStatus.Completed,
      result: { ok: true },
      retryCount: 0,
      startedAt: new Date('2025-06-01T10:00:01.000Z'),
      completedAt: new Date('2025-06-01T10:00:03.000Z'),
    });
    expect(await row(reclaimed.taskId)).toMatchObject({
      status: TaskStatus.Completed,
      result: { from: 'the current claim' },
      errorMessage: null,
      retryCount: 0,
      startedAt: new Date('2025-06-01T10:00:02.000Z'),
      completedAt: new Date('2025-06-01T10:00:03.000Z'),
    });
  });

  it('follows a retry through to failure', async () => {
    const task = newTask();
    await tasks.outbox.insertPending(task);
    const retry = (retryCount: number) => ({ retry_count: retryCount });

    // Each retry is claimed by a worker (a new generation) before it publishes its events.
    const first = await claim(task, 0);
    await messages.publishEvent(event(task, TaskEventType.Started, first, retry(0)));
    await messages.publishEvent(
      event(task, TaskEventType.Retrying, first, { ...retry(0), error_message: 'first', delay_ms: 1000 }),
    );
    const second = await claim(task, 1);
    await messages.publishEvent(event(task, TaskEventType.Started, second, retry(1)));
    await messages.publishEvent(
      event(task, TaskEventType.Retrying, second, { ...retry(1), error_message: 'second', delay_ms: 1000 }),
    );
    // A duplicate of the first retry arrives late: ignored.
    await messages.publishEvent(
      event(task, TaskEventType.Retrying, first, { ...retry(0), error_message: 'first', delay_ms: 1000 }),
    );
    const third = await claim(task, 2);
    await messages.publishEvent(event(task, TaskEventType.Started, third, retry(2)));
    await messages.publishEvent(
      event(
        task,
        TaskEventType.Failed,
        third,
        { ...retry(2), error_message: 'third and last' },
        '2025-06-01T10:00:05.500Z',
      ),
    );

    await drained();
    expect(await row(task.taskId)).toMatchObject({
      status: TaskStatus.Failed,
      retryCount: 2,
      errorMessage: 'third and last',
      completedAt: new Date('2025-06-01T10:00:05.500Z'),
    });
  });

  it('dead-letters a malformed event with the reason, without blocking the events after it', async () => {
    await deadLetters(); // start from an empty dead-letter queue
    const { task, attempt } = await claimedTask();
    // An event without the claim's generation (as a worker of before migration 003 would send).
    const withoutAttempt: Record<string, unknown> = {
      ...event(task, TaskEventType.Succeeded, attempt, { result: 'old' }),
    };
    delete withoutAttempt['attempt'];

    await publishRaw('task.started', 'this is {not json', 'malformed-1');
    await publishRaw('task.started', JSON.stringify({ task_id: task.taskId, event: 'exploded' }), 'malformed-2');
    await publishRaw('task.succeeded', JSON.stringify(withoutAttempt), 'malformed-3');
    await messages.publishEvent(event(task, TaskEventType.Started, attempt));
    await messages.publishEvent(event(task, TaskEventType.Succeeded, attempt, { result: 'fine' }));

    await rowWhere(task, 'completed', (current) => current.status === TaskStatus.Completed);
    expect((await row(task.taskId)).result).toBe('fine');

    await drained();
    const parked = await deadLetters();
    expect(parked).toHaveLength(3);
    const byId = new Map(parked.map((message) => [message.properties.messageId as string, message]));
    const first = byId.get('malformed-1');
    expect(first?.content.toString()).toBe('this is {not json');
    expect(first?.properties.headers).toMatchObject({
      [DeadLetterHeader.Reason]: 'message body is not valid JSON',
      [DeadLetterHeader.SourceQueue]: Queue.StatusTracker,
    });
    expect(first?.properties.deliveryMode).toBe(2);
    expect(byId.get('malformed-2')?.properties.headers?.[DeadLetterHeader.Reason]).toBe('unknown event "exploded"');
    expect(byId.get('malformed-3')?.properties.headers?.[DeadLetterHeader.Reason]).toBe(
      'attempt must be a positive integer',
    );
  });

  it('dead-letters an event the database refuses, and still writes the rest of its batch', async () => {
    await deadLetters();
    const { task: good, attempt: goodAttempt } = await claimedTask();
    const { task: bad, attempt: badAttempt } = await claimedTask();

    // error_message is TEXT: 70 000 characters are refused (strict mode). Published together,
    // the three events form one batch whose transaction fails; the tracker then writes them one by one.
    await Promise.all([
      messages.publishEvent(event(good, TaskEventType.Started, goodAttempt)),
      messages.publishEvent(event(bad, TaskEventType.Failed, badAttempt, { error_message: 'x'.repeat(70_000) })),
      messages.publishEvent(event(good, TaskEventType.Succeeded, goodAttempt, { result: 1 })),
    ]);

    await drained();
    expect(await row(good.taskId)).toMatchObject({ status: TaskStatus.Completed, result: 1 });
    expect(await row(bad.taskId)).toMatchObject({ status: TaskStatus.Running, errorMessage: null });
    const parked = await deadLetters();
    expect(parked).toHaveLength(1);
    expect(parked[0].properties.messageId).toBe(`${bad.taskId}.0.failed`);
    expect(String(parked[0].properties.headers?.[DeadLetterHeader.Reason])).toMatch(
      /^database refused the event: .*Data too long/,
    );
  });

  it('writes every event of a message carrying several (published together), then acks it', async () => {
    const first = await claimedTask();
    const second = await claimedTask();

    await publishRaw(
      'task.succeeded',
      JSON.stringify([
        event(first.task, TaskEventType.Succeeded, first.attempt, { result: 'first' }),
        event(second.task, TaskEventType.Succeeded, second.attempt, { result: 'second' }),
      ]),
      'together-1',
    );

    await drained();
    expect(await row(first.task.taskId)).toMatchObject({ status: TaskStatus.Completed, result: 'first' });
    expect(await row(second.task.taskId)).toMatchObject({ status: TaskStatus.Completed, result: 'second' });
  });

  it('parks a message with a malformed event among several, and still writes its well-formed ones', async () => {
    await deadLetters();
    const { task, attempt } = await claimedTask();
    const body = JSON.stringify([
      event(task, TaskEventType.Succeeded, attempt, { result: 'kept' }),
      { task_id: task.taskId, event: 'exploded' },
    ]);

    await publishRaw('task.succeeded', body, 'mixed-1');

    await drained();
    expect(await row(task.taskId)).toMatchObject({ status: TaskStatus.Completed, result: 'kept' });
    const parked = await deadLetters();
    expect(parked).toHaveLength(1);
    expect(parked[0].content.toString()).toBe(body);
    expect(parked[0].properties.messageId).toBe('mixed-1');
    expect(parked[0].properties.headers?.[DeadLetterHeader.Reason]).toBe('event 1: unknown event "exploded"');
  });

  it('dead-letters alone an event the database refuses out of a message carrying several', async () => {
    await deadLetters();
    const good = await claimedTask();
    const bad = await claimedTask();
    const refused = event(bad.task, TaskEventType.Failed, bad.attempt, { error_message: 'x'.repeat(70_000) });

    await publishRaw(
      'task.failed',
      JSON.stringify([event(good.task, TaskEventType.Failed, good.attempt, { error_message: 'short' }), refused]),
      'refused-together',
    );

    await drained();
    expect(await row(good.task.taskId)).toMatchObject({ status: TaskStatus.Failed, errorMessage: 'short' });
    expect(await row(bad.task.taskId)).toMatchObject({ status: TaskStatus.Running, errorMessage: null });
    const parked = await deadLetters();
    expect(parked).toHaveLength(1);
    expect(parked[0].properties.messageId).toBe(`${bad.task.taskId}.0.failed`);
    expect(JSON.parse(parked[0].content.toString())).toEqual(refused);
  });

  it('acks an event only after its transaction committed', async () => {
    const { task, attempt } = await claimedTask();

    // Hold the row's lock from another session: the tracker's UPDATE waits on it.
    const blocker: MysqlConnection = await createConnection(db.url);
    try {
      await blocker.beginTransaction();
      await blocker.query('SELECT id FROM background_tasks WHERE task_id = ? FOR UPDATE', [task.taskId]);

      await messages.publishEvent(event(task, TaskEventType.Succeeded, attempt, { result: 'held' }));
      await waitFor(
        'the event to be delivered and held unacked',
        async () => {
          const counts = await vhost.queueCounts(Queue.StatusTracker);
          return counts.ready === 0 && counts.unacked === 1;
        },
        { timeoutMs: 10_000, intervalMs: 200 },
      );
      // Still unacked a moment later, and nothing written.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await vhost.queueCounts(Queue.StatusTracker)).toEqual({ ready: 0, unacked: 1 });
      expect((await row(task.taskId)).status).toBe(TaskStatus.Running);

      await blocker.commit();
    } finally {
      await blocker.end();
    }

    await rowWhere(task, 'completed', (current) => current.status === TaskStatus.Completed);
    expect((await row(task.taskId)).result).toBe('held');
    await drained();
  });

  it('leaves nothing in the tracker queue after shutting down', async () => {
    await drained();
    await tracker.closeApp();

    // Anything unacked would have been handed back to the queue when the app's connection closed.
    const queue = await channel.checkQueue(Queue.StatusTracker);
    expect(queue).toMatchObject({ messageCount: 0, consumerCount: 0 });
  });
});
